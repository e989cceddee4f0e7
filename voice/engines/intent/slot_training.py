"""Slot statistics learned from the training sentences: the state a ``SlotMatcher`` loads.

``build_slot_state`` turns a language's slot lists, templates and sampled sentences into the
JSON-able state dict: the surface forms of every text-list value, the numeric ranges, which
slots each intent takes, the left/right context-word counts per slot (per intent, pooled
per slot name and per list), the context-window log ratios, the endings templates glue
onto list values, the forms an intent uses as plain words, and the generic lists. Matching
text against that state is ``slots.SlotMatcher``'s job.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Any

from hassil.intents import RangeSlotList, TextSlotList
from hassil.sample import sample_expression

from .corpus import LanguageData, Sample, Template, template_slot_lists
from .numbers import format_number
from .text import Tokens, tokenize

_MAX_FORMS_PER_VALUE = 64
_MIN_SUFFIX_COUNT = 2
# a list form that an intent's training sentences use as plain words at least this often
# (and at least twice) is not taken as a slot of that intent ("the thermostat" in "set
# the thermostat to 20" is part of the phrasing, not the device name)
_LITERAL_SHARE = 0.5
_LITERAL_MIN = 2
# context windows: up to WINDOW words on each side of a slot (stopping at another slot,
# or at a number at query time), scored per (list, slot name) as a clipped log ratio against
# all slots' windows on that side, so a unit word a few words on decides the slot
# ("29 and a half hours" -> hours 29, minutes 30; "17 horas y 3/4" -> minutes 45)
WINDOW = 4
_WINDOW_ALPHA = 5.0
_WINDOW_CLIP = (-2.0, 3.0)
_GENERIC_SHARE = 0.3


def build_slot_state(data: LanguageData, templates: list[Template], samples: list[Sample]) -> dict[str, Any]:
    """The ``SlotMatcher`` state for these templates and their sampled sentences."""
    forms: dict[str, set[tuple[str, str]]] = defaultdict(set)
    ranges: dict[str, tuple[float, float]] = {}
    lists = dict(data.slot_lists)
    for t in templates:
        lists.update(t.lists)
    used_lists = {ln for t in templates for _s, ln in template_slot_lists(t, data)}
    for list_name, slot_list in lists.items():
        if list_name not in used_lists:
            continue
        if isinstance(slot_list, TextSlotList):
            for value in slot_list.values:
                out = value.value_out
                for i, text in enumerate(_surface_forms(value.text_in, data)):
                    if i >= _MAX_FORMS_PER_VALUE:
                        break
                    words = tokenize(text).words
                    if words:
                        out_text = text if out is None else (format_number(out) if isinstance(out, float) else str(out))
                        forms[" ".join(words)].add((list_name, " ".join(out_text.split()) if out is None else out_text))
        elif isinstance(slot_list, RangeSlotList):
            ranges[list_name] = (float(slot_list.start), float(slot_list.stop) + (0.9 if slot_list.fraction_type else 0.0))
    intent_slots: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for t in templates:
        for slot_name, list_name in template_slot_lists(t, data):
            intent_slots[t.intent][list_name].add(slot_name)
    prior: Counter = Counter()
    left: dict[str, Counter] = defaultdict(Counter)
    right: dict[str, Counter] = defaultdict(Counter)
    suffixes: dict[str, Counter] = defaultdict(Counter)
    window: dict[str, Counter] = defaultdict(Counter)
    for sample in samples:
        if not sample.slots:
            continue
        toks = tokenize(sample.text)
        slot_ranges = slot_token_ranges(toks, sample.slots)
        for slot in sample.slots:
            first, last = _token_range(toks, slot.start, slot.end)
            if last > first and toks.spans[last - 1][1] > slot.end and slot.list_name in lists \
                    and isinstance(lists[slot.list_name], TextSlotList):
                # the value's last token runs on past the slot: a glued-on ending
                tail = tokenize(sample.text[slot.end : toks.spans[last - 1][1]]).words
                if len(tail) == 1 and tail[0].isalpha():
                    suffixes[slot.list_name][tail[0]] += 1
            key = sample.intent + "\t" + slot.name
            prior[key] += 1
            lw = toks.words[first - 1] if first > 0 else "<s>"
            rw = toks.words[last] if last < len(toks) else "</s>"
            for k in (key, "s\t" + slot.name, "l\t" + slot.list_name):
                left[k][lw] += 1
                right[k][rw] += 1
            # windows stop at the next / previous slot: its words are its own context
            stop_r = min([a for a, _b in slot_ranges if a >= last] + [last + WINDOW])
            stop_l = max([b for _a, b in slot_ranges if b <= first] + [first - WINDOW, 0])
            window[slot.list_name + "\t" + slot.name].update(toks.words[last:stop_r])
            window["<" + slot.list_name + "\t" + slot.name].update(toks.words[stop_l:first])
    return {
        "forms": {k: sorted([list(e) for e in v]) for k, v in forms.items()},
        "ranges": {k: list(v) for k, v in ranges.items()},
        "time_lists": sorted(data.time_lists & used_lists),
        "intent_slots": {i: {ln: sorted(s) for ln, s in d.items()} for i, d in intent_slots.items()},
        "prior": {k: float(v) for k, v in prior.items()},
        "left": {k: _log_probs(c) for k, c in left.items() if "\t" in k and k[:2] not in ("s\t", "l\t")},
        "right": {k: _log_probs(c) for k, c in right.items() if "\t" in k and k[:2] not in ("s\t", "l\t")},
        "left_pooled": {k: _probs(c) for k, c in left.items() if k[:2] in ("s\t", "l\t")},
        "right_pooled": {k: _probs(c) for k, c in right.items() if k[:2] in ("s\t", "l\t")},
        "suffixes": {k: sorted(x for x, n in c.items() if n >= _MIN_SUFFIX_COUNT) for k, c in suffixes.items()},
        "literal": _literal_forms(samples, forms, {x for c in suffixes.values() for x, n in c.items()
                                                  if n >= _MIN_SUFFIX_COUNT}),
        "generic": _generic_lists(intent_slots),
        "window": {**_window_ratios({k: c for k, c in window.items() if k[0] != "<"}),
                   **_window_ratios({k: c for k, c in window.items() if k[0] == "<"})},
    }


def _surface_forms(expr, data: LanguageData) -> list[str]:
    try:
        out = []
        for i, text in enumerate(sample_expression(expr, data.slot_lists, data.rules, language=data.language)):
            if i >= _MAX_FORMS_PER_VALUE:
                break
            out.append(text)
        return out
    except Exception:  # noqa: BLE001 - a value that cannot be expanded is simply not matchable
        return []


def _literal_forms(samples: list[Sample], forms: dict[str, set], suffixes: set[str]) -> dict[str, list[str]]:
    """Per intent, the list forms (also with a glued-on ending) its training sentences
    mostly use outside any slot."""
    keys = {tuple(k.split(" ")) for k in forms}
    max_len = max((len(k) for k in keys), default=0)
    suffix_lengths = sorted({len(x) for x in suffixes})

    def is_form(key: tuple[str, ...]) -> bool:
        if key in keys:
            return True
        last = key[-1]
        return any(len(last) - k >= 2 and last[-k:] in suffixes and key[:-1] + (last[:-k],) in keys
                   for k in suffix_lengths)

    inside: Counter = Counter()
    outside: Counter = Counter()
    for sample, toks in distinct_tokenized(samples):
        words = toks.words
        ranges = slot_token_ranges(toks, sample.slots)
        exact = set(ranges)
        n = len(words)
        for i in range(n):
            for length in range(1, min(max_len, n - i) + 1):
                key = words[i : i + length]
                if not is_form(key):
                    continue
                if (i, i + length) in exact:
                    inside[sample.intent, key] += 1
                elif not any(a < i + length and i < b for a, b in ranges):
                    outside[sample.intent, key] += 1
    out: dict[str, list[str]] = defaultdict(list)
    for (intent, key), n_out in outside.items():
        if n_out >= _LITERAL_MIN and n_out >= _LITERAL_SHARE * (n_out + inside[intent, key]):
            out[intent].append(" ".join(key))
    return {k: sorted(v) for k, v in out.items()}


def distinct_tokenized(samples: list[Sample]):
    """``(sample, tokens)`` for each distinct sentence text, first occurrence only."""
    seen: set[str] = set()
    for sample in samples:
        if sample.text not in seen:
            seen.add(sample.text)
            yield sample, tokenize(sample.text)


def slot_token_ranges(toks: Tokens, slots) -> list[tuple[int, int]]:
    """Token (first, last + 1) of each sample slot's character span."""
    return [_token_range(toks, s.start, s.end) for s in slots]


def _token_range(toks: Tokens, start: int, end: int) -> tuple[int, int]:
    first = last = None
    for i, (a, b) in enumerate(toks.spans):
        if b > start and a < end:
            if first is None:
                first = i
            last = i + 1
    if first is None:
        return 0, 0
    return first, last


def _generic_lists(intent_slots: dict[str, dict[str, set[str]]]) -> dict[str, str]:
    """Text lists that at least _GENERIC_SHARE of the intents take, with their commonest slot name."""
    if len(intent_slots) < 4:
        return {}
    names: dict[str, Counter] = defaultdict(Counter)
    for lists in intent_slots.values():
        for list_name, slot_names in lists.items():
            names[list_name].update(slot_names)
    share = {ln: sum(ln in lists for lists in intent_slots.values()) / len(intent_slots) for ln in names}
    return {ln: c.most_common(1)[0][0] for ln, c in names.items() if share[ln] >= _GENERIC_SHARE}


def _window_ratios(window: dict[str, Counter]) -> dict[str, dict[str, float]]:
    """Per "list\tslot": clipped log(P(word | slot's window) / P(word | any window)), the
    slot's counts smoothed towards the pooled distribution; "<unk>" for words it never saw."""
    pooled: Counter = Counter()
    for c in window.values():
        pooled.update(c)
    total = sum(pooled.values())
    if not total:
        return {}
    lo, hi = _WINDOW_CLIP
    out: dict[str, dict[str, float]] = {}
    for key, c in window.items():
        n = sum(c.values())
        if n < 5:
            continue
        ratios = {}
        for w, k in c.items():
            bg = pooled[w] / total
            ratios[w] = min(hi, max(lo, math.log((k + _WINDOW_ALPHA * bg) / (n + _WINDOW_ALPHA) / bg)))
        ratios["<unk>"] = max(lo, math.log(_WINDOW_ALPHA / (n + _WINDOW_ALPHA)))
        out[key] = ratios
    return out


def _probs(counts: Counter) -> dict[str, float]:
    total = sum(counts.values()) + len(counts) + 1.0
    out = {w: (c + 1.0) / total for w, c in counts.items()}
    out["<unk>"] = 1.0 / total
    return out


def _log_probs(counts: Counter) -> dict[str, float]:
    total = sum(counts.values()) + len(counts) + 1.0
    out = {w: math.log((c + 1.0) / total) for w, c in counts.items()}
    out["<unk>"] = math.log(1.0 / total)
    return out
