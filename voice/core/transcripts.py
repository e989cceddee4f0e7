"""What a recogniser is asked (:class:`DecodeOptions`) and what it answers (:class:`Transcript`).

Plain types shared by the engines, the streaming core and the service; times are seconds
relative to the decoded audio.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Word:
    word: str
    start: float  # seconds, relative to the decoded audio
    end: float
    confidence: float


@dataclass(frozen=True)
class Hypothesis:
    """Another reading of the same audio (n-best): its text and confidence (0-1)."""

    text: str
    confidence: float


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    language_probability: float
    confidence: float
    words: tuple[Word, ...] = ()
    language_probs: dict = field(default_factory=dict, compare=False, repr=False)
    # the decoder's next-best distinct readings after ``text``, best first (DecodeOptions.alternatives)
    alternatives: tuple[Hypothesis, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.text


@dataclass(frozen=True)
class DecodeOptions:
    language: str | None = None  # model language code; None = detect
    # detection restricted to these (the declared ``language`` first, preferred); () = any
    candidates: tuple[str, ...] = ()
    word_timestamps: bool = False
    beam_size: int = 5
    interim: bool = False  # cheaper settings for interim re-decodes
    prefix: str = ""  # committed text the hypothesis must start with
    hints: tuple[str, ...] = ()  # phrase hints (prompted to the decoder)
    # with candidates: how many times as likely another candidate must be to beat
    # ``language`` (the stream's preferred one; voice.core.languages)
    language_margin: float = 2.0
    expect: str = "free"  # the expected answer (voice.core.answers.Expect value): constrains decoding
    task: str = "transcribe"  # or "translate": Whisper's translation into English
    temperature: float | None = None  # first sampling temperature; None = 0 (greedy/beam), with fallback
    # readings wanted (n-best): 1 = the best only; more come from the beam's hypotheses, at
    # most ``beam_size`` (finals only: an interim decode is greedy)
    alternatives: int = 1
    # (min, max) characters of a digits / spelling answer (0 = no bound): a final is the best of
    # the beam's readings whose answer has that length (voice.core.answers.pick_reading)
    answer_length: tuple[int, int] = (0, 0)
