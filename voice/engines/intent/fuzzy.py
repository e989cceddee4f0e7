"""Approximate matching of slot values: a character-trigram index per slot list.

``SlotMatcher`` falls back to it for lists the intent expects but nothing in the text
matched exactly (ASR slips): the best window of words whose trigram Dice coefficient with a
list's surface form reaches ``_FUZZY_MIN_DICE``.
"""

from __future__ import annotations

import math
from collections import defaultdict

_FUZZY_MIN_DICE = 0.75
_FUZZY_MAX_FORMS = 400
_FUZZY_SIZE_RATIO = 0.75  # smaller / larger trigram set, below which a pair is not compared


class FuzzyIndex:
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
