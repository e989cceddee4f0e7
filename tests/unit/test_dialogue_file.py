"""The dialogue keys of the intents file (validation naming the key path, empty tables
without them, training data untouched) and the shipped domain's coverage. The policy itself,
on hand-built tables: tests/unit/test_dialogue.py."""

from __future__ import annotations

import json
import re
import textwrap

import pytest

from voice.core.dialogue import DialoguePolicy, DialogueState, placeholders
from voice.core.intents import IntentFileError, IntentResult, Slot
from voice.engines.intent.domainfile import (
    DEFAULT_INTENTS_FILE,
    load_dialogue,
    load_domain,
)

SHIPPED_LANGUAGES = ("en", "de", "fr", "es", "it")


def result(intent: str, confidence: float = 0.99, **slots: str) -> IntentResult:
    return IntentResult(intent, confidence, tuple(Slot(k, v, 0, len(v)) for k, v in slots.items()))


# --- the file format ----------------------------------------------------------------------

BASE = """\
name: tiny
intents:
  check_balance:
    sentences:
      en: ["what is the balance of my {account_type}", "my balance"]
      fr: ["quel est le solde de mon {account_type}", "mon solde"]
  report_lost_card:
    sentences:
      en: ["i lost my [{card_type}] card"]
      fr: ["j'ai perdu ma carte [{card_type}]"]
  book_appointment:
    sentences:
      en: ["book an appointment [on {day}] [at {time}]"]
      fr: ["un rendez-vous [{day}] [à {time}]"]
lists:
  account_type:
    values:
      en: [{in: "(savings|saving) [account]", out: savings, say: "savings account"}, checking]
      fr: [{in: "compte épargne", out: savings}, {in: "(compte courant|compte chèque)", out: checking}]
  card_type:
    values:
      en: [credit, debit]
      fr: [{in: "de crédit", out: credit}, {in: "bancaire", out: debit}]
  day:
    values:
      en: [{in: monday, out: monday}]
      fr: [{in: lundi, out: monday}]
  time:
    type: time
"""


def write(tmp_path, extra: str = "", name: str = "tiny.yaml"):
    path = tmp_path / name
    path.write_text(BASE + textwrap.dedent(extra), encoding="utf-8")
    return path


def with_intent_keys(intent: str, keys: str) -> str:
    """BASE with ``keys`` (YAML at intent level) added to ``intent``."""
    indented = textwrap.indent(textwrap.dedent(keys).rstrip("\n") + "\n", "    ")
    return BASE.replace(f"  {intent}:\n", f"  {intent}:\n{indented}", 1)


def load_text(tmp_path, text: str):
    path = tmp_path / "tiny.yaml"
    path.write_text(text, encoding="utf-8")
    return load_dialogue(path)


FALLBACK = 'fallback: {en: ["Sorry?"], fr: ["Pardon ?"]}\n'

GOOD_BALANCE = """\
required_slots: [account_type]
slot_prompts:
  account_type: {en: "Which account?", fr: "Quel compte ?"}
responses:
  en: ["Your {account_type} balance is coming."]
  fr: ["Je consulte votre {account_type}."]
"""


def test_file_without_dialogue_keys_loads_empty_tables(tmp_path):
    tables = load_dialogue(write(tmp_path))
    assert tables.greeting == {} and tables.fallback == {} and tables.intents == {}
    assert tables.empty
    assert DialoguePolicy(tables).reply(None, "en", DialogueState()) is None


def test_file_with_dialogue_keys(tmp_path):
    text = with_intent_keys("check_balance", GOOD_BALANCE) + textwrap.dedent("""\
        greeting: {en: "Hello!", fr: "Bonjour !"}
        fallback:
          en: ["Sorry?", "Say again?"]
          fr: "Pardon ?"
        """)
    tables = load_text(tmp_path, text)
    assert tables.greeting == {"en": "Hello!", "fr": "Bonjour !"}
    assert tables.fallback == {"en": ("Sorry?", "Say again?"), "fr": ("Pardon ?",)}
    entry = tables.intents["check_balance"]
    assert entry.required_slots == ("account_type",)
    assert entry.slot_prompts == {"account_type": {"en": "Which account?", "fr": "Quel compte ?"}}
    assert entry.slot_lists == {"account_type": "account_type"}
    assert set(tables.intents) == {"check_balance"}
    # spoken values: "say", else a plain "in", else nothing (the value is said as it is)
    assert tables.spoken_values["en"]["account_type"] == {"savings": "savings account", "checking": "checking"}
    assert tables.spoken_values["fr"]["account_type"] == {"savings": "compte épargne"}
    assert tables.time_lists == frozenset({"time"})
    policy, state = DialoguePolicy(tables), DialogueState()
    assert policy.reply(result("check_balance", account_type="savings"), "fr", state).text == \
        "Je consulte votre compte épargne."


def test_json_file(tmp_path):
    import yaml

    doc = yaml.safe_load(with_intent_keys("check_balance", GOOD_BALANCE))
    doc["greeting"] = {"en": "Hi"}
    doc["fallback"] = {"en": ["Sorry?"], "fr": "Pardon ?"}
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    tables = load_dialogue(path)
    assert tables.greeting == {"en": "Hi"} and "check_balance" in tables.intents


def lists(data) -> dict:
    return {name: [(str(v.text_in), v.value_out) for v in getattr(sl, "values", [])]
            for name, sl in data.slot_lists.items()}


def test_dialogue_keys_do_not_change_training_data(tmp_path):
    plain_path = tmp_path / "plain.yaml"
    plain_path.write_text(BASE.replace(', say: "savings account"', ""), encoding="utf-8")
    plain = load_domain(plain_path)
    path = tmp_path / "dialogue.yaml"
    path.write_text(with_intent_keys("check_balance", GOOD_BALANCE) + 'greeting: {en: "Hello!"}\n' + FALLBACK,
                    encoding="utf-8")
    rich = load_domain(path)
    assert plain.intents == rich.intents
    for lang in plain.languages:
        a, b = plain.languages[lang], rich.languages[lang]
        assert [t.sentence.text for t in a.templates] == [t.sentence.text for t in b.templates]
        assert lists(a) == lists(b) and a.out_of_scope == b.out_of_scope


@pytest.mark.parametrize(
    ("intent", "keys", "field"),
    [
        ("report_lost_card", 'responses: {en: ["Blocked."], fr: ["Votre carte {foo} est bloquée."]}',
         "intents.report_lost_card.responses.fr[0]: unknown slot {foo}"),
        ("report_lost_card", 'responses: {en: ["Your {account_type} card."]}',
         "intents.report_lost_card.responses.en[0]: unknown slot {account_type}"),
        ("check_balance", 'responses: {en: ["Your {account_type"]}',
         "intents.check_balance.responses.en[0]: unbalanced"),
        ("check_balance", 'responses: {en: ["ok", ""]}', "intents.check_balance.responses.en[1]: expected a non-empty"),
        ("check_balance", "responses: {en: []}", "intents.check_balance.responses.en: expected a non-empty list"),
        ("check_balance", "responses: [hello]", "intents.check_balance.responses: expected a mapping"),
        ("check_balance", 'responses: {de: ["Ihr Kontostand."]}',
         "intents.check_balance.responses.de: unknown language 'de'"),
        ("check_balance", 'required_slots: [account]\nresponses: {en: ["ok"]}',
         "intents.check_balance.required_slots[0]: unknown slot {account}"),
        ("check_balance", "required_slots: account_type", "intents.check_balance.required_slots: expected a list"),
        ("report_lost_card", 'required_slots: [card_type, card_type]\nresponses: {en: ["ok"]}',
         "intents.report_lost_card.required_slots[1]: card_type is listed twice"),
        ("check_balance", 'required_slots: [account_type]\nresponses: {en: ["ok"]}',
         "intents.check_balance.slot_prompts.account_type.en: missing"),
        ("check_balance", ('required_slots: [account_type]\nslot_prompts: {account_type: {en: "Which?", es: "¿Cuál?"}}\n'
                           'responses: {en: ["ok"]}'), "intents.check_balance.slot_prompts.account_type.es: unknown language 'es'"),
        ("report_lost_card", 'slot_prompts: {card_type: {en: "Which card?"}}\nresponses: {en: ["ok"]}',
         "intents.report_lost_card.slot_prompts.card_type: card_type is not in intents.report_lost_card.required_slots"),
        ("book_appointment", ('required_slots: [day, time]\nslot_prompts:\n  day: {en: "Which day at {time}?"}\n'
                              '  time: {en: "What time?"}\nresponses: {en: ["Booked."]}'),
         "intents.book_appointment.slot_prompts.day.en: unknown slot {time}"),
        ("report_lost_card", 'responses: {en: ["Your {card_type} card is blocked."]}',
         "intents.report_lost_card.responses.en: needs a template that uses only the required slots"),
    ],
)
def test_bad_dialogue_keys_name_the_key_path(tmp_path, intent, keys, field):
    with pytest.raises(IntentFileError, match=re.escape(field)):
        load_text(tmp_path, with_intent_keys(intent, keys) + FALLBACK)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ('greeting: {de: "Hallo"}', "greeting.de: unknown language 'de' (the file's languages: en, fr)"),
        ('greeting: {en: "Hello {name}"}', "greeting.en: unknown slot {name} (no slot placeholders here)"),
        ("greeting: hello", "greeting: expected a mapping"),
        ('fallback: {en: ["Sorry?", 3]}', "fallback.en[1]: expected a non-empty string"),
        ('fallback: {it: ["Scusi?"]}', "fallback.it: unknown language 'it'"),
    ],
)
def test_bad_top_level_dialogue_keys(tmp_path, extra, field):
    with pytest.raises(IntentFileError, match=re.escape(field)):
        load_dialogue(write(tmp_path, extra + "\n"))


def test_responses_in_a_language_need_a_fallback_there(tmp_path):
    text = with_intent_keys("check_balance", GOOD_BALANCE) + 'fallback: {en: ["Sorry?"]}\n'
    with pytest.raises(IntentFileError, match=re.escape("fallback.fr: missing (the intents have fr responses")):
        load_text(tmp_path, text)


def test_bad_say_and_a_required_slot_no_sentence_of_the_language_fills(tmp_path):
    with pytest.raises(IntentFileError, match=re.escape("lists.card_type.values.en[0].say: expected a non-empty")):
        load_text(tmp_path, BASE.replace("en: [credit, debit]", 'en: [{in: credit, out: credit, say: ""}, debit]'))
    text = with_intent_keys("check_balance", GOOD_BALANCE).replace(
        'fr: ["quel est le solde de mon {account_type}", "mon solde"]', 'fr: ["mon solde"]').replace(
        "Je consulte votre {account_type}.", "Je consulte votre solde.")
    with pytest.raises(IntentFileError, match=re.escape("intents.check_balance.required_slots[0]: no fr sentence")):
        load_text(tmp_path, text)


def test_a_broken_intents_file_is_reported_as_for_training(tmp_path):
    with pytest.raises(IntentFileError, match=r"intents\.a\.sentences\.en\[0\]"):
        load_text(tmp_path, 'intents: {a: {sentences: {en: ["hello (world"]}}}\n')


# --- the shipped domain -------------------------------------------------------------------

def test_shipped_domain_speaks_every_intent_in_five_languages():
    tables = load_dialogue(None)
    domain = load_domain(DEFAULT_INTENTS_FILE)
    assert set(tables.languages) == set(SHIPPED_LANGUAGES) == set(domain.languages)
    for lang in SHIPPED_LANGUAGES:
        assert tables.greeting[lang]
        assert len(tables.fallback[lang]) >= 2
    assert set(tables.intents) == set(domain.intents)
    for name, entry in tables.intents.items():
        for lang in SHIPPED_LANGUAGES:
            assert entry.responses.get(lang), (name, lang)
            for slot in entry.required_slots:
                assert entry.slot_prompts[slot].get(lang), (name, slot, lang)
            # every value a placeholder can take has words to say in the language
            spoken = tables.spoken_values[lang]
            for template in entry.responses[lang]:
                for slot in placeholders(template):
                    list_name = entry.slot_lists[slot]
                    if list_name in tables.time_lists or list_name in tables.number_lists:
                        continue
                    values = {v.value_out for v in domain.languages[lang].slot_lists[list_name].values}
                    assert values <= set(spoken[list_name]), (name, lang, slot, values - set(spoken[list_name]))


def test_shipped_domain_slot_filling_turns_read_well():
    policy = DialoguePolicy(load_dialogue(None))
    expected = {
        "en": ("Which account", "savings account"), "de": ("Für welches Konto", "Sparkonto"),
        "fr": ("Pour quel compte", "compte épargne"), "es": ("¿De qué cuenta", "cuenta de ahorro"),
        "it": ("Per quale conto", "conto risparmio"),
    }
    for lang, (question, words) in expected.items():
        state = DialogueState()
        assert policy.greeting(f"{lang}-XX").kind == "greeting"
        prompt = policy.reply(result("check_balance"), lang, state)
        assert prompt.kind == "slot_prompt" and prompt.text.startswith(question), (lang, prompt)
        reply = policy.reply(result("check_balance", 0.6, account_type="savings"), lang, state)
        assert reply.kind == "response" and words in reply.text and "{" not in reply.text, (lang, reply)
        state = DialogueState()
        policy.reply(result("book_appointment", day="tuesday"), lang, state)
        reply = policy.reply(result("book_appointment", 0.6, time="09:30"), lang, state)
        assert reply.kind == "response" and "{" not in reply.text and "tuesday" not in reply.text, (lang, reply)
