"""LocalAgreement: turn successive interim hypotheses into a committed prefix and a tail.

A word is committed once two consecutive hypotheses agree on it (and on every word before
it), and committed words never change. The newest ``holdback`` words (2) of a hypothesis are
never committed: the audio may have cut the last one in half, and Whisper often rewrites the
word before it once it hears the rest ("follow" -> "followed by"). Comparison ignores case and punctuation, so "on." and
"on" agree; the committed text keeps the spelling of the hypothesis that committed it.
Pure logic, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

W = TypeVar("W")

_STRIP = re.compile(r"[^\w']+", re.UNICODE)


def word_key(word: str) -> str:
    return _STRIP.sub("", word.lower())


@dataclass
class LocalAgreement(Generic[W]):
    """Feed hypotheses (sequences of words, or of word objects with ``key``) per utterance."""

    committed: list = field(default_factory=list)
    _previous: list = field(default_factory=list)
    holdback: int = 2

    @staticmethod
    def _key(word) -> str:
        return word_key(word if isinstance(word, str) else word.word)

    def update(self, hypothesis: Sequence[W]) -> tuple[list[W], list[W]]:
        """Add a hypothesis; return (committed words, unstable tail words)."""
        hyp = list(hypothesis)
        n = len(self.committed)
        keys = [self._key(w) for w in hyp]
        if [self._key(w) for w in self.committed] != keys[:n]:
            # the new hypothesis contradicts committed words: keep them, show its rest as tail
            self._previous = hyp
            return list(self.committed), self._tail_after_committed(hyp)
        prev_keys = [self._key(w) for w in self._previous]
        i = n
        limit = min(len(keys), len(prev_keys), len(keys) - self.holdback)
        while i < limit and keys[i] == prev_keys[i]:
            i += 1
        self.committed.extend(hyp[n:i])
        self._previous = hyp
        return list(self.committed), hyp[i:]

    def _tail_after_committed(self, hyp: list[W]) -> list[W]:
        """Words of ``hyp`` after the point that best lines up with the end of the commit."""
        keys = [self._key(w) for w in hyp]
        if not self.committed:
            return hyp
        last = self._key(self.committed[-1])
        n = len(self.committed)
        # the closest occurrence of the last committed word to where it should be
        positions = [j for j, k in enumerate(keys) if k == last]
        if positions:
            j = min(positions, key=lambda j: abs(j - (n - 1)))
            return hyp[j + 1:]
        return hyp[n:]

    def committed_text(self) -> str:
        return " ".join(w if isinstance(w, str) else w.word for w in self.committed).strip()

    def reset(self) -> None:
        self.committed = []
        self._previous = []
