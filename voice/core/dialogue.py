"""Replies for a voice conversation from the dialogue tables of an intents file.

Pure logic, no I/O: :class:`DialogueTables` holds what the intents file says (greeting,
fallbacks, per-intent response templates, required slots and their prompts, how slot
values are spoken), :class:`DialoguePolicy` turns each caller turn's
:class:`~voice.core.intents.IntentResult` into a :class:`Reply`, and
:class:`DialogueState` is what one conversation remembers between turns (the intent
whose slot is being asked for, the slots so far, the previous intent, the rotation of
the templates). ``voice.engines.intent.domainfile.load_dialogue`` builds the tables from
a file; the format is documented in ``voice/engines/intent/README.md``.

Rules of :meth:`DialoguePolicy.reply`:

* a matched intent whose required slots are all filled (this turn's slots, plus the slots
  remembered while one of them was being asked for) gets one of its response templates
  for the language, ``{slot}`` placeholders replaced by the slot values as spoken; only
  templates whose placeholders are all filled are candidates, and the policy rotates
  through them turn after turn;
* the first missing required slot gets that slot's prompt (``kind == "slot_prompt"``);
  the state remembers the intent and the slots so far, and :meth:`~DialoguePolicy.context`
  then names that intent, so a bare answer ("the savings one") continues it;
* ``none``, no result, or an intent without a response for the language (or without a
  usable template or prompt) gets a fallback text, rotating (``kind == "fallback"``;
  ``intent`` is the recognised intent, or ``"none"``). A ``none`` turn while a slot is
  being asked for keeps the question open (``missing_slot`` still names it);
* while a slot is being asked for, a turn of another intent that carries the awaited slot
  is taken as the answer unless that intent is near certain (``switch_confidence``, 0.95):
  a bare "my savings account" often scores highest as the short templates of another
  intent that takes the same slot ("close my {account_type}"), at 0.6-0.85, where a real
  new request ("close my savings account") scores 0.98 or more. Any other intent starts
  over with that intent.

Returns None only when the tables have nothing at all for the language (or, for tables
not loaded from a file, a fallback is due and there is no fallback text; a file with
responses in a language must have a fallback for it). Language codes
may be BCP-47 tags ("fr-FR"): the exact language of the tables is used when present,
else its base language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .intents import NONE_INTENT, IntentResult
from .languages import base_language, resolve_language

REPLY_KINDS = ("response", "slot_prompt", "fallback", "greeting")

SWITCH_CONFIDENCE = 0.95
"""While a slot is asked for, another intent carrying that slot replaces the question only
at this confidence or above; below it the turn is taken as the answer."""

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def placeholders(template: str) -> tuple[str, ...]:
    """The ``{slot}`` names of a template, in order; ValueError for a stray brace or ``{}``."""
    names = []
    for m in _PLACEHOLDER.finditer(template):
        name = m.group(1).strip()
        if not name:
            raise ValueError("empty placeholder {}")
        names.append(name)
    if "{" in _PLACEHOLDER.sub("", template) or "}" in _PLACEHOLDER.sub("", template):
        raise ValueError("unbalanced { or }")
    return tuple(names)


def fill(template: str, words: Mapping[str, str]) -> str:
    """``template`` with each ``{slot}`` replaced by ``words[slot]`` (unknown ones kept)."""
    out = _PLACEHOLDER.sub(lambda m: words.get(m.group(1).strip(), m.group(0)), template)
    return " ".join(out.split())


@dataclass(frozen=True)
class IntentDialogue:
    """The dialogue part of one intent.

    ``responses``: language -> templates; ``required_slots`` in the order they are asked
    for; ``slot_prompts``: slot -> language -> question; ``slot_lists``: slot name -> the
    list that fills it (for how its values are spoken; a slot missing here is its own list).
    """

    responses: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    required_slots: tuple[str, ...] = ()
    slot_prompts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    slot_lists: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DialogueTables:
    """Everything the policy says, per language (plain data; treat as read-only).

    ``spoken_values``: language -> list name -> slot value -> words to say (a list value's
    ``say``, else its plain ``in`` text); values without an entry are said as they are.
    ``time_lists`` / ``number_lists``: lists whose values are ``HH:MM`` times / numbers,
    said in the language's way.
    """

    greeting: Mapping[str, str] = field(default_factory=dict)
    fallback: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    intents: Mapping[str, IntentDialogue] = field(default_factory=dict)
    spoken_values: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    time_lists: frozenset[str] = frozenset()
    number_lists: frozenset[str] = frozenset()

    @property
    def languages(self) -> tuple[str, ...]:
        """Languages with anything to say (a greeting, a fallback, a response or a prompt)."""
        langs = {k for k, v in self.greeting.items() if v} | {k for k, v in self.fallback.items() if v}
        for entry in self.intents.values():
            langs.update(k for k, v in entry.responses.items() if v)
            for prompts in entry.slot_prompts.values():
                langs.update(k for k, v in prompts.items() if v)
        return tuple(sorted(langs))

    @property
    def empty(self) -> bool:
        return not self.languages


@dataclass(frozen=True)
class Reply:
    """What to say to the caller, and why.

    ``kind``: "response" | "slot_prompt" | "fallback" | "greeting"; ``intent``: the intent
    replied to ("none" for a fallback to out-of-scope text, and for the greeting);
    ``missing_slot``: the required slot being asked for, else None.
    """

    text: str
    intent: str
    missing_slot: str | None
    kind: str


@dataclass
class DialogueState:
    """What one conversation remembers between turns (mutated by :meth:`DialoguePolicy.reply`).

    ``pending_intent``: the intent whose required slot was just asked for; ``slots``: its
    slots so far (name -> value); ``previous_intent``: the last recognised intent;
    ``missing_slot``: the slot that was asked for; ``rotation``: how many times each
    template set has been used (for rotating).
    """

    pending_intent: str | None = None
    slots: dict[str, str] = field(default_factory=dict)
    previous_intent: str | None = None
    missing_slot: str | None = None
    rotation: dict[str, int] = field(default_factory=dict)


def _pick(mapping: Mapping[str, object], language: str):
    lang = resolve_language(language, list(mapping))
    return mapping[lang] if lang is not None else None


def say_time(value: str, language: str) -> str:
    """An ``HH:MM`` slot value as the voice should read it (after ``textnorm.normalize``).

    English in the 12-hour clock ("15:30" -> "3:30 pm"), Italian as "15 e 30" (the
    normaliser has no Italian clock rule), other languages ``H:MM`` for the normaliser.
    """
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
    if not m:
        return value
    hour, minute = int(m.group(1)), int(m.group(2))
    lang = base_language(language)
    if lang == "en":
        h12 = hour % 12 or 12
        return f"{h12}:{minute:02d} {'pm' if hour >= 12 else 'am'}"
    if lang == "it":
        return f"{hour} e {minute}" if minute else f"{hour}"
    return f"{hour}:{minute:02d}"


class DialoguePolicy:
    """Replies from :class:`DialogueTables`; one policy may serve many conversations (it
    keeps no per-conversation state: that lives in :class:`DialogueState`)."""

    def __init__(self, tables: DialogueTables, switch_confidence: float = SWITCH_CONFIDENCE):
        self.tables = tables
        self.switch_confidence = switch_confidence
        self._languages = tables.languages

    # --- queries ---------------------------------------------------------------------------

    def supports(self, language: str) -> bool:
        return bool(language) and resolve_language(language, self._languages) is not None

    def greeting(self, language: str) -> Reply | None:
        """The greeting at the start of the call, None when the file has none for the language."""
        text = _pick(self.tables.greeting, language) if language else None
        return Reply(text, NONE_INTENT, None, "greeting") if text else None

    def context(self, state: DialogueState) -> dict | None:
        """The ``context`` for ``IntentEngine.understand``: the intent whose slot is being
        asked for, else the previous intent; None before any intent was recognised."""
        intent = state.pending_intent or state.previous_intent
        return {"previous_intent": intent} if intent else None

    # --- the turn --------------------------------------------------------------------------

    def reply(self, result: IntentResult | None, language: str, state: DialogueState) -> Reply | None:
        """The reply to one caller turn (see the module docstring); updates ``state``."""
        if not self.supports(language):
            return None
        if result is None or result.intent == NONE_INTENT:
            # keep a pending question open: the next answer may still fill the slot
            return self._fallback(language, state, NONE_INTENT, state.missing_slot)

        intent = result.intent
        slots = {s.name: s.value for s in result.slots}
        pending = state.pending_intent
        if (pending is not None and intent != pending and slots.get(state.missing_slot or "")
                and result.confidence < self.switch_confidence):
            # a bare answer ("my savings account") often looks most like the short templates
            # of another intent taking the same slot ("{account_type} kündigen"): it answers
            # the question unless the other intent is near certain
            known = self.tables.intents[pending].slot_lists
            intent, slots = pending, {k: v for k, v in slots.items() if k in known or k == state.missing_slot}
        if pending is not None and intent == pending:
            slots = {**state.slots, **slots}
        state.previous_intent = intent
        state.pending_intent, state.slots, state.missing_slot = None, {}, None

        entry = self.tables.intents.get(intent)
        templates = _pick(entry.responses, language) if entry is not None else None
        if not templates:
            return self._fallback(language, state, intent, None)
        missing = next((s for s in entry.required_slots if not slots.get(s)), None)
        if missing is not None:
            prompt = _pick(entry.slot_prompts.get(missing, {}), language)
            if not prompt:
                return self._fallback(language, state, intent, None)
            state.pending_intent, state.slots, state.missing_slot = intent, slots, missing
            return Reply(fill(prompt, self._words(entry, slots, language)), intent, missing, "slot_prompt")
        usable = [t for t in templates if all(slots.get(p) for p in placeholders(t))]
        if not usable:
            return self._fallback(language, state, intent, None)
        text = self._rotate(f"{intent}/{resolve_language(language, list(entry.responses))}", usable, state)
        return Reply(fill(text, self._words(entry, slots, language)), intent, None, "response")

    # --- helpers ---------------------------------------------------------------------------

    def _fallback(self, language: str, state: DialogueState, intent: str, missing: str | None) -> Reply | None:
        texts = _pick(self.tables.fallback, language)
        if not texts:
            if missing is not None:  # no fallback text: ask the open question again
                entry = self.tables.intents[state.pending_intent]
                prompt = _pick(entry.slot_prompts.get(missing, {}), language)
                if prompt:
                    return Reply(fill(prompt, self._words(entry, state.slots, language)),
                                 state.pending_intent, missing, "slot_prompt")
            return None
        lang = resolve_language(language, list(self.tables.fallback))
        return Reply(self._rotate(f"fallback/{lang}", list(texts), state), intent, missing, "fallback")

    @staticmethod
    def _rotate(key: str, texts: list[str], state: DialogueState) -> str:
        n = state.rotation.get(key, 0)
        state.rotation[key] = n + 1
        return texts[n % len(texts)]

    def _words(self, entry: IntentDialogue, slots: Mapping[str, str], language: str) -> dict[str, str]:
        spoken = _pick(self.tables.spoken_values, language) or {}
        words = {}
        for name, value in slots.items():
            list_name = entry.slot_lists.get(name, name)
            if list_name in self.tables.time_lists:
                words[name] = say_time(value, language)
            elif list_name in self.tables.number_lists:
                words[name] = value if base_language(language) == "en" else value.replace(".", ",")
            else:
                words[name] = spoken.get(list_name, {}).get(value, value)
        return words
