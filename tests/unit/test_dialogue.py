"""The dialogue policy on pure, hand-built tables: responses with spoken slot values,
numbers and times, rotation, slot filling, fallbacks, greetings, language codes. The dialogue
keys of the intents file and the shipped domain: tests/unit/test_dialogue_file.py."""

from __future__ import annotations

import pytest

from voice.core.dialogue import (
    DialoguePolicy,
    DialogueState,
    DialogueTables,
    IntentDialogue,
    Reply,
    placeholders,
    say_time,
)
from voice.core.intents import NONE_INTENT, IntentResult, Slot


def result(intent: str, confidence: float = 0.99, **slots: str) -> IntentResult:
    return IntentResult(intent, confidence, tuple(Slot(k, v, 0, len(v)) for k, v in slots.items()))


@pytest.fixture()
def tables() -> DialogueTables:
    return DialogueTables(
        greeting={"en": "Hello, how can I help?", "fr": "Bonjour, que puis-je faire pour vous ?"},
        fallback={"en": ("Sorry, could you say that again?", "Sorry, I did not get that."),
                  "fr": ("Pardon, pouvez-vous répéter ?",)},
        intents={
            "check_balance": IntentDialogue(
                responses={"en": ("Your {account} balance is coming.", "Looking up your {account}."),
                           "fr": ("Je consulte votre {account}.",)},
                required_slots=("account",),
                slot_prompts={"account": {"en": "Which account?", "fr": "Quel compte ?"}},
                slot_lists={"account": "account_type"},
            ),
            "recent_transactions": IntentDialogue(
                responses={"en": ("Here are your latest payments.", "Here are the payments on your {account}.")},
                slot_lists={"account": "account_type"},
            ),
            "book_appointment": IntentDialogue(
                responses={"en": ("Booked: {day} at {time}.",), "it": ("Fissato per {day} alle {time}.",)},
                required_slots=("day", "time"),
                slot_prompts={"day": {"en": "Which day?", "it": "Quale giorno?"},
                              "time": {"en": "At what time on {day}?", "it": "A che ora?"}},
            ),
            "transfer_money": IntentDialogue(
                responses={"en": ("Sending €{amount}.",), "fr": ("Virement de {amount} €.",)},
                required_slots=("amount",),
                slot_prompts={"amount": {"en": "How much?", "fr": "Combien ?"}},
            ),
            "close_account": IntentDialogue(
                responses={"en": ("Closing your {account}.",)},
                required_slots=("account",),
                slot_prompts={"account": {"en": "Which account should I close?"}},
                slot_lists={"account": "account_type"},
            ),
            "talk_to_agent": IntentDialogue(responses={"fr": ("Je vous passe un conseiller.",)}),
        },
        spoken_values={"en": {"account_type": {"savings": "savings account", "checking": "checking account"},
                              "day": {"monday": "Monday"}},
                       "fr": {"account_type": {"savings": "compte épargne"}},
                       "it": {"day": {"friday": "venerdì"}}},
        time_lists=frozenset({"time"}),
        number_lists=frozenset({"amount"}),
    )


@pytest.fixture()
def policy(tables) -> DialoguePolicy:
    return DialoguePolicy(tables)


# --- the policy ---------------------------------------------------------------------------

def test_response_substitutes_spoken_slot_values(policy):
    state = DialogueState()
    reply = policy.reply(result("check_balance", account="savings"), "en", state)
    assert reply == Reply("Your savings account balance is coming.", "check_balance", None, "response")
    assert state.previous_intent == "check_balance" and state.pending_intent is None
    # a value without a spoken form is said as it is
    reply = policy.reply(result("check_balance", account="joint"), "en", state)
    assert reply.text == "Looking up your joint."


def test_numbers_and_times_are_said_the_language_s_way(policy):
    state = DialogueState()
    assert policy.reply(result("transfer_money", amount="2.5"), "en", state).text == "Sending €2.5."
    assert policy.reply(result("transfer_money", amount="2.5"), "fr", state).text == "Virement de 2,5 €."
    reply = policy.reply(result("book_appointment", day="monday", time="15:30"), "en", state)
    assert reply.text == "Booked: Monday at 3:30 pm."
    reply = policy.reply(result("book_appointment", day="friday", time="09:00"), "it", state)
    assert reply.text == "Fissato per venerdì alle 9."
    assert say_time("15:30", "it") == "15 e 30"
    assert say_time("00:15", "en") == "12:15 am"
    assert say_time("09:05", "de") == "9:05"


def test_responses_rotate_per_conversation(policy):
    state, other = DialogueState(), DialogueState()
    texts = [policy.reply(result("check_balance", account="savings"), "en", state).text for _ in range(3)]
    assert texts == ["Your savings account balance is coming.", "Looking up your savings account.",
                     "Your savings account balance is coming."]
    # another conversation starts its own rotation
    assert policy.reply(result("check_balance", account="savings"), "en", other).text == texts[0]


def test_only_templates_with_all_placeholders_filled_are_used(policy):
    state = DialogueState()
    for _ in range(3):
        assert policy.reply(result("recent_transactions"), "en", state).text == "Here are your latest payments."
    texts = {policy.reply(result("recent_transactions", account="checking"), "en", state).text for _ in range(2)}
    assert texts == {"Here are your latest payments.", "Here are the payments on your checking account."}


def test_slot_filling_over_two_turns(policy):
    state = DialogueState()
    assert policy.context(state) is None
    reply = policy.reply(result("check_balance"), "en", state)
    assert reply == Reply("Which account?", "check_balance", "account", "slot_prompt")
    assert state.pending_intent == "check_balance" and state.missing_slot == "account"
    assert policy.context(state) == {"previous_intent": "check_balance"}
    reply = policy.reply(result("check_balance", 0.6, account="savings"), "en", state)
    assert reply == Reply("Your savings account balance is coming.", "check_balance", None, "response")
    assert state.pending_intent is None and state.slots == {}
    assert policy.context(state) == {"previous_intent": "check_balance"}


def test_slots_are_kept_across_prompts_and_prompts_use_earlier_slots(policy):
    state = DialogueState()
    assert policy.reply(result("book_appointment"), "en", state).text == "Which day?"
    reply = policy.reply(result("book_appointment", 0.7, day="monday"), "en", state)
    assert reply == Reply("At what time on Monday?", "book_appointment", "time", "slot_prompt")
    assert state.slots == {"day": "monday"}
    reply = policy.reply(result("book_appointment", 0.7, time="10:00"), "en", state)
    assert reply.text == "Booked: Monday at 10:00 am." and reply.kind == "response"


def test_a_bare_answer_scored_as_another_intent_answers_the_question(policy):
    state = DialogueState()
    policy.reply(result("check_balance"), "en", state)
    # "my savings account" often scores as close_account (its short templates): an answer here
    reply = policy.reply(result("close_account", 0.8, account="savings"), "en", state)
    assert reply == Reply("Your savings account balance is coming.", "check_balance", None, "response")


def test_a_confident_other_intent_starts_over(policy):
    state = DialogueState()
    policy.reply(result("check_balance"), "en", state)
    reply = policy.reply(result("close_account", 0.99, account="savings"), "en", state)
    assert reply == Reply("Closing your savings account.", "close_account", None, "response")
    # ... and so does another intent without the awaited slot, at any confidence
    policy.reply(result("check_balance"), "en", state)
    reply = policy.reply(result("transfer_money", 0.5), "en", state)
    assert reply == Reply("How much?", "transfer_money", "amount", "slot_prompt")
    assert state.pending_intent == "transfer_money" and state.slots == {}


def test_fallback_rotates_and_keeps_an_open_question(policy):
    state = DialogueState()
    texts = [policy.reply(r, "en", state).text for r in (result(NONE_INTENT, 0.8), None, None)]
    assert texts == ["Sorry, could you say that again?", "Sorry, I did not get that.",
                     "Sorry, could you say that again?"]
    assert policy.reply(None, "en", state) == Reply("Sorry, I did not get that.", NONE_INTENT, None, "fallback")
    # not understood while a slot is asked for: the question stays open
    policy.reply(result("check_balance"), "en", state)
    reply = policy.reply(result(NONE_INTENT, 0.7), "en", state)
    assert reply.kind == "fallback" and reply.missing_slot == "account"
    assert policy.context(state) == {"previous_intent": "check_balance"}
    reply = policy.reply(result("check_balance", 0.6, account="checking"), "en", state)
    assert reply == Reply("Your checking account balance is coming.", "check_balance", None, "response")


def test_intent_without_a_response_in_the_language_gets_the_fallback(policy):
    state = DialogueState()
    reply = policy.reply(result("talk_to_agent"), "en", state)
    assert reply == Reply("Sorry, could you say that again?", "talk_to_agent", None, "fallback")
    reply = policy.reply(result("unknown_intent"), "en", state)
    assert reply.kind == "fallback" and reply.intent == "unknown_intent"
    # the same intent is answered where it has a response
    assert policy.reply(result("talk_to_agent"), "fr", state).text == "Je vous passe un conseiller."


def test_greeting(policy):
    assert policy.greeting("en") == Reply("Hello, how can I help?", NONE_INTENT, None, "greeting")
    assert policy.greeting("fr-FR").text == "Bonjour, que puis-je faire pour vous ?"
    assert policy.greeting("it") is None  # the tables say things in it, but no greeting
    assert policy.greeting("xx") is None


def test_bcp47_codes(policy):
    state = DialogueState()
    assert policy.reply(result("check_balance"), "fr-FR", state).text == "Quel compte ?"
    assert policy.reply(result("check_balance", account="savings"), "fr_CA", state).text == \
        "Je consulte votre compte épargne."
    assert policy.reply(None, "EN-gb", state).kind == "fallback"
    assert policy.reply(result("book_appointment", day="friday", time="18:00"), "it-IT", state).text == \
        "Fissato per venerdì alle 18."


def test_unknown_language_returns_none(policy, tables):
    state = DialogueState()
    assert policy.reply(result("check_balance", account="savings"), "xx", state) is None
    assert policy.reply(None, "de-DE", state) is None
    assert policy.reply(None, "", state) is None
    assert state == DialogueState()
    assert tables.languages == ("en", "fr", "it")
    empty = DialoguePolicy(DialogueTables())
    assert DialogueTables().empty
    assert empty.reply(None, "en", state) is None and empty.greeting("en") is None


def test_placeholders():
    assert placeholders("Your {account} and {day}.") == ("account", "day")
    assert placeholders("Nothing here.") == ()
    for bad in ("a {", "a } b", "{}", "{a{b}}"):
        with pytest.raises(ValueError):
            placeholders(bad)

