"""The ``home-assistant-intents`` templates as an intents :class:`Domain`.

Home Assistant fills the ``{name}``, ``{area}`` and ``{floor}`` lists at run time from
the user's devices; this module supplies a small fixed set of device / room names for
the languages in :data:`ENTITY_NAMES` so the templates can be expanded and matched.
Templates with wildcard lists (free text such as a shopping-list item) are left out.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from hassil.intents import Intents, TextSlotList
from hassil.parse_expression import parse_sentence

from .corpus import Domain, IntentMeta, LanguageData, Template, template_slot_lists

# (domain, name) per language; plus rooms and floors.
ENTITY_NAMES: dict[str, dict[str, Any]] = {
    "en": {"names": [("light", "ceiling light"), ("light", "desk lamp"), ("media_player", "tv"),
                     ("media_player", "kitchen speaker"), ("cover", "garage door"), ("cover", "blinds"),
                     ("lock", "front door"), ("switch", "coffee maker"), ("fan", "ceiling fan"),
                     ("climate", "thermostat"), ("vacuum", "robot vacuum"), ("scene", "movie night"),
                     ("sensor", "outside temperature"), ("valve", "water valve"), ("lawn_mower", "lawn mower"),
                     ("binary_sensor", "back door sensor")],
           "areas": ["kitchen", "living room", "bedroom", "office"], "floors": ["ground floor", "upstairs"]},
    "de": {"names": [("light", "deckenlampe"), ("light", "schreibtischlampe"), ("media_player", "fernseher"),
                     ("media_player", "küchenlautsprecher"), ("cover", "garagentor"), ("cover", "rollladen"),
                     ("lock", "haustür"), ("switch", "kaffeemaschine"), ("fan", "ventilator"),
                     ("climate", "thermostat"), ("vacuum", "staubsaugerroboter"), ("scene", "filmabend"),
                     ("sensor", "außentemperatur"), ("valve", "wasserventil"), ("lawn_mower", "rasenmäher"),
                     ("binary_sensor", "terrassentür")],
           "areas": ["küche", "wohnzimmer", "schlafzimmer", "büro"], "floors": ["erdgeschoss", "obergeschoss"]},
    "fr": {"names": [("light", "plafonnier"), ("light", "lampe de bureau"), ("media_player", "télé"),
                     ("media_player", "enceinte"), ("cover", "porte du garage"), ("cover", "volets"),
                     ("lock", "porte d'entrée"), ("switch", "cafetière"), ("fan", "ventilateur"),
                     ("climate", "thermostat"), ("vacuum", "aspirateur robot"), ("scene", "soirée cinéma"),
                     ("sensor", "température extérieure"), ("valve", "vanne d'eau"), ("lawn_mower", "tondeuse"),
                     ("binary_sensor", "porte arrière")],
           "areas": ["cuisine", "salon", "chambre", "bureau"], "floors": ["rez-de-chaussée", "étage"]},
    "es": {"names": [("light", "lámpara del techo"), ("light", "flexo"), ("media_player", "televisión"),
                     ("media_player", "altavoz"), ("cover", "puerta del garaje"), ("cover", "persianas"),
                     ("lock", "puerta principal"), ("switch", "cafetera"), ("fan", "ventilador"),
                     ("climate", "termostato"), ("vacuum", "robot aspirador"), ("scene", "noche de cine"),
                     ("sensor", "temperatura exterior"), ("valve", "válvula del agua"), ("lawn_mower", "cortacésped"),
                     ("binary_sensor", "puerta trasera")],
           "areas": ["cocina", "salón", "dormitorio", "despacho"], "floors": ["planta baja", "primer piso"]},
    "it": {"names": [("light", "lampadario"), ("light", "lampada da scrivania"), ("media_player", "televisore"),
                     ("media_player", "altoparlante"), ("cover", "porta del garage"), ("cover", "tapparelle"),
                     ("lock", "porta d'ingresso"), ("switch", "macchina del caffè"), ("fan", "ventilatore"),
                     ("climate", "termostato"), ("vacuum", "robot aspirapolvere"), ("scene", "serata film"),
                     ("sensor", "temperatura esterna"), ("valve", "valvola dell'acqua"), ("lawn_mower", "tosaerba"),
                     ("binary_sensor", "porta sul retro")],
           "areas": ["cucina", "soggiorno", "camera da letto", "ufficio"], "floors": ["piano terra", "primo piano"]},
    "nl": {"names": [("light", "plafondlamp"), ("light", "bureaulamp"), ("media_player", "televisie"),
                     ("media_player", "speaker"), ("cover", "garagedeur"), ("cover", "rolluik"),
                     ("lock", "voordeur"), ("switch", "koffiezetapparaat"), ("fan", "ventilator"),
                     ("climate", "thermostaat"), ("vacuum", "robotstofzuiger"), ("scene", "filmavond"),
                     ("sensor", "buitentemperatuur"), ("valve", "waterkraan"), ("lawn_mower", "grasmaaier"),
                     ("binary_sensor", "achterdeur")],
           "areas": ["keuken", "woonkamer", "slaapkamer", "kantoor"], "floors": ["begane grond", "boven"]},
    "pt": {"names": [("light", "candeeiro do teto"), ("light", "luminária"), ("media_player", "televisão"),
                     ("media_player", "coluna"), ("cover", "portão da garagem"), ("cover", "estores"),
                     ("lock", "porta da frente"), ("switch", "máquina de café"), ("fan", "ventoinha"),
                     ("climate", "termostato"), ("vacuum", "aspirador robô"), ("scene", "noite de cinema"),
                     ("sensor", "temperatura exterior"), ("valve", "válvula da água"), ("lawn_mower", "corta-relva"),
                     ("binary_sensor", "porta das traseiras")],
           "areas": ["cozinha", "sala", "quarto", "escritório"], "floors": ["rés do chão", "primeiro andar"]},
    "pl": {"names": [("light", "lampa sufitowa"), ("light", "lampka"), ("media_player", "telewizor"),
                     ("media_player", "głośnik"), ("cover", "brama garażowa"), ("cover", "rolety"),
                     ("lock", "drzwi wejściowe"), ("switch", "ekspres do kawy"), ("fan", "wentylator"),
                     ("climate", "termostat"), ("vacuum", "odkurzacz"), ("scene", "wieczór filmowy"),
                     ("sensor", "temperatura na zewnątrz"), ("valve", "zawór wody"), ("lawn_mower", "kosiarka"),
                     ("binary_sensor", "tylne drzwi")],
           "areas": ["kuchnia", "salon", "sypialnia", "biuro"], "floors": ["parter", "piętro"]},
    "sv": {"names": [("light", "taklampa"), ("light", "skrivbordslampa"), ("media_player", "tv"),
                     ("media_player", "högtalare"), ("cover", "garageport"), ("cover", "persienner"),
                     ("lock", "ytterdörr"), ("switch", "kaffebryggare"), ("fan", "fläkt"),
                     ("climate", "termostat"), ("vacuum", "robotdammsugare"), ("scene", "filmkväll"),
                     ("sensor", "utetemperatur"), ("valve", "vattenventil"), ("lawn_mower", "gräsklippare"),
                     ("binary_sensor", "bakdörr")],
           "areas": ["kök", "vardagsrum", "sovrum", "kontor"], "floors": ["bottenvåning", "övervåning"]},
    "da": {"names": [("light", "loftlampe"), ("light", "skrivebordslampe"), ("media_player", "fjernsyn"),
                     ("media_player", "højttaler"), ("cover", "garageport"), ("cover", "persienner"),
                     ("lock", "hoveddør"), ("switch", "kaffemaskine"), ("fan", "ventilator"),
                     ("climate", "termostat"), ("vacuum", "robotstøvsuger"), ("scene", "filmaften"),
                     ("sensor", "udetemperatur"), ("valve", "vandventil"), ("lawn_mower", "plæneklipper"),
                     ("binary_sensor", "bagdør")],
           "areas": ["køkken", "stue", "soveværelse", "kontor"], "floors": ["stueetage", "første sal"]},
}

HA_LANGUAGES = tuple(ENTITY_NAMES)


def entity_lists(language: str) -> dict[str, TextSlotList]:
    """The ``name`` / ``area`` / ``floor`` lists Home Assistant would build from devices."""
    spec = ENTITY_NAMES[language]
    return {
        "name": TextSlotList.from_tuples(
            [(name, name, {"domain": domain}) for domain, name in spec["names"]], allow_template=False
        ),
        "area": TextSlotList.from_strings(spec["areas"], allow_template=False),
        "floor": TextSlotList.from_strings(spec["floors"], allow_template=False),
    }


def home_assistant_raw(language: str) -> dict[str, Any]:
    import home_assistant_intents

    raw = home_assistant_intents.get_intents(language)
    if raw is None:
        raise ValueError(f"language_code: home-assistant-intents has no {language!r}")
    return raw


def hassil_intents(raw: dict[str, Any], drop_keys: set[str] | None = None) -> Intents:
    """hassil ``Intents`` for a raw language dict, optionally without some templates."""
    if drop_keys:
        raw = copy.deepcopy(raw)
        for intent_name, intent in raw["intents"].items():
            for b, block in enumerate(intent["data"]):
                block["sentences"] = [
                    s for i, s in enumerate(block["sentences"]) if f"{intent_name}/{b}/{i}" not in drop_keys
                ]
            intent["data"] = [blk for blk in intent["data"] if blk["sentences"]]
    return Intents.from_dict(raw)


def load_home_assistant(languages: Sequence[str] = HA_LANGUAGES) -> Domain:
    """Home Assistant's intents for ``languages`` (which need entries in ENTITY_NAMES)."""
    langs: dict[str, LanguageData] = {}
    metas: dict[str, IntentMeta] = {}
    for lang in languages:
        if lang not in ENTITY_NAMES:
            raise ValueError(f"language_code: no entity names for {lang!r} (have {', '.join(HA_LANGUAGES)})")
        raw = home_assistant_raw(lang)
        intents = Intents.from_dict(raw)
        slot_lists = {**intents.slot_lists, **entity_lists(lang)}
        data = LanguageData(lang, [], slot_lists, dict(intents.expansion_rules))
        for intent_name, intent in intents.intents.items():
            for b, block in enumerate(intent.data):
                for i, text in enumerate(block.sentence_texts):
                    template = Template(
                        intent_name, f"{intent_name}/{b}/{i}", parse_sentence(text, keep_text=True),
                        requires_context=dict(block.requires_context or {}),
                        excludes_context=dict(block.excludes_context or {}),
                        rules=dict(block.expansion_rules or {}), lists=dict(block.slot_lists or {}),
                    )
                    lists = {ln for _s, ln in template_slot_lists(template, data)}
                    if lists & set(block.wildcard_list_names):
                        continue
                    data.templates.append(template)
                    metas.setdefault(intent_name, IntentMeta(intent_name))
        langs[lang] = data
    return Domain("home_assistant", metas, langs)


# -- the built-in "home-assistant" domain (`[intent] file = "home-assistant"`) -----------------

BUILDER_VERSION = "1"
OUT_OF_SCOPE_PER_TEMPLATE = 2


def home_assistant_domain(languages: Sequence[str] | None = None) -> Domain:
    """Home Assistant's intents as a servable domain: :func:`load_home_assistant` plus, for the
    languages the shipped call-centre domain speaks (en de fr es it), its sentences as the
    out-of-scope examples (so "check my balance" is ``none``, not a smart-home command).
    Call-centre sentences, not its ``out_of_scope`` list: that one holds "what's the weather
    like" and "play some music", which are Home Assistant intents.
    """
    from .domainfile import DEFAULT_INTENTS_FILE, load_domain
    from .model import sample_templates

    langs = list(dict.fromkeys(languages)) if languages else list(HA_LANGUAGES)
    domain = load_home_assistant(langs)
    call_centre = load_domain(DEFAULT_INTENTS_FILE)
    for lang, data in domain.languages.items():
        other = call_centre.languages.get(lang)
        if other is not None:
            data.out_of_scope = [s.text for s in sample_templates(other, other.templates, OUT_OF_SCOPE_PER_TEMPLATE, 0)]
    return domain


def home_assistant_fingerprint() -> bytes:
    """What the built-in domain is made of, for the trained model's cache key: the
    home-assistant-intents release, the entity names, the call-centre file and this builder."""
    import hashlib
    import json
    from importlib.metadata import PackageNotFoundError, version

    from .domainfile import DEFAULT_INTENTS_FILE

    try:
        release = version("home-assistant-intents")
    except PackageNotFoundError:
        release = "unknown"
    h = hashlib.sha256()
    h.update(json.dumps({"home-assistant-intents": release, "entities": ENTITY_NAMES, "builder": BUILDER_VERSION,
                         "out_of_scope_per_template": OUT_OF_SCOPE_PER_TEMPLATE}, sort_keys=True).encode())
    h.update(DEFAULT_INTENTS_FILE.read_bytes())
    return h.digest()
