"""Intent domains: templates and slot lists per language, and a sampler that expands
templates into labelled example sentences (intent + slot spans + normalised values).

Templates use hassil's syntax (``(a|b)``, ``[optional]``, ``{list}`` / ``{list:slot}``,
``<rule>``) and are parsed by hassil; the sampler here walks hassil's expression tree
itself because hassil's own sampler yields text only, without slot spans.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hassil.expression import (
    Alternative,
    Expression,
    ListReference,
    Permutation,
    RuleReference,
    Sentence,
    Sequence,
    TextChunk,
)
from hassil.intents import RangeSlotList, SlotList, TextSlotList, WildcardSlotList

from ...core.languages import base_language
from .numbers import NumberLexicon, format_number

_LOGGER = logging.getLogger(__name__)


@dataclass
class Template:
    """One template sentence of an intent; the unit of the train / held-out split."""

    intent: str
    key: str
    sentence: Sentence
    requires_context: dict[str, Any] = field(default_factory=dict)
    excludes_context: dict[str, Any] = field(default_factory=dict)
    rules: dict[str, Sentence] = field(default_factory=dict)
    lists: dict[str, SlotList] = field(default_factory=dict)


@dataclass
class LanguageData:
    """Everything needed to sample and match one language of a domain."""

    language: str
    templates: list[Template]
    slot_lists: dict[str, SlotList]
    rules: dict[str, Sentence]
    time_lists: frozenset[str] = frozenset()
    out_of_scope: list[str] = field(default_factory=list)


@dataclass
class IntentMeta:
    name: str
    description: str = ""


@dataclass
class Domain:
    """A set of intents with data in one or more languages."""

    name: str
    intents: dict[str, IntentMeta]
    languages: dict[str, LanguageData]
    # text-list values of languages the file has no sentences in (language -> list -> list):
    # slots for callers served through the sentence encoder (voice.engines.intent.crosslingual)
    foreign_lists: dict[str, dict[str, SlotList]] = field(default_factory=dict)


@dataclass(frozen=True)
class SampleSlot:
    name: str
    list_name: str
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class Sample:
    """A generated example sentence."""

    text: str
    intent: str
    template: str
    slots: tuple[SampleSlot, ...]


class _Unsatisfiable(Exception):
    """No slot value fits the template's context constraints."""


# --- time rendering (for ``type: time`` lists) -------------------------------------------

def _render_time(rng: random.Random, language: str, lexicon: NumberLexicon) -> tuple[str, str]:
    hour = rng.randint(7, 19)
    minute = rng.choice([0, 0, 0, 15, 30, 30, 45])
    value = f"{hour:02d}:{minute:02d}"
    base = base_language(language)
    style = rng.random()
    if style < 0.4:
        return (f"{hour}:{minute:02d}" if base != "en" or hour <= 12 else f"{hour}:{minute:02d}"), value
    h12 = hour - 12 if hour > 12 else hour
    words = lexicon.spell(hour) if style < 0.7 else str(hour)
    words12 = lexicon.spell(h12) if style < 0.7 else str(h12)
    words = words or str(hour)
    words12 = words12 or str(h12)
    if base == "en":
        if minute == 0:
            return f"{words12} {'pm' if hour >= 12 else 'am'}", value
        if minute == 30:
            return f"half past {words12}", f"{hour:02d}:30" if hour <= 12 else value
        return f"{h12}:{minute:02d} {'pm' if hour >= 12 else 'am'}", value
    suffix = {"de": "uhr", "fr": "heures", "it": "", "es": "", "nl": "uur", "pt": "horas"}.get(base, "")
    if minute == 0:
        return (f"{words} {suffix}".strip() if suffix else f"{hour}:00"), value
    half = {"fr": "et demie", "es": "y media", "it": "e mezza"}.get(base)
    if minute == 30 and half:
        return f"{words} {suffix} {half}".replace("  ", " ").strip(), value
    if base == "de":
        return f"{hour} uhr {minute}", value
    if base == "fr":
        return f"{hour}h{minute:02d}", value
    return f"{hour}:{minute:02d}", value


# --- sampling ------------------------------------------------------------------------------

class Sampler:
    """Random expansions of the templates of one language, with slot annotations."""

    def __init__(self, data: LanguageData, seed: int = 0, wildcard_values: Mapping[str, list[str]] | None = None):
        self.data = data
        self.rng = random.Random(seed)
        self.lexicon = NumberLexicon.build(data.language)
        self._rbnf = None
        self.wildcard_values = dict(wildcard_values or {})

    def _spell(self, number: float) -> str | None:
        if not float(number).is_integer():
            return None
        if self._rbnf is None:
            try:
                from hassil.numbers import get_rbnf_engine

                self._rbnf = get_rbnf_engine(self.data.language)
            except Exception:  # noqa: BLE001
                self._rbnf = False
        if not self._rbnf:
            return None
        texts = [t for r, t in self._rbnf.format_number(int(number)).text_by_ruleset.items() if "ordinal" not in r and "year" not in r]
        return self.rng.choice(texts) if texts else None

    def samples(self, template: Template, count: int, max_tries: int | None = None) -> list[Sample]:
        """Up to ``count`` distinct expansions of ``template``."""
        seen: dict[str, Sample] = {}
        tries = max_tries or count * 4
        for _ in range(tries):
            try:
                sample = self.sample(template)
            except _Unsatisfiable:
                return list(seen.values())
            if sample.text and sample.text not in seen:
                seen[sample.text] = sample
                if len(seen) >= count:
                    break
        return list(seen.values())

    def sample(self, template: Template) -> Sample:
        pieces: list[tuple[str, tuple[str, str, str] | None]] = []
        self._walk(template.sentence.expression, template, pieces, depth=0)
        text_parts: list[str] = []
        slots: list[SampleSlot] = []
        length = 0
        for text, slot in pieces:
            if slot is not None:
                text = " ".join(text.split())
                if not text:
                    continue
                if length and not text_parts[-1].endswith(" "):
                    # a slot glued to text ("{n}%") keeps no extra space
                    pass
                start = length
                text_parts.append(text)
                length += len(text)
                slots.append(SampleSlot(slot[0], slot[1], slot[2], start, length))
                continue
            text = re.sub(r"\s+", " ", text)
            if not text:
                continue
            if text.startswith(" ") and (length == 0 or text_parts[-1].endswith(" ")):
                text = text[1:]
            if not text:
                continue
            text_parts.append(text)
            length += len(text)
        full = "".join(text_parts)
        # collapse double spaces introduced at slot boundaries, keeping spans right
        out: list[str] = []
        index_map: list[int] = []
        for ch in full:
            if ch == " " and (not out or out[-1] == " "):
                index_map.append(len(out))
                continue
            index_map.append(len(out))
            out.append(ch)
        index_map.append(len(out))
        text = "".join(out)
        stripped = text.rstrip()
        fixed = tuple(
            SampleSlot(s.name, s.list_name, s.value, index_map[s.start], min(index_map[s.end], len(stripped)))
            for s in slots
        )
        return Sample(stripped, template.intent, template.key, fixed)

    def _walk(self, expr: Expression, template: Template, out: list, depth: int) -> None:
        if depth > 40:
            raise _Unsatisfiable("expansion too deep")
        if isinstance(expr, TextChunk):
            out.append((expr.original_text if expr.original_text is not None else expr.text, None))
        elif isinstance(expr, Alternative):
            if expr.items:
                self._walk(self.rng.choice(expr.items), template, out, depth + 1)
        elif isinstance(expr, Permutation):
            items = list(expr.items)
            self.rng.shuffle(items)
            for item in items:
                self._walk(item, template, out, depth + 1)
                out.append((" ", None))
        elif isinstance(expr, Sequence):
            for item in expr.items:
                self._walk(item, template, out, depth + 1)
        elif isinstance(expr, RuleReference):
            rule = template.rules.get(expr.rule_name) or self.data.rules.get(expr.rule_name)
            if rule is None:
                raise _Unsatisfiable(f"missing rule <{expr.rule_name}>")
            self._walk(rule.expression, template, out, depth + 1)
        elif isinstance(expr, ListReference):
            self._walk_list(expr, template, out, depth)
        else:
            raise _Unsatisfiable(f"unexpected expression {expr!r}")

    def _walk_list(self, ref: ListReference, template: Template, out: list, depth: int) -> None:
        name = ref.list_name
        slot_name = ref.slot_name
        if name in self.data.time_lists:
            text, value = _render_time(self.rng, self.data.language, self.lexicon)
            out.append((text, (slot_name, name, value)))
            return
        slot_list = template.lists.get(name) or self.data.slot_lists.get(name)
        if slot_list is None:
            raise _Unsatisfiable(f"missing list {{{name}}}")
        if isinstance(slot_list, TextSlotList):
            values = [v for v in slot_list.values if _context_ok(v.context, template)]
            if not values:
                raise _Unsatisfiable(f"no value of {{{name}}} fits the context")
            value = self.rng.choice(values)
            inner: list = []
            self._walk(value.text_in, template, inner, depth + 1)
            text = "".join(t for t, _ in inner)
            out_value = value.value_out
            if out_value is None:
                out_value = " ".join(text.split())
            out.append((text, (slot_name, name, _value_text(out_value))))
        elif isinstance(slot_list, RangeSlotList):
            number = self._pick_number(slot_list)
            text = None
            if slot_list.words and (not slot_list.digits or self.rng.random() < 0.5):
                text = self._spell(number)
            if text is None:
                text = format_number(number)
            out.append((text, (slot_name, name, format_number(number))))
        elif isinstance(slot_list, WildcardSlotList):
            choices = self.wildcard_values.get(name)
            if not choices:
                raise _Unsatisfiable(f"wildcard {{{name}}}")
            text = self.rng.choice(choices)
            out.append((text, (slot_name, name, text)))
        else:
            raise _Unsatisfiable(f"unknown list type for {{{name}}}")

    def _pick_number(self, slot_list: RangeSlotList) -> float:
        span = (slot_list.stop - slot_list.start) // slot_list.step
        if span > 200 and self.rng.random() < 0.7:
            # favour round numbers people say
            magnitude = self.rng.choice([10, 50, 100, 500, 1000])
            n = self.rng.randint(1, max(1, slot_list.stop // magnitude)) * magnitude
            if slot_list.start <= n <= slot_list.stop:
                return float(n)
        n = slot_list.start + self.rng.randint(0, max(0, span)) * slot_list.step
        if slot_list.fraction_type is not None and self.rng.random() < 0.2:
            return n + 0.5
        return float(n)


def _value_text(value: Any) -> str:
    if isinstance(value, float):
        return format_number(value)
    return str(value)


def _context_ok(context: Mapping[str, Any] | None, template: Template) -> bool:
    """Is a list value's context compatible with the template's requires/excludes?"""
    if not context:
        return True
    for key, required in template.requires_context.items():
        if key not in context:
            continue
        actual = context[key]
        if isinstance(actual, Mapping):
            actual = actual.get("value")
        if isinstance(required, Mapping):
            required = required.get("value")
        if required is None:
            continue
        if isinstance(required, (list, tuple, set)):
            if actual not in required:
                return False
        elif actual != required:
            return False
    for key, excluded in template.excludes_context.items():
        if key not in context:
            continue
        actual = context[key]
        if isinstance(actual, Mapping):
            actual = actual.get("value")
        if isinstance(excluded, (list, tuple, set)):
            if actual in excluded:
                return False
        elif actual == excluded:
            return False
    return True


def split_templates(
    templates: Iterable[Template], heldout: float, seed: int = 0
) -> tuple[list[Template], list[Template]]:
    """Hold out a share of each intent's templates (whole templates, never sentences).

    An intent with a single template keeps it for training.
    """
    by_intent: dict[str, list[Template]] = {}
    for t in templates:
        by_intent.setdefault(t.intent, []).append(t)
    rng = random.Random(seed)
    train: list[Template] = []
    test: list[Template] = []
    for intent in sorted(by_intent):
        items = list(by_intent[intent])
        rng.shuffle(items)
        k = int(round(len(items) * heldout))
        if len(items) >= 2:
            k = max(1, min(k, len(items) - 1))
        else:
            k = 0
        test.extend(items[:k])
        train.extend(items[k:])
    return train, test


def template_slot_lists(template: Template, data: LanguageData) -> set[tuple[str, str]]:
    """(slot name, list name) pairs a template can fill."""
    pairs: set[tuple[str, str]] = set()

    def walk(expr: Expression, depth: int) -> None:
        if depth > 40:
            return
        if isinstance(expr, ListReference):
            pairs.add((expr.slot_name, expr.list_name))
        elif isinstance(expr, (Sequence, Alternative, Permutation)):
            for item in expr.items:
                walk(item, depth + 1)
        elif isinstance(expr, RuleReference):
            rule = template.rules.get(expr.rule_name) or data.rules.get(expr.rule_name)
            if rule is not None:
                walk(rule.expression, depth + 1)

    walk(template.sentence.expression, 0)
    return pairs
