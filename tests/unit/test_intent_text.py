"""Intent library internals that need no trained model: tokenizing, numbers and times, the
intents-file checks, the delexicaliser and the training sample weights."""

from __future__ import annotations

import pytest

from voice.core.intents import IntentFileError
from voice.engines.intent.domainfile import domain_from_dict
from voice.engines.intent.numbers import NumberLexicon, find_times
from voice.engines.intent.text import tokenize
from voice.testing.intent_domains import timer_domain as _timer_domain


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({}, "intents"),
        ({"intents": {"a": {"sentences": {"en": []}}}}, "intents.a.sentences.en"),
        ({"intents": {"a": {"sentences": {"en": ["hello {missing}"]}}}}, "missing"),
        ({"intents": {"a": {"sentences": {"en": ["hello (world"]}}}}, "intents.a.sentences.en[0]"),
        ({"intents": {"none": {"sentences": {"en": ["x"]}}}}, "reserved"),
        ({"intents": {"a": {"sentences": {"en": ["<greet> you"]}}}}, "rule <greet>"),
        ({"intents": {"a": {"sentences": {"en": ["x"]}}}, "lists": {"n": {"type": "number"}}}, "lists.n"),
    ],
)
def test_bad_intents_file_names_the_field(doc, field):
    with pytest.raises(IntentFileError, match=field.replace("[", r"\[").replace("]", r"\]")):
        domain_from_dict(doc)


def test_tokenize_keeps_spans_and_folds():
    toks = tokenize("Überweise 1.500 €, bitte! 15h30")
    assert toks.words == ("uberweise", "1.500", "bitte", "15", "h", "30")
    assert toks.spans[0] == (0, 9)


@pytest.mark.parametrize(
    ("lang", "text", "values"),
    [
        ("en", "two thousand five hundred and 7", [2500.0, 7.0]),
        ("en", "two hundred and fifty", [250.0]),
        ("de", "zweitausendfünfhundert und dreiundzwanzig", [2500.0, 23.0]),
        ("fr", "vingt et un", [21.0]),
        ("es", "mil doscientos", [1200.0]),
        ("it", "1.500 e 2,5", [1500.0, 2.5]),
    ],
)
def test_numbers(lang, text, values):
    lex = NumberLexicon.build(lang)
    assert [s.value for s in lex.find(tokenize(text).words)] == values


@pytest.mark.parametrize(
    ("lang", "text", "value"),
    [("en", "at 3 pm", "15:00"), ("en", "half past four", "04:30"), ("de", "um 15 uhr 30", "15:30"),
     ("fr", "à trois heures et demie", "03:30"), ("fr", "à 10h15", "10:15"), ("it", "alle 15:30", "15:30")],
)
def test_times(lang, text, value):
    lex = NumberLexicon.build(lang)
    words = tokenize(text).words
    assert [t.value for t in find_times(words, lex.find(words))] == [value]


def test_delexicaliser_replaces_longest_slot_values_only():
    from voice.engines.intent.features import Delexicaliser, feature_strings

    d = Delexicaliser({("kitchen",): "<area>", ("kitchen", "speaker"): "<name>"})
    assert d(["play", "on", "kitchen", "speaker", "in", "the", "kitchen"]) == ["play", "on", "<name>", "in", "the", "<area>"]
    assert Delexicaliser.from_state(d.state()).forms == d.forms
    feats = feature_strings(["turn", "on", "kitchen"], d(["turn", "on", "kitchen"]))
    assert {"d<area>", "Don <area>", "D<area> </s>"} <= set(feats)
    assert "Dturn on" not in feats  # only n-grams touching a placeholder are added
    assert not [f for f in feature_strings(["hello"], d(["hello"])) if f[0] in "dD"]


def test_delexicaliser_keeps_list_words_that_templates_also_use_as_plain_words():
    from voice.engines.intent.model import build_delexicaliser, sample_templates
    from voice.engines.intent.slots import SlotMatcher

    data = _timer_domain().languages["en"]
    samples = sample_templates(data, data.templates, 20, 0)
    delex = build_delexicaliser(samples, SlotMatcher.build(data, data.templates, samples), 0.8)
    assert delex.forms[("kitchen",)] == "<room>"
    assert delex.forms[("living", "room")] == "<room>"
    # "on air studio" is a room, but "on" alone is no slot value; nothing else is replaced
    assert ("on",) not in delex.forms
    assert delex(["turn", "on", "the", "lights", "in", "the", "bedroom"])[-1] == "<room>"


def test_sample_weights_even_out_templates_and_intents():
    from voice.engines.intent.corpus import Sample
    from voice.engines.intent.model import TrainConfig, _sample_weights

    samples = ([Sample(f"a{i}", "big", "big/0", ()) for i in range(30)]
               + [Sample(f"b{i}", "big", "big/1", ()) for i in range(10)]
               + [Sample("nevermind", "small", "small/0", ())])
    w = _sample_weights(samples, TrainConfig(template_balance=1.0, class_balance=1.0))
    assert sum(w) == pytest.approx(len(samples))
    assert sum(w[:30]) == pytest.approx(sum(w[30:40]))  # each template of an intent weighs the same
    assert sum(w[:40]) == pytest.approx(w[40])  # each intent weighs the same
    flat = _sample_weights(samples, TrainConfig(template_balance=0.0, class_balance=0.0))
    assert flat == pytest.approx([1.0] * len(samples))
