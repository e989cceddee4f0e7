"""Recognition results as the service hands them out: stream times, words, stability.

:func:`build_result` turns an utterance (or interim audio) and its transcript into a
:class:`RecognitionResult`, with word times shifted from the decoded audio to the stream.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .answers import Answer
from .intents import IntentResult
from .session import InterimRequest, Utterance
from .transcripts import Hypothesis, Transcript


@dataclass(frozen=True)
class WordResult:
    word: str
    start: float  # stream seconds
    end: float
    confidence: float


@dataclass(frozen=True)
class RecognitionResult:
    transcript: str
    confidence: float
    is_final: bool
    stability: float
    start: float
    end: float
    language: str
    utterance_index: int
    latency: float  # seconds from the audio being complete to the result being ready
    words: tuple[WordResult, ...] = ()
    intent: IntentResult | None = None  # finals, when intents are enabled
    answer: Answer | None = None  # finals, when an answer was expected (its normalised value)
    # finals, when more than one was asked for: the next-best distinct transcripts after
    # ``transcript``, best first (n-best); words and intent belong to ``transcript`` only
    alternatives: tuple[Hypothesis, ...] = ()


def build_result(item: Utterance | InterimRequest, transcript: Transcript, is_final: bool,
                 word_offsets: bool) -> RecognitionResult:
    words: tuple[WordResult, ...] = ()
    if word_offsets:
        words = tuple(
            WordResult(w.word, round(item.audio_offset + w.start, 3), round(item.audio_offset + w.end, 3), w.confidence)
            for w in transcript.words
        )
    return RecognitionResult(
        transcript=transcript.text,
        confidence=transcript.confidence,
        is_final=is_final,
        stability=1.0 if is_final else 0.5,
        start=item.start,
        end=item.end,
        language=transcript.language,
        utterance_index=item.index,
        latency=time.monotonic() - item.detected_at,
        words=words,
        alternatives=transcript.alternatives if is_final else (),
    )


