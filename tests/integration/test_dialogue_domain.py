"""Dialogue over the real trained intent model of the shipped call-centre domain: a
caller's request, the policy's slot prompt, and the bare answer understood in the context
of the pending intent (English, French), trained once per module."""

from __future__ import annotations

import pytest

from voice.core.dialogue import DialoguePolicy, DialogueState, Reply
from voice.engines.intent import IntentEngine
from voice.engines.intent.domainfile import load_dialogue


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> IntentEngine:
    return IntentEngine.load(None, None, tmp_path_factory.mktemp("dialogue-intents"))


@pytest.fixture(scope="module")
def policy() -> DialoguePolicy:
    return DialoguePolicy(load_dialogue(None))


def converse(engine: IntentEngine, policy: DialoguePolicy, language: str, turns: list[str]) -> list[Reply]:
    state = DialogueState()
    replies = [policy.greeting(language)]
    for text in turns:
        result = engine.understand(text, language, context=policy.context(state))
        replies.append(policy.reply(result, language, state))
    return replies


def test_english_balance_asks_which_account_then_answers(engine, policy):
    greeting, prompt, answer = converse(engine, policy, "en-US", ["what's my balance", "the savings one"])
    assert greeting.kind == "greeting" and greeting.text.startswith("Hello")
    assert prompt == Reply("Which account would you like the balance of: checking, savings, or another one?",
                           "check_balance", "account_type", "slot_prompt")
    assert answer.kind == "response" and answer.intent == "check_balance" and answer.missing_slot is None
    assert "savings account" in answer.text


def test_english_appointment_asks_day_then_time(engine, policy):
    _, day, time, booked = converse(engine, policy, "en", ["I'd like to book an appointment", "on friday", "at 3 pm"])
    assert (day.kind, day.missing_slot) == ("slot_prompt", "day")
    assert (time.kind, time.missing_slot) == ("slot_prompt", "time")
    assert booked == Reply("All right, I've booked your appointment for Friday at 3:00 pm.",
                           "book_appointment", None, "response")


def test_french_balance_asks_which_account_then_answers(engine, policy):
    greeting, prompt, answer = converse(engine, policy, "fr-FR", ["quel est mon solde", "le compte épargne"])
    assert greeting.text.startswith("Bonjour")
    assert (prompt.kind, prompt.intent, prompt.missing_slot) == ("slot_prompt", "check_balance", "account_type")
    assert prompt.text.startswith("Pour quel compte")
    # the bare answer scores highest as close_account; the open question wins
    assert answer.kind == "response" and answer.intent == "check_balance"
    assert "compte épargne" in answer.text and "clôturer" not in answer.text


def test_french_lost_card_asks_which_card(engine, policy):
    _, prompt, answer = converse(engine, policy, "fr", ["j'ai perdu ma carte", "la carte bancaire"])
    assert (prompt.kind, prompt.missing_slot) == ("slot_prompt", "card_type")
    assert answer == Reply("Je suis désolé. Je bloque votre carte bancaire tout de suite, et une nouvelle "
                           "carte vous sera envoyée.", "report_lost_card", None, "response")


def test_out_of_scope_gets_a_fallback_and_a_new_request_starts_over(engine, policy):
    _, fallback, prompt, closing = converse(engine, policy, "en", [
        "what's the weather like tomorrow", "what's my balance", "I want to close my savings account"])
    assert (fallback.kind, fallback.intent) == ("fallback", "none")
    assert prompt.kind == "slot_prompt"
    assert (closing.kind, closing.intent) == ("response", "close_account")
    assert "savings account" in closing.text
