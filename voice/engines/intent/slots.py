"""Slot filling by span matching against the domain's slot lists.

Candidates are spans of the normalised text that match a list value (text lists), a
number in a list's range, or a clock time. Which slot a candidate fills is decided by the
predicted intent (which slots its templates use) and by a small learned context model:
counts of the words left and right of each slot in the training sentences.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from hassil.intents import RangeSlotList, TextSlotList
from hassil.sample import sample_expression

from .corpus import LanguageData, Sample, Template, template_slot_lists
from .numbers import NumberSpan, TimeSpan, format_number
from .text import Tokens, tokenize
from ...core.intents import Slot

_MAX_FORMS_PER_VALUE = 64
_FUZZY_MIN_DICE = 0.75
_FUZZY_MAX_FORMS = 400
_FUZZY_SIZE_RATIO = 0.75  # smaller / larger trigram set, below which a pair is not compared
_MIN_SUFFIX_COUNT = 2
# a list form that an intent's training sentences use as plain words at least this often
# (and at least twice) is not taken as a slot of that intent ("the thermostat" in "set
# the thermostat to 20" is part of the phrasing, not the device name)
_LITERAL_SHARE = 0.5
_LITERAL_MIN = 2
# slot context mixture: the intent's own counts, the slot name's over all intents, the list's
_W_OWN, _W_SLOT, _W_LIST = 0.6, 0.25, 0.15
# context windows: up to _WINDOW words on each side of a slot (stopping at another slot,
# or at a number at query time), scored per (list, slot name) as a clipped log ratio against
# all slots' windows on that side, so a unit word a few words on decides the slot
# ("29 and a half hours" -> hours 29, minutes 30; "17 horas y 3/4" -> minutes 45)
_WINDOW = 4
_WINDOW_ALPHA = 5.0
_WINDOW_CLIP = (-2.0, 3.0)
_WINDOW_WEIGHTS = {"": 0.5, "<": 0.5}  # right, left


@dataclass(frozen=True)
class _Candidate:
    start: int
    end: int
    list_name: str
    value: str
    exact: bool = True


class SlotMatcher:
    """Finds slot values in tokenised text for a given intent."""

    def __init__(self, state: dict[str, Any]):
        self.forms: dict[tuple[str, ...], list[tuple[str, str]]] = {
            tuple(k.split(" ")): [tuple(e) for e in v] for k, v in state["forms"].items()
        }
        self.max_len = max((len(k) for k in self.forms), default=1)
        self.ranges: dict[str, tuple[float, float]] = {k: tuple(v) for k, v in state["ranges"].items()}
        self.time_lists: set[str] = set(state["time_lists"])
        # intent -> list name -> [slot names]
        self.intent_slots: dict[str, dict[str, list[str]]] = state["intent_slots"]
        self.prior: dict[str, float] = state["prior"]
        self.left: dict[str, dict[str, float]] = state["left"]
        self.right: dict[str, dict[str, float]] = state["right"]
        # back-off context: per slot name over all intents, and per list (held-out phrasings)
        self.left_pooled: dict[str, dict[str, float]] = state.get("left_pooled", {})
        self.right_pooled: dict[str, dict[str, float]] = state.get("right_pooled", {})
        # intent -> forms its training sentences use as plain words, not as slots
        self.literal: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in state.get("literal", {}).items()}
        # lists most intents take (rooms, floors, device names) -> their usual slot name; an
        # intent whose training templates never name one still gets it when the text does
        self.generic: dict[str, str] = state.get("generic", {})
        # "list\tslot" (right of the slot) and "<list\tslot" (left of it) -> word -> clipped
        # log ratio of the word in that window against all slots' windows on that side
        self.window: dict[str, dict[str, float]] = state.get("window", {})
        self._window_words = frozenset(w for ratios in self.window.values() for w in ratios if w != "<unk>")
        # list name -> endings the templates glue onto its values ("{area}ets" -> "kokets")
        self.suffixes: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in state.get("suffixes", {}).items()}
        self._suffix_lengths = sorted({len(x) for v in self.suffixes.values() for x in v}, reverse=True)
        # list name -> surface forms (for the fuzzy fallback)
        self._forms_by_list: dict[str, list[tuple[str, tuple[str, ...], str]]] = defaultdict(list)
        for key, entries in self.forms.items():
            for list_name, value in entries:
                self._forms_by_list[list_name].append((" ".join(key), key, value))
        # built eagerly (not on the first query that needs it): list name -> _FuzzyIndex
        self._fuzzy_index: dict[str, _FuzzyIndex] = {
            name: _FuzzyIndex(forms) for name, forms in self._forms_by_list.items()
        }
        # trigram -> forms with it, over all lists: windows try their rarest trigrams first
        self._fuzzy_df: dict[str, int] = Counter()
        for index in self._fuzzy_index.values():
            self._fuzzy_df.update(index.df)

    def state(self) -> dict[str, Any]:
        return {
            "forms": {" ".join(k): [list(e) for e in v] for k, v in self.forms.items()},
            "ranges": {k: list(v) for k, v in self.ranges.items()},
            "time_lists": sorted(self.time_lists),
            "intent_slots": self.intent_slots,
            "prior": self.prior,
            "left": self.left,
            "right": self.right,
            "suffixes": {k: sorted(v) for k, v in self.suffixes.items()},
            "left_pooled": self.left_pooled,
            "right_pooled": self.right_pooled,
            "literal": {k: sorted(v) for k, v in self.literal.items()},
            "window": self.window,
            "generic": self.generic,
        }

    @classmethod
    def build(cls, data: LanguageData, templates: list[Template], samples: list[Sample]) -> SlotMatcher:
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
                stop_r = min([a for a, _b in slot_ranges if a >= last] + [last + _WINDOW])
                stop_l = max([b for _a, b in slot_ranges if b <= first] + [first - _WINDOW, 0])
                window[slot.list_name + "\t" + slot.name].update(toks.words[last:stop_r])
                window["<" + slot.list_name + "\t" + slot.name].update(toks.words[stop_l:first])
        state = {
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
        return cls(state)

    def slot_names(self, intent: str) -> list[str]:
        return sorted({s for names in self.intent_slots.get(intent, {}).values() for s in names})

    def extract(self, text: str, toks: Tokens, numbers: list[NumberSpan], times: list[TimeSpan],
                intent: str) -> tuple[Slot, ...]:
        wanted = self.intent_slots.get(intent)
        if not wanted:
            return ()
        extra: dict[str, list[str]] = {}
        if self.generic:
            taken_names = {name for names in wanted.values() for name in names}
            extra = {ln: [name] for ln, name in self.generic.items()
                     if ln not in wanted and name not in taken_names}
            if extra:
                wanted = {**wanted, **extra}
        literal = self.literal.get(intent, frozenset())
        words = toks.words
        cands: list[_Candidate] = []
        n = len(words)
        for i in range(n):
            for length in range(min(self.max_len, n - i), 0, -1):
                entries = self.forms.get(words[i : i + length])
                if entries and literal and " ".join(words[i : i + length]) in literal:
                    entries = None
                if entries:
                    for list_name, value in entries:
                        if list_name in wanted:
                            cands.append(_Candidate(i, i + length, list_name, value))
                if self._suffix_lengths:
                    self._suffixed(words, i, length, wanted, cands, literal)
        for span in numbers:
            for list_name, (lo, hi) in self.ranges.items():
                if list_name in wanted and lo <= span.value <= hi:
                    cands.append(_Candidate(span.start, span.end, list_name, format_number(span.value)))
        for span in times:
            for list_name in self.time_lists:
                if list_name in wanted:
                    cands.append(_Candidate(span.start, span.end, list_name, span.value))
        if extra:
            # a generic list only takes words none of the intent's own lists matched
            own = [c for c in cands if c.list_name not in extra]
            cands = own + [c for c in cands if c.list_name in extra
                           and not any(o.start < c.end and c.start < o.end for o in own)]
        found_lists = {c.list_name for c in cands}
        missing = [ln for ln in wanted if ln not in found_lists and ln not in extra and ln in self._forms_by_list]
        if missing:
            cands.extend(self._fuzzy(words, missing))

        # numbers and times end a slot's context window, as other slots do in training
        barrier = [False] * n
        for span in [*numbers, *times]:
            for k in range(span.start, span.end):
                barrier[k] = True
        scored: list[tuple[float, int, _Candidate, str]] = []
        for c in cands:
            # every slot name the list can fill, so a span whose best name is taken by an
            # earlier one ("add 31 minutes to my 75 minute timer") falls back to the next
            penalty = 0.0 if c.exact else -2.0
            for slot_name in wanted[c.list_name]:
                s = self._score(intent, slot_name, words, c.start, c.end, c.list_name, barrier)
                scored.append((s + penalty, c.end - c.start, c, slot_name))
        scored.sort(key=lambda x: (-x[1] if x[2].exact else 0, -x[0], x[2].start))
        taken = [False] * n
        used: set[str] = set()
        slots: list[Slot] = []
        for _score, _length, c, name in scored:
            if name in used or any(taken[c.start : c.end]):
                continue
            for k in range(c.start, c.end):
                taken[k] = True
            used.add(name)
            start, end = toks.char_span(c.start, c.end)
            slots.append(Slot(name, c.value, start, end))
        slots.sort(key=lambda s: s.start)
        return tuple(slots)

    def _suffixed(self, words: tuple[str, ...], i: int, length: int, wanted, cands: list[_Candidate],
                  literal: frozenset[str]) -> None:
        """Values whose last word carries an ending learned from the templates ("sovrummets")."""
        last = words[i + length - 1]
        if literal and " ".join(words[i : i + length]) in literal:
            return
        for k in self._suffix_lengths:
            if len(last) - k < 2:
                continue
            suffix = last[-k:]
            entries = self.forms.get(words[i : i + length - 1] + (last[:-k],))
            if entries:
                for list_name, value in entries:
                    if list_name in wanted and suffix in self.suffixes.get(list_name, ()):
                        cands.append(_Candidate(i, i + length, list_name, value))

    def _score(self, intent: str, slot_name: str, words: tuple[str, ...], start: int, end: int,
               list_name: str = "", barrier: list[bool] | None = None) -> float:
        """log prior + log P(left word) + log P(right word) of this slot of this intent,
        plus the votes of the words in its context windows (up to ``barrier`` tokens).

        The word probabilities mix the intent's own counts with the slot's counts over all
        intents and the list's counts, so a phrasing the intent's templates lack ("99
        seconds" after a new verb) still favours the slot whose unit word it is.
        """
        key = intent + "\t" + slot_name
        score = math.log(self.prior.get(key, 0.0) + 1.0)
        lw = words[start - 1] if start > 0 else "<s>"
        rw = words[end] if end < len(words) else "</s>"
        score += self._side(self.left.get(key), self.left_pooled, slot_name, list_name, lw)
        score += self._side(self.right.get(key), self.right_pooled, slot_name, list_name, rw)
        stop_r, stop_l = min(len(words), end + _WINDOW), max(0, start - _WINDOW)
        if barrier:
            stop_r = next((k for k in range(end, stop_r) if barrier[k]), stop_r)
            stop_l = next((k + 1 for k in range(start - 1, stop_l - 1, -1) if barrier[k]), stop_l)
        for prefix, span in (("", words[end:stop_r]), ("<", words[stop_l:start])):
            ratios = self.window.get(prefix + list_name + "\t" + slot_name)
            if ratios:
                unseen = ratios["<unk>"]
                for w in span:
                    if w in self._window_words:
                        score += _WINDOW_WEIGHTS[prefix] * ratios.get(w, unseen)
        return score

    @staticmethod
    def _side(own: dict[str, float] | None, pooled: dict[str, dict[str, float]], slot_name: str,
              list_name: str, word: str) -> float:
        p_own = math.exp(own.get(word, own.get("<unk>", -8.0))) if own else math.exp(-8.0)
        if not pooled:
            return math.log(p_own)
        ps = pooled.get("s\t" + slot_name)
        pl = pooled.get("l\t" + list_name)
        p_slot = ps.get(word, ps["<unk>"]) if ps else 0.0
        p_list = pl.get(word, pl["<unk>"]) if pl else 0.0
        return math.log(_W_OWN * p_own + _W_SLOT * p_slot + _W_LIST * p_list + 1e-6)

    def _fuzzy(self, words: tuple[str, ...], lists: list[str]) -> list[_Candidate]:
        """Near matches for lists the intent expects but nothing matched exactly (ASR slips).

        Similarity is the Dice coefficient of character trigrams between a window of 1 to
        ``max_len + 1`` words and a list's surface form of about as many words. Forms are
        looked up through an inverted trigram index, so only forms sharing a trigram with the
        window are scored: a query costs the size of its posting lists, not of the list.
        """
        out: list[_Candidate] = []
        n = len(words)
        window_grams: dict[tuple[int, int], tuple[frozenset[str], list[str]]] = {}
        df = self._fuzzy_df
        for list_name in lists:
            index = self._fuzzy_index.get(list_name)
            if index is None:
                continue
            best = index.best(words, n, window_grams, df)
            if best is not None:
                i, length, value = best
                out.append(_Candidate(i, i + length, list_name, value, exact=False))
        return out


class _FuzzyIndex:
    """Character-trigram inverted index over the surface forms of one slot list."""

    __slots__ = ("df", "grams", "kwords", "lengths", "postings", "sizes", "values")

    def __init__(self, forms: list[tuple[str, tuple[str, ...], str]]):
        kept = [(text, key, value) for text, key, value in forms if len(text) >= 4][:_FUZZY_MAX_FORMS]
        self.sizes: list[int] = []
        self.kwords: list[int] = []
        self.values: list[str] = []
        self.grams: list[frozenset[str]] = []
        self.df: dict[str, int] = {}  # trigram -> number of forms that have it
        # form word count k -> trigram -> ids of forms with k words, ascending
        self.postings: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for fid, (text, key, value) in enumerate(kept):
            grams = _trigrams(text)
            self.sizes.append(len(grams))
            self.kwords.append(len(key))
            self.values.append(value)
            self.grams.append(frozenset(grams))
            post = self.postings[len(key)]
            for g in grams:
                post[g].append(fid)
                self.df[g] = self.df.get(g, 0) + 1
        self.postings = {k: dict(v) for k, v in self.postings.items()}
        # window lengths worth trying: forms of k words match windows of k-1 .. k+1 words
        self.lengths = sorted({k + d for k in self.postings for d in (-1, 0, 1) if k + d >= 1})

    def best(self, words: tuple[str, ...], n: int,
             window_grams: dict[tuple[int, int], tuple[frozenset[str], list[str]]],
             df: dict[str, int]) -> tuple[int, int, str] | None:
        """(start, length, value) of the best window >= the Dice threshold, or None.

        Ties go to the earliest form, then the shortest window, then the leftmost one.
        """
        best_key: tuple[float, int, int, int] | None = None
        sizes, grams = self.sizes, self.grams
        for length in self.lengths:
            if length > n:
                break
            posts = [self.postings.get(k) for k in (length - 1, length, length + 1)]
            posts = [p for p in posts if p]
            if not posts:
                continue
            for i in range(n - length + 1):
                cached = window_grams.get((i, length))
                if cached is None:
                    wg = frozenset(_trigrams(" ".join(words[i : i + length])))
                    cached = window_grams[(i, length)] = (wg, sorted(wg, key=lambda g: df.get(g, 0)))
                wg, by_rarity = cached
                nw = len(wg)
                if not nw:
                    continue
                # prefix filter: a form within the size ratio reaching the Dice threshold shares
                # at least `need` of the window's trigrams, hence one of its nw - need + 1 rarest
                need = math.ceil(_FUZZY_MIN_DICE * (1.0 + _FUZZY_SIZE_RATIO) / 2.0 * nw - 1e-9)
                rare = by_rarity[: max(1, nw - need + 1)]
                found: set[int] = set()
                for post in posts:
                    for g in rare:
                        ids = post.get(g)
                        if ids:
                            found.update(ids)
                for f in found:
                    nf = sizes[f]
                    if min(nw, nf) < _FUZZY_SIZE_RATIO * max(nw, nf):
                        continue
                    dice = 2.0 * len(grams[f] & wg) / (nf + nw)
                    if dice < _FUZZY_MIN_DICE:
                        continue
                    key = (-dice, f, length, i)
                    if best_key is None or key < best_key:
                        best_key = key
        if best_key is None:
            return None
        _d, f, length, i = best_key
        return i, length, self.values[f]


def _trigrams(text: str) -> set[str]:
    padded = " " + text + " "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


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


_GENERIC_SHARE = 0.3


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
