"""Numbers and times in token streams, in any language unicode-rbnf can spell.

The word lexicon is built by spelling 0..999 (and the word for "thousand") with the
RBNF rules that ship with hassil, then inverting the table; digits are parsed directly.
Values are normalised: numbers as ``"12"`` / ``"2.5"``, times as ``"HH:MM"``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from .text import tokenize

_LOGGER = logging.getLogger(__name__)

_LEXICON_MAX = 999
_DIGITS_RE = re.compile(r"^\d+(?:[.,]\d+)*$")
_TIME_DIGITS_RE = re.compile(r"^(\d{1,2}):(\d{2})$")


def format_number(value: float) -> str:
    """Canonical text of a number: integers without a decimal point."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.6g}"


def parse_digits(token: str) -> float | None:
    """``"12"`` -> 12, ``"1.500"`` / ``"1,500"`` -> 1500, ``"2,5"`` / ``"2.5"`` -> 2.5."""
    if not _DIGITS_RE.match(token):
        return None
    parts = re.split(r"[.,]", token)
    if len(parts) == 1:
        return float(parts[0])
    if all(len(p) == 3 for p in parts[1:]):
        return float("".join(parts))  # thousands separators
    if len(parts) == 2:
        return float(parts[0] + "." + parts[1])
    return None


@dataclass(frozen=True)
class NumberSpan:
    """A number found in tokens ``start`` .. ``end - 1``."""

    start: int
    end: int
    value: float
    spelled: bool


class NumberLexicon:
    """Spelled-out numbers of one language, mapped back to values."""

    def __init__(
        self,
        language: str,
        table: dict[tuple[str, ...], int],
        thousand: tuple[str, ...],
        thousand_infixes: tuple[str, ...] = (),
    ):
        self.language = language
        self.table = table
        self.thousand = thousand
        # "tausend", "mila": the word for thousand inside compounds ("zweitausendfunf")
        self.thousand_infixes = thousand_infixes
        self.max_len = max((len(k) for k in table), default=1)

    @classmethod
    def build(cls, language: str) -> "NumberLexicon":
        table: dict[tuple[str, ...], int] = {}
        thousand: tuple[str, ...] = ()
        try:
            from hassil.numbers import get_rbnf_engine

            engine = get_rbnf_engine(language)
        except Exception:  # noqa: BLE001 - no spelling rules: digits only
            _LOGGER.info("No number spelling rules for %s; digits only", language)
            return cls(language, table, thousand)
        for number in range(_LEXICON_MAX, -1, -1):
            result = engine.format_number(number)
            for ruleset, text in result.text_by_ruleset.items():
                # ordinals, years and the like are not cardinals
                if "ordinal" in ruleset or "year" in ruleset:
                    continue
                key = tokenize(text).words
                if key:
                    table[key] = number
                    if "hundred" in key[:-1]:  # British "two hundred and fifty"
                        k = key.index("hundred") + 1
                        table[key[:k] + ("and",) + key[k:]] = number
        thousand_words = tokenize(engine.format_number(1000).text).words
        one = tokenize(engine.format_number(1).text).words
        if thousand_words[: len(one)] == one and len(thousand_words) > len(one):
            thousand_words = thousand_words[len(one):]
        if len(thousand_words) == 1 and len(one) == 1 and thousand_words[0].startswith(one[0]):
            stripped = thousand_words[0][len(one[0]):]
            if len(stripped) >= 3:
                thousand_words = (stripped,)  # "eintausend" -> "tausend"
        thousand = thousand_words
        infixes: set[str] = set()
        if len(thousand) == 1:
            infixes.add(thousand[0])
        two = tokenize(engine.format_number(2).text).words
        two_thousand = tokenize(engine.format_number(2000).text).words
        if len(two) == 1 and len(two_thousand) == 1 and two_thousand[0].startswith(two[0]):
            infixes.add(two_thousand[0][len(two[0]):])
        infixes = {w for w in infixes if len(w) >= 3}
        if len(thousand) == 1 and len(two) == 1 and len(two_thousand) == 1:
            plural = two_thousand[0][len(two[0]):]
            if plural and thousand[0].endswith(plural) and len(plural) >= 3:
                thousand = (plural,)  # "eintausend" -> "tausend" ("zwei tausend")
        return cls(language, table, thousand, tuple(sorted(infixes, key=len, reverse=True)))

    def spell(self, value: int) -> str | None:
        """One spelling of ``value`` (0..999), if known."""
        for key, number in self.table.items():
            if number == value:
                return " ".join(key)
        return None

    def find(self, words: tuple[str, ...]) -> list[NumberSpan]:
        """All numbers in ``words``, longest match first, non-overlapping, left to right."""
        spans: list[NumberSpan] = []
        i = 0
        n = len(words)
        while i < n:
            digit_value = parse_digits(words[i])
            if digit_value is not None:
                span = NumberSpan(i, i + 1, digit_value, False)
            else:
                span = self._match_words(words, i)
            if span is None:
                i += 1
                continue
            span = self._extend_thousands(words, span)
            spans.append(span)
            i = span.end
        return spans

    def _match_words(self, words: tuple[str, ...], i: int) -> NumberSpan | None:
        for length in range(min(self.max_len, len(words) - i), 0, -1):
            value = self.table.get(words[i : i + length])
            if value is not None:
                return NumberSpan(i, i + length, float(value), True)
        k = len(self.thousand)
        if k and words[i : i + k] == self.thousand:  # "mil doscientos", "thousand"
            return NumberSpan(i, i + k, 1.0, True)
        compound = self._compound(words[i])
        if compound is not None:
            return NumberSpan(i, i + 1, float(compound), True)
        return None

    def _compound(self, word: str) -> int | None:
        """"zweitausendfunfhundert" -> 2500, "duemilacinquecento" -> 2500."""
        for infix in self.thousand_infixes:
            head, sep, tail = word.partition(infix)
            if not sep:
                continue
            high = 1 if not head else self.table.get((head,))
            low = 0 if not tail else self.table.get((tail,))
            if high is not None and low is not None and high > 0:
                return high * 1000 + low
        return None

    def _extend_thousands(self, words: tuple[str, ...], span: NumberSpan) -> NumberSpan:
        """"two thousand five hundred" -> 2500 (for languages that separate the words)."""
        k = len(self.thousand)
        if not k or span.value >= 1000:
            return span
        if words[span.start : span.end] == self.thousand:  # bare "thousand ..."
            value, end = 1000.0, span.end
        elif words[span.end : span.end + k] == self.thousand:
            value, end = span.value * 1000, span.end + k
        else:
            return span
        rest = self._match_words(words, end) if end < len(words) else None
        if rest is not None and rest.value < 1000:
            value += rest.value
            end = rest.end
        return NumberSpan(span.start, end, value, True)


# --- times -----------------------------------------------------------------------------

# words that mark an hour ("15 uhr", "3 heures", "10 h 30", "3 o clock", "3 pm")
_HOUR_WORDS = {"h", "uhr", "heure", "heures", "hour", "hours", "horas", "hora", "ore", "oclock", "hs"}
_PM = {("pm",), ("p", "m")}
_AM = {("am",), ("a", "m")}
_HALF_AFTER = {  # "<hour> et demie" = hour:30
    ("et", "demie"), ("y", "media"), ("e", "mezza"), ("e", "mezzo"), ("thirty",),
}
_QUARTER_AFTER = {("et", "quart"), ("y", "cuarto"), ("e", "un", "quarto"), ("fifteen",)}


@dataclass(frozen=True)
class TimeSpan:
    start: int
    end: int
    value: str  # "HH:MM"


def _hhmm(hour: int, minute: int) -> str | None:
    if 0 <= hour <= 24 and 0 <= minute < 60:
        return f"{hour % 24:02d}:{minute:02d}"
    return None


def find_times(words: tuple[str, ...], numbers: list[NumberSpan]) -> list[TimeSpan]:
    """Clock times: "15:30", "3 pm", "15 uhr 30", "10 h", "half past three", "trois heures et demie"."""
    found: list[TimeSpan] = []
    by_start = {span.start: span for span in numbers}
    n = len(words)
    for i, word in enumerate(words):
        m = _TIME_DIGITS_RE.match(word)
        if m:
            value = _hhmm(int(m.group(1)), int(m.group(2)))
            end = i + 1
            if value and _suffix(words, end, _PM) and int(m.group(1)) < 12:
                value = _hhmm(int(m.group(1)) + 12, int(m.group(2)))
            end += _suffix_len(words, end, _PM | _AM)
            if value:
                found.append(TimeSpan(i, end, value))
            continue
        # "half past three" / "quarter past three" / "halb drei" (= 2:30)
        if word in ("half", "quarter") and i + 2 < n and words[i + 1] in ("past", "to"):
            span = by_start.get(i + 2)
            if span and span.value.is_integer() and 0 < span.value <= 12:
                hour = int(span.value)
                minute = 30 if word == "half" else 15
                if words[i + 1] == "to":
                    hour, minute = hour - 1, 60 - minute
                value = _hhmm(hour, minute)
                if value:
                    found.append(TimeSpan(i, span.end, value))
            continue
        if word == "halb" and i + 1 < n:
            span = by_start.get(i + 1)
            if span and span.value.is_integer() and 0 < span.value <= 24:
                value = _hhmm(int(span.value) - 1, 30)
                if value:
                    found.append(TimeSpan(i, span.end, value))
            continue
        span = by_start.get(i)
        if span is None or not span.value.is_integer() or span.value > 24:
            continue
        hour = int(span.value)
        j = span.end
        minute = 0
        marked = False
        if j < n and words[j] in _HOUR_WORDS:
            marked = True
            j += 1
            if j < n and words[j] == "clock" and words[j - 1] == "o":
                j += 1
        elif j + 1 < n and words[j] == "o" and words[j + 1] == "clock":
            marked = True
            j += 2
        # minutes after the hour marker: "15 uhr 30", "10 h 15"
        nxt = by_start.get(j)
        if marked and nxt and nxt.value.is_integer() and nxt.value < 60:
            minute = int(nxt.value)
            j = nxt.end
        else:
            for pattern, mins in ((_HALF_AFTER, 30), (_QUARTER_AFTER, 15)):
                k = _suffix_len(words, j, pattern)
                if k and (marked or pattern is _HALF_AFTER or pattern is _QUARTER_AFTER):
                    minute, j, marked = mins, j + k, True
                    break
        if _suffix(words, j, _PM):
            if hour < 12:
                hour += 12
            j += _suffix_len(words, j, _PM)
            marked = True
        elif _suffix(words, j, _AM):
            j += _suffix_len(words, j, _AM)
            marked = True
        if not marked:
            continue
        value = _hhmm(hour, minute)
        if value:
            found.append(TimeSpan(i, j, value))
    return _non_overlapping(found)


def _suffix(words: tuple[str, ...], j: int, patterns: set[tuple[str, ...]]) -> bool:
    return _suffix_len(words, j, patterns) > 0


def _suffix_len(words: tuple[str, ...], j: int, patterns: set[tuple[str, ...]]) -> int:
    for pattern in sorted(patterns, key=len, reverse=True):
        if words[j : j + len(pattern)] == pattern:
            return len(pattern)
    return 0


def _non_overlapping(spans: list[TimeSpan]) -> list[TimeSpan]:
    chosen: list[TimeSpan] = []
    taken: set[int] = set()
    for span in sorted(spans, key=lambda s: (s.start - s.end, s.start)):
        cover = set(range(span.start, span.end))
        if cover & taken:
            continue
        taken |= cover
        chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)
