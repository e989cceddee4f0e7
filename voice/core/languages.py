"""Language codes, in one place: BCP-47 tags from clients, base codes for models, and the
policy that picks a stream's language among its candidates. Pure logic.

The rule for a stream with several candidate languages (:func:`pick_language`,
:class:`StreamLanguage`):

* the *preferred* language is the one the stream has been speaking (its history), else the
  declared one;
* an utterance shorter than :data:`LANGUAGE_SWITCH_MIN_S` of audio keeps the preferred
  language without detection: a digit or a "oui" is too little to switch on; so does an
  expected answer (digits, a date, yes/no: :mod:`voice.core.answers`) of any length;
* a longer one switches only when another candidate is :data:`DECLARED_LANGUAGE_MARGIN`
  times as likely as the declared language, :data:`HISTORY_LANGUAGE_MARGIN` times as likely
  as a language the stream has spoken;
* the history is the language of the last final that carried one: the first such final
  sets it, later ones change it only when at least :data:`LANGUAGE_SWITCH_MIN_S` long;
* numerals and punctuation carry no language (:func:`carries_language`): a final such as
  "3, 2, 3, 2." neither sets nor changes the stream's language, and is reported in the
  preferred language; an interim like it commits no language for its utterance;
* an interim's language is reused for the rest of its utterance (its later interims and its
  final, :func:`interim_commits_language`) only when it is the preferred language and the
  interim heard :data:`LANGUAGE_DECISION_MIN_S`, or when it is another language detected on
  at least :data:`LANGUAGE_SWITCH_MIN_S` with probability :data:`INTERIM_LANGUAGE_MIN_P`: a
  first interim of a Spanish prompt heard as Italian must not force its final into Italian.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# the declared language wins unless another candidate is this many times more likely
DECLARED_LANGUAGE_MARGIN = 2.0
# a language the stream has spoken wins unless another is this many times more likely
HISTORY_LANGUAGE_MARGIN = 4.0
# utterances (seconds of decoded audio) shorter than this never switch the language
LANGUAGE_SWITCH_MIN_S = 2.0
# an interim must have heard this much audio before its language is reused for its utterance
LANGUAGE_DECISION_MIN_S = 1.5
# ... and, for a language other than the preferred one, be at least this sure of it
INTERIM_LANGUAGE_MIN_P = 0.8
# letters (in words of two or more) a text needs before it says anything about its language
MIN_LANGUAGE_LETTERS = 3


def normalize_bcp47(code: str | None) -> str:
    """A client's tag in BCP-47 form: separators as "-", stripped ("pt_BR " -> "pt-BR"); "" if none."""
    return (code or "").strip().replace("_", "-")


def base_language(code: str | None) -> str:
    """The lower-case primary subtag ("en-US", "pt_BR" -> "en", "pt"); "" when empty."""
    return normalize_bcp47(code).split("-")[0].lower()


def normalize_language(code: str | None) -> str | None:
    """A client's tag as a model language code ("en-US" -> "en"); empty -> None (detect)."""
    return base_language(code) or None


def same_language(a: str, b: str) -> bool:
    """Do two tags name the same language ("en-US" vs "en", "de_DE" vs "de-de")?"""
    return base_language(a) == base_language(b)


def resolve_language(code: str, available: Sequence[str]) -> str | None:
    """Best of ``available`` for a tag: exact (case- and separator-insensitive), then its base."""
    if not code:
        return None
    lowered = {a.lower(): a for a in available}
    norm = normalize_bcp47(code).lower()
    if norm in lowered:
        return lowered[norm]
    return lowered.get(base_language(code))


def pick_language(probs: Mapping[str, float], candidates: tuple[str, ...], declared: str | None,
                  margin: float = DECLARED_LANGUAGE_MARGIN) -> str:
    """Most likely candidate language; the preferred one (``declared``) is kept unless another
    is ``margin`` times as likely."""
    best = max(candidates, key=lambda c: probs.get(c, 0.0))
    if declared and declared in candidates and probs.get(best, 0.0) < margin * probs.get(declared, 0.0):
        return declared
    return best


def keeps_language(seconds: float, preferred: str | None, candidates: Sequence[str], answer: bool = False) -> bool:
    """Is an utterance of ``seconds`` too short to leave ``preferred`` (no detection at all)?
    An expected answer (``answer``: digits, a date, yes/no...) keeps it however long: the
    prompt asked in that language, and detection on digit strings is no evidence (8 kHz
    Spanish digits detected as another language came back as runs of wrong digits)."""
    return bool(preferred) and preferred in candidates and (answer or seconds < LANGUAGE_SWITCH_MIN_S)


def carries_language(text: str) -> bool:
    """Does ``text`` say anything about its language? Digits, punctuation and lone letters
    do not ("3, 2, 3, 2.", "A, B, 4"); words do ("trois", "oui")."""
    letters = 0
    for word in text.split():
        n = sum(1 for c in word if unicodedata.category(c).startswith("L"))
        if n >= 2:
            letters += n
    return letters >= MIN_LANGUAGE_LETTERS


def interim_commits_language(language: str, probability: float, seconds: float, text: str,
                             preferred: str | None) -> bool:
    """May an interim's ``language`` (detected with ``probability`` on ``seconds`` of audio,
    reading ``text``) be reused for the rest of its utterance? (The rule in this module's doc.)"""
    if not language or not carries_language(text):
        return False
    if preferred and language == preferred:
        return seconds >= LANGUAGE_DECISION_MIN_S
    return seconds >= LANGUAGE_SWITCH_MIN_S and probability >= INTERIM_LANGUAGE_MIN_P


@dataclass
class StreamLanguage:
    """One stream's language state: the declared language, the candidates and the language
    its finals have been in (the history), per the rule in this module's doc."""

    declared: str | None = None
    candidates: tuple[str, ...] = ()
    spoken: str | None = None  # the language of the stream's last final that carried one

    @property
    def preferred(self) -> str | None:
        return self.spoken or self.declared

    @property
    def margin(self) -> float:
        return HISTORY_LANGUAGE_MARGIN if self.spoken else DECLARED_LANGUAGE_MARGIN

    def observe(self, language: str, text: str, seconds: float) -> str:
        """A final in ``language`` with ``text`` from ``seconds`` of audio: update the history
        and return the language to report for it."""
        if not carries_language(text):
            return self.preferred or language
        if language and (not self.candidates or language in self.candidates) and (
                seconds >= LANGUAGE_SWITCH_MIN_S or self.preferred is None):
            self.spoken = language
        return language
