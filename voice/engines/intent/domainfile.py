"""Load an intents file (YAML or JSON) into a :class:`~voice.engines.intent.corpus.Domain`
(what training needs) or into :class:`~voice.core.dialogue.DialogueTables` (what a
conversation says back: greeting, fallbacks, responses, slot prompts).

The format is documented in ``voice/engines/intent/README.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence as Seq
from pathlib import Path
from typing import Any

import yaml
from hassil.expression import Group, RuleReference, Sentence
from hassil.intents import RangeSlotList, SlotList, TextSlotList, TextSlotValue
from hassil.parse_expression import parse_sentence

from .corpus import Domain, IntentMeta, LanguageData, Template, template_slot_lists
from ...core.dialogue import DialogueTables, IntentDialogue, placeholders
from ...core.intents import IntentFileError

DEFAULT_INTENTS_FILE = Path(__file__).parent / "domains" / "call_centre.yaml"
"""The shipped call-centre domain, loaded when no intents file is configured."""

CALL_CENTRE = "call-centre"
HOME_ASSISTANT = "home-assistant"
BUILTIN_DOMAINS = (CALL_CENTRE, HOME_ASSISTANT)
"""Names ``[intent] file`` (and ``--intents``) takes besides a path: the call-centre domain
(the default) and Home Assistant's own intents (:mod:`.homeassistant`, for Wyoming satellites)."""


def builtin_domain(spec: str | Path | None) -> str | None:
    """The built-in domain ``spec`` names (None, "" and "call-centre": the call centre;
    "home-assistant"), or None when ``spec`` is a file."""
    if spec is None or str(spec) in ("", CALL_CENTRE):
        return CALL_CENTRE
    return HOME_ASSISTANT if str(spec) == HOME_ASSISTANT else None

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def read_intents_file(path: Path) -> dict[str, Any]:
    """Parse the raw file (YAML, or JSON by suffix)."""
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as err:
        raise IntentFileError(f"intents_file: cannot read {path}: {err}") from err
    try:
        if path.suffix.lower() == ".json":
            doc = json.loads(raw)
        else:
            doc = yaml.safe_load(raw)
    except (yaml.YAMLError, json.JSONDecodeError) as err:
        raise IntentFileError(f"intents_file: {path} is not valid YAML/JSON: {err}") from err
    if not isinstance(doc, Mapping):
        raise IntentFileError(f"intents_file: {path} must contain a mapping at the top level")
    return dict(doc)


def load_domain(path: Path, languages: Seq[str] | None = None) -> Domain:
    """Load and validate an intents file; keep only ``languages`` when given."""
    return domain_from_dict(read_intents_file(path), name=path.stem, languages=languages)


def _parse(text: Any, where: str) -> Sentence:
    if not isinstance(text, str) or not text.strip():
        raise IntentFileError(f"{where}: expected a non-empty string, got {text!r}")
    try:
        return parse_sentence(text, keep_text=True)
    except Exception as err:  # noqa: BLE001 - hassil raises several parse error types
        raise IntentFileError(f"{where}: cannot parse template {text!r}: {err}") from err


def _per_language(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise IntentFileError(f"{where}: expected a mapping of language code -> list")
    return {str(k): v for k, v in value.items()}


def domain_from_dict(doc: Mapping[str, Any], name: str = "domain", languages: Seq[str] | None = None) -> Domain:
    intents_doc = doc.get("intents")
    if not isinstance(intents_doc, Mapping) or not intents_doc:
        raise IntentFileError("intents: the file must define at least one intent")
    wanted = set(languages) if languages else None

    # lists: shared definitions, text values per language
    lists_doc = doc.get("lists", {}) or {}
    if not isinstance(lists_doc, Mapping):
        raise IntentFileError("lists: expected a mapping of list name -> definition")
    shared_lists: dict[str, SlotList] = {}
    time_lists: set[str] = set()
    text_lists: dict[str, dict[str, list]] = {}
    for list_name, spec in lists_doc.items():
        where = f"lists.{list_name}"
        if not isinstance(spec, Mapping):
            raise IntentFileError(f"{where}: expected a mapping")
        kind = spec.get("type", "text" if "values" in spec else None)
        if kind == "number" or "range" in spec:
            rng = spec.get("range", {})
            try:
                start, stop = int(rng.get("from", 0)), int(rng["to"])
                step = int(rng.get("step", 1))
            except (KeyError, TypeError, ValueError) as err:
                raise IntentFileError(f"{where}.range: needs integer 'from' and 'to'") from err
            if start > stop or step <= 0:
                raise IntentFileError(f"{where}.range: need from <= to and step > 0")
            shared_lists[list_name] = RangeSlotList(name=list_name, start=start, stop=stop, step=step)
        elif kind == "time":
            time_lists.add(list_name)
        elif kind == "text":
            text_lists[list_name] = _per_language(spec.get("values"), f"{where}.values")
        else:
            raise IntentFileError(f"{where}: type must be text (with values), number (with range) or time")

    rules_doc = _per_language(doc.get("rules", {}) or {}, "rules")
    oos_doc = _per_language(doc.get("out_of_scope", {}) or {}, "out_of_scope")

    metas: dict[str, IntentMeta] = {}
    per_lang_templates: dict[str, list[Template]] = {}
    for intent_name, spec in intents_doc.items():
        where = f"intents.{intent_name}"
        if not isinstance(intent_name, str) or not intent_name or not set(intent_name) <= _NAME_CHARS:
            raise IntentFileError(f"{where}: intent names use letters, digits, _ . - only")
        if intent_name == "none":
            raise IntentFileError(f"{where}: 'none' is reserved for out-of-scope text")
        if not isinstance(spec, Mapping):
            raise IntentFileError(f"{where}: expected a mapping with 'sentences'")
        metas[intent_name] = IntentMeta(intent_name, str(spec.get("description", "")))
        sentences = _per_language(spec.get("sentences"), f"{where}.sentences")
        for lang, items in sentences.items():
            if wanted is not None and lang not in wanted:
                continue
            if not isinstance(items, list) or not items:
                raise IntentFileError(f"{where}.sentences.{lang}: expected a non-empty list")
            templates = per_lang_templates.setdefault(lang, [])
            for i, text in enumerate(items):
                sentence = _parse(text, f"{where}.sentences.{lang}[{i}]")
                templates.append(Template(intent_name, f"{intent_name}/{i}", sentence))

    if wanted is not None:
        missing = sorted(wanted - set(per_lang_templates))
        if missing:
            raise IntentFileError(f"languages: no sentences for {', '.join(missing)}")
    if not per_lang_templates:
        raise IntentFileError("intents: no sentences in any language")

    langs: dict[str, LanguageData] = {}
    for lang, templates in per_lang_templates.items():
        slot_lists: dict[str, SlotList] = dict(shared_lists)
        for list_name, by_lang in text_lists.items():
            values = by_lang.get(lang)
            if values is None:
                continue
            slot_lists[list_name] = _text_list(list_name, values, f"lists.{list_name}.values.{lang}")
        rules: dict[str, Sentence] = {}
        lang_rules = rules_doc.get(lang, {}) or {}
        if not isinstance(lang_rules, Mapping):
            raise IntentFileError(f"rules.{lang}: expected a mapping of rule name -> template")
        for rule_name, body in lang_rules.items():
            rules[str(rule_name)] = _parse(body, f"rules.{lang}.{rule_name}")
        oos = oos_doc.get(lang, []) or []
        if not isinstance(oos, list) or not all(isinstance(s, str) for s in oos):
            raise IntentFileError(f"out_of_scope.{lang}: expected a list of sentences")
        data = LanguageData(lang, templates, slot_lists, rules, frozenset(time_lists), list(oos))
        _check_references(data)
        langs[lang] = data
    foreign: dict[str, dict[str, SlotList]] = {}
    for list_name, by_lang in text_lists.items():
        for lang, values in by_lang.items():
            if lang not in langs:
                foreign.setdefault(lang, {})[list_name] = _text_list(
                    list_name, values, f"lists.{list_name}.values.{lang}")
    return Domain(str(doc.get("name", name)), metas, langs, foreign)


def _text_list(list_name: str, values: Any, where: str) -> TextSlotList:
    if not isinstance(values, list) or not values:
        raise IntentFileError(f"{where}: expected a non-empty list")
    parsed: list[TextSlotValue] = []
    for i, item in enumerate(values):
        if isinstance(item, str):
            text_in, value_out = item, None
        elif isinstance(item, Mapping) and "in" in item:
            text_in, value_out = item["in"], item.get("out")
        else:
            raise IntentFileError(f"{where}[{i}]: expected a string or {{in: ..., out: ...}}")
        sentence = _parse(text_in, f"{where}[{i}]")
        if value_out is None:
            value_out = " ".join(str(text_in).split())
        parsed.append(TextSlotValue(text_in=sentence.expression, value_out=str(value_out)))
    return TextSlotList(name=list_name, values=parsed)


def _check_references(data: LanguageData) -> None:
    def rules_in(expr, seen: set[str]) -> None:
        if isinstance(expr, RuleReference):
            if expr.rule_name not in data.rules:
                raise IntentFileError(f"rules.{data.language}: rule <{expr.rule_name}> is used but not defined")
            if expr.rule_name not in seen:
                seen.add(expr.rule_name)
                rules_in(data.rules[expr.rule_name].expression, seen)
        elif isinstance(expr, Group):
            for item in expr.items:
                rules_in(item, seen)

    for template in data.templates:
        rules_in(template.sentence.expression, set())
        for _slot, list_name in template_slot_lists(template, data):
            if list_name not in data.slot_lists and list_name not in data.time_lists:
                raise IntentFileError(
                    f"intents.{template.intent}.sentences.{data.language}: "
                    f"list {{{list_name}}} is not defined for language {data.language}"
                )


# --- dialogue tables ---------------------------------------------------------------------

_TEMPLATE_CHARS = set("()[]|{}<>;")


def load_dialogue(path: Path | None) -> DialogueTables:
    """The dialogue tables of an intents file (None = the shipped domain), validated.

    Cheap (the sentences are parsed to know each intent's slots, nothing is trained). A
    file without dialogue keys gives empty tables, and so does the built-in Home Assistant
    domain (Home Assistant speaks its own responses). ``path`` may name a built-in domain.
    """
    builtin = builtin_domain(path)
    if builtin == HOME_ASSISTANT:
        return DialogueTables()
    path = DEFAULT_INTENTS_FILE if builtin == CALL_CENTRE else Path(path)
    return dialogue_from_dict(read_intents_file(path), name=path.stem)


def dialogue_from_dict(doc: Mapping[str, Any], name: str = "domain") -> DialogueTables:
    domain = domain_from_dict(doc, name=name)
    file_langs = sorted(domain.languages)

    def check_lang(lang: str, where: str) -> None:
        if lang not in domain.languages:
            raise IntentFileError(f"{where}: unknown language {lang!r} (the file's languages: {', '.join(file_langs)})")

    def text(value: Any, where: str, allowed: Seq[str] = (), owner: str = "") -> str:
        """A non-empty text whose ``{slot}`` placeholders are all in ``allowed``."""
        if not isinstance(value, str) or not value.strip():
            raise IntentFileError(f"{where}: expected a non-empty string, got {value!r}")
        try:
            names = placeholders(value)
        except ValueError as err:
            raise IntentFileError(f"{where}: {err} in {value!r}") from err
        for slot in names:
            if slot not in allowed:
                if not owner:
                    hint = "no slot placeholders here"
                elif allowed:
                    hint = f"{owner} can use {', '.join(f'{{{a}}}' for a in allowed)}"
                else:
                    hint = f"{owner} has no slots to use"
                raise IntentFileError(f"{where}: unknown slot {{{slot}}} ({hint})")
        return " ".join(value.split())

    def texts(value: Any, where: str, allowed: Seq[str] = (), owner: str = "") -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise IntentFileError(f"{where}: expected a non-empty list of texts")
        return tuple(text(t, f"{where}[{i}]", allowed, owner) for i, t in enumerate(items))

    greeting: dict[str, str] = {}
    for lang, value in _mapping(doc.get("greeting"), "greeting", "language code -> text").items():
        check_lang(lang, f"greeting.{lang}")
        greeting[lang] = text(value, f"greeting.{lang}")
    fallback: dict[str, tuple[str, ...]] = {}
    for lang, value in _mapping(doc.get("fallback"), "fallback", "language code -> list of texts").items():
        check_lang(lang, f"fallback.{lang}")
        fallback[lang] = texts(value, f"fallback.{lang}")

    # which slots each intent can fill, per language (slot name -> list name)
    slot_lists: dict[str, dict[str, dict[str, str]]] = {}
    for lang, data in domain.languages.items():
        for template in data.templates:
            by_lang = slot_lists.setdefault(template.intent, {}).setdefault(lang, {})
            for slot, list_name in sorted(template_slot_lists(template, data)):
                by_lang.setdefault(slot, list_name)

    intents: dict[str, IntentDialogue] = {}
    for intent_name, spec in doc["intents"].items():
        where = f"intents.{intent_name}"
        keys = ("responses", "required_slots", "slot_prompts")
        if not any(spec.get(k) for k in keys):
            continue
        per_lang = slot_lists.get(intent_name, {})
        all_slots: dict[str, str] = {}
        for lang in sorted(per_lang):
            for slot, list_name in per_lang[lang].items():
                all_slots.setdefault(slot, list_name)

        responses: dict[str, tuple[str, ...]] = {}
        for lang, value in _mapping(spec.get("responses"), f"{where}.responses",
                                    "language code -> list of templates").items():
            check_lang(lang, f"{where}.responses.{lang}")
            fillable = sorted(per_lang.get(lang, all_slots))  # the intent's slots in that language
            responses[lang] = texts(value, f"{where}.responses.{lang}", fillable, intent_name)

        required_doc = spec.get("required_slots") or []
        if not isinstance(required_doc, list):
            raise IntentFileError(f"{where}.required_slots: expected a list of slot names")
        required: list[str] = []
        for i, slot in enumerate(required_doc):
            at = f"{where}.required_slots[{i}]"
            if not isinstance(slot, str) or slot not in all_slots:
                known = ", ".join(sorted(all_slots)) or "none"
                raise IntentFileError(f"{at}: unknown slot {{{slot}}} ({intent_name}'s slots: {known})")
            if slot in required:
                raise IntentFileError(f"{at}: {slot} is listed twice")
            for lang in responses:
                if lang in per_lang and slot not in per_lang[lang]:
                    raise IntentFileError(f"{at}: no {lang} sentence of {intent_name} fills {{{slot}}}, "
                                          f"so it could never be answered in {lang}")
            required.append(slot)

        prompts: dict[str, dict[str, str]] = {}
        for slot, by_lang in _mapping(spec.get("slot_prompts"), f"{where}.slot_prompts",
                                      "slot name -> {language code: text}").items():
            at = f"{where}.slot_prompts.{slot}"
            if slot not in required:
                raise IntentFileError(f"{at}: {slot} is not in {where}.required_slots")
            earlier = required[: required.index(slot)]
            prompts[slot] = {}
            for lang, value in _mapping(by_lang, at, "language code -> text").items():
                check_lang(lang, f"{at}.{lang}")
                prompts[slot][lang] = text(value, f"{at}.{lang}", earlier,
                                           f"the prompt for {slot} (required slots asked before it)")
        for lang, templates in responses.items():
            for slot in required:
                if lang not in prompts.get(slot, {}):
                    raise IntentFileError(f"{where}.slot_prompts.{slot}.{lang}: missing ({slot} is required "
                                          f"and {intent_name} has {lang} responses)")
            if not any(set(placeholders(t)) <= set(required) for t in templates):
                only = ", ".join(f"{{{r}}}" for r in required) or "no placeholders"
                raise IntentFileError(f"{where}.responses.{lang}: needs a template that uses only the "
                                      f"required slots ({only}), so that one can always be said")
        intents[intent_name] = IntentDialogue(responses, tuple(required), prompts, all_slots)

    for lang in sorted({lang for entry in intents.values() for lang in entry.responses}):
        if lang not in fallback:
            raise IntentFileError(f"fallback.{lang}: missing (the intents have {lang} responses, so a text "
                                  f"is needed for when nothing matched)")
    return DialogueTables(greeting, fallback, intents, _spoken_values(doc, domain), *_value_kinds(doc))


def _mapping(value: Any, where: str, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise IntentFileError(f"{where}: expected a mapping of {what}")
    return {str(k): v for k, v in value.items()}


def _value_kinds(doc: Mapping[str, Any]) -> tuple[frozenset[str], frozenset[str]]:
    times, numbers = set(), set()
    for list_name, spec in (doc.get("lists") or {}).items():
        kind = spec.get("type", "text" if "values" in spec else None)
        if kind == "time":
            times.add(list_name)
        elif kind == "number" or "range" in spec:
            numbers.add(list_name)
    return frozenset(times), frozenset(numbers)


def _spoken_values(doc: Mapping[str, Any], domain: Domain) -> dict[str, dict[str, dict[str, str]]]:
    """language -> list -> value -> words: a value's ``say`` (the first one given), else its
    ``in`` when that is plain text (no template syntax; the first such entry)."""
    spoken: dict[str, dict[str, dict[str, str]]] = {}
    for list_name, spec in (doc.get("lists") or {}).items():
        values = spec.get("values") if isinstance(spec, Mapping) else None
        if not isinstance(values, Mapping):
            continue
        for lang, items in values.items():
            lang = str(lang)
            if lang not in domain.languages or not isinstance(items, list):
                continue
            table = spoken.setdefault(lang, {}).setdefault(list_name, {})
            plain: dict[str, str] = {}
            for i, item in enumerate(items):
                if isinstance(item, str):
                    text_in, out, say = item, None, None
                elif isinstance(item, Mapping):
                    text_in, out, say = item.get("in"), item.get("out"), item.get("say")
                else:
                    continue
                text_in = " ".join(str(text_in).split())
                out = text_in if out is None else str(out)
                if say is not None:
                    if not isinstance(say, str) or not say.strip():
                        raise IntentFileError(f"lists.{list_name}.values.{lang}[{i}].say: "
                                              f"expected a non-empty string, got {say!r}")
                    table.setdefault(out, " ".join(say.split()))
                elif not set(text_in) & _TEMPLATE_CHARS:
                    plain.setdefault(out, text_in)
            for out, text_in in plain.items():
                table.setdefault(out, text_in)
    return spoken
