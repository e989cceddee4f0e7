"""Text normalisation shared by training and inference.

Everything the model sees goes through :func:`tokenize`: case folded, accents removed,
punctuation dropped, digits split from letters. Each token keeps the character span it
came from in the caller's text, so slots can point back into the original string.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Characters kept inside a token when they sit between two digits ("12:30", "1.500", "2,5").
_DIGIT_JOINERS = frozenset(":.,")


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    """Case-fold one character and strip its accents ("É" -> "e", "ß" -> "ss")."""
    decomposed = unicodedata.normalize("NFKD", ch.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _kind(ch: str) -> int:
    """0 = separator, 1 = letter, 2 = digit."""
    if ch.isdigit():
        return 2
    if ch.isalpha():
        return 1
    return 0


@dataclass(frozen=True)
class Tokens:
    """Normalised tokens of a text with their character spans in the original text."""

    words: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]

    def __len__(self) -> int:
        return len(self.words)

    def char_span(self, first: int, last: int) -> tuple[int, int]:
        """Character span covering tokens ``first`` .. ``last - 1``."""
        return self.spans[first][0], self.spans[last - 1][1]


def tokenize(text: str) -> Tokens:
    """Split ``text`` into normalised tokens with their original character spans."""
    words: list[str] = []
    spans: list[tuple[int, int]] = []
    buf: list[str] = []
    start = 0
    prev_kind = 0
    n = len(text)

    def flush(end: int) -> None:
        if buf:
            words.append("".join(buf))
            spans.append((start, end))
            buf.clear()

    for i, ch in enumerate(text):
        kind = _kind(ch)
        if kind == 0:
            if (
                ch in _DIGIT_JOINERS
                and prev_kind == 2
                and i + 1 < n
                and text[i + 1].isdigit()
                and buf
            ):
                buf.append(ch)
                continue
            flush(i)
            prev_kind = 0
            continue
        folded = _fold_char(ch) if kind == 1 else ch
        if kind == 2 and not ch.isascii():
            folded = str(unicodedata.digit(ch, 0))
        if not folded:
            continue
        if buf and prev_kind != kind:
            # "5pm" -> "5", "pm"; "15h30" -> "15", "h", "30"
            flush(i)
        if not buf:
            start = i
        buf.extend(folded)
        prev_kind = kind
    flush(n)
    return Tokens(tuple(words), tuple(spans))


def normalize(text: str) -> str:
    """Normalised form of ``text`` as one space-joined string."""
    return " ".join(tokenize(text).words)
