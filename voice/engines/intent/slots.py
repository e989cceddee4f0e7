"""Slot filling by span matching against the domain's slot lists.

Candidates are spans of the normalised text that match a list value (text lists, also
with a learned glued-on ending, or approximately through ``fuzzy.FuzzyIndex``), a number in
a list's range, or a clock time. Which slot a candidate fills is decided by the predicted
intent (which slots its templates use) and by a small learned context model: counts of the
words left and right of each slot in the training sentences, and votes of the words in its
context windows. That model is learned by ``slot_training.build_slot_state``.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from .corpus import LanguageData, Sample, Template
from .fuzzy import FuzzyIndex
from .numbers import NumberSpan, TimeSpan, format_number
from .slot_training import WINDOW, build_slot_state
from .text import Tokens
from ...core.intents import Slot

# slot context mixture: the intent's own counts, the slot name's over all intents, the list's
_W_OWN, _W_SLOT, _W_LIST = 0.6, 0.25, 0.15
# weight of the context-window votes right ("") and left ("<") of a slot; windows span up
# to slot_training.WINDOW words
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
        # built eagerly (not on the first query that needs it): list name -> FuzzyIndex
        self._fuzzy_index: dict[str, FuzzyIndex] = {
            name: FuzzyIndex(forms) for name, forms in self._forms_by_list.items()
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
        """Learn the matcher from a language's templates and their sampled sentences
        (``slot_training.build_slot_state``)."""
        return cls(build_slot_state(data, templates, samples))

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
        stop_r, stop_l = min(len(words), end + WINDOW), max(0, start - WINDOW)
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

