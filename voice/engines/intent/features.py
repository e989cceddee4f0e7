"""Sparse text features: word uni/bigrams and character 3-5-grams over normalised tokens.

Numbers (digits or spelled out) become ``#`` first, so "five minutes" and "5 minutes"
look alike. Character n-grams run across word boundaries, which keeps a sentence
recognisable when ASR merges or splits words or misspells one.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

NUMBER_TOKEN = "#"
_CHAR_NGRAMS = (3, 4, 5)


def feature_strings(words: Iterable[str], delexed: Iterable[str] | None = None) -> list[str]:
    """Feature strings of a normalised token sequence (numbers already replaced).

    ``delexed`` is the same sequence with slot values replaced by placeholders
    (:class:`Delexicaliser`); when it differs, its word uni/bigrams that touch a
    placeholder are added, so "start <name>" and "clean <area>" look like what they are
    whatever the device or room is called.
    """
    words = list(words)
    feats: list[str] = []
    if delexed is not None:
        delexed = list(delexed)
        if delexed != words:
            padded = ["<s>", *delexed, "</s>"]
            for w in delexed:
                if w[:1] == "<":
                    feats.append("d" + w)
            for a, b in zip(padded, padded[1:]):
                if a[:1] == "<" and a != "<s>" or b[:1] == "<" and b != "</s>":
                    feats.append("D" + a + " " + b)
    padded = ["<s>", *words, "</s>"]
    for w in words:
        feats.append("w" + w)
    for a, b in zip(padded, padded[1:]):
        feats.append("b" + a + " " + b)
    line = " " + " ".join(words) + " "
    for n in _CHAR_NGRAMS:
        for i in range(len(line) - n + 1):
            feats.append(line[i : i + n])
    return feats


class Delexicaliser:
    """Replaces slot values (device, room, colour names...) by ``<list>`` placeholders.

    ``forms`` maps a normalised word sequence to its placeholder. Matching is greedy,
    longest first, left to right, so "kitchen speaker" wins over "kitchen".
    """

    def __init__(self, forms: dict[tuple[str, ...], str]):
        self.forms = dict(forms)
        self.max_len = max((len(k) for k in self.forms), default=0)

    def __call__(self, words: list[str]) -> list[str]:
        if not self.forms:
            return words
        out: list[str] = []
        n = len(words)
        i = 0
        get = self.forms.get
        while i < n:
            for length in range(min(self.max_len, n - i), 0, -1):
                tag = get(tuple(words[i : i + length]))
                if tag is not None:
                    out.append(tag)
                    i += length
                    break
            else:
                out.append(words[i])
                i += 1
        return out

    def state(self) -> dict[str, str]:
        return {" ".join(k): v for k, v in self.forms.items()}

    @classmethod
    def from_state(cls, state: dict[str, str]) -> "Delexicaliser":
        return cls({tuple(k.split(" ")): v for k, v in state.items()})


class Vocabulary:
    """Feature string -> column index, fixed after training."""

    def __init__(self, items: Iterable[str] = ()):
        self.index: dict[str, int] = {}
        for s in items:
            self.index.setdefault(s, len(self.index))

    def __len__(self) -> int:
        return len(self.index)

    def add_all(self, feats: Iterable[str]) -> None:
        for f in feats:
            if f not in self.index:
                self.index[f] = len(self.index)

    def items(self) -> list[str]:
        out = [""] * len(self.index)
        for s, i in self.index.items():
            out[i] = s
        return out

    def vectorize(self, feats: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Indices and L2-normalised counts of the known features."""
        counts: dict[int, float] = {}
        get = self.index.get
        for f in feats:
            j = get(f)
            if j is not None:
                counts[j] = counts.get(j, 0.0) + 1.0
        if not counts:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        idx = np.fromiter(counts.keys(), np.int32, len(counts))
        val = np.fromiter(counts.values(), np.float32, len(counts))
        val /= np.float32(np.sqrt(float(val @ val)))
        return idx, val


def to_csr(rows: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stack (indices, values) rows into CSR arrays (indptr int64, indices int32, values float32)."""
    indptr = np.zeros(len(rows) + 1, np.int64)
    for i, (idx, _val) in enumerate(rows):
        indptr[i + 1] = indptr[i] + len(idx)
    if rows:
        indices = np.concatenate([r[0] for r in rows]).astype(np.int32, copy=False)
        values = np.concatenate([r[1] for r in rows]).astype(np.float32, copy=False)
    else:
        indices = np.zeros(0, np.int32)
        values = np.zeros(0, np.float32)
    return indptr, indices, values
