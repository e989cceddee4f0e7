"""Plain recognition results, and whole-audio recognition built on the streaming core.

:func:`build_result` turns an utterance and its transcript into a :class:`RecognitionResult`
(stream times, words shifted to stream time). :func:`recognize_audio` runs a whole buffer
through :class:`~voice.session.RecognitionSession` and the engine (blocking): the unary
``Recognize`` RPC and ``voice transcribe`` both use it; when the engine batches
(``asr.batch_size`` > 1), a file's utterances are decoded in batches.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

import kernels

from .asr import DecodeOptions, Transcript
from .audio import Encoding
from .session import InterimRequest, RecognitionSession, StreamOptions, Utterance


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
    intent: object | None = None  # voice.intent.IntentResult, finals with intent enabled


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
    )


def recognize_audio(engine, audio: np.ndarray, sample_rate: int, options: StreamOptions,
                    candidates: tuple[str, ...] = (), hints: tuple[str, ...] = ()) -> list[RecognitionResult]:
    """Cut float32 mono ``audio`` into utterances and decode each one (blocking)."""
    rec = engine.recognizer(options.model)
    rec.check_language(options.language)
    pcm = kernels.float32_to_int16(np.ascontiguousarray(audio, dtype=np.float32)).tobytes()
    session = RecognitionSession(
        StreamOptions(
            encoding=Encoding.LINEAR16,
            sample_rate=sample_rate,
            language=options.language,
            word_time_offsets=options.word_time_offsets,
            endpointing=options.endpointing,
            model=options.model,
        )
    )
    step = sample_rate // 10 * 2  # 100 ms of int16 bytes
    events = []
    for i in range(0, len(pcm), step):
        events += session.push(pcm[i:i + step])
    events += session.finish()
    results = []
    opts = DecodeOptions(language=options.language, candidates=candidates, hints=hints,
                         word_timestamps=options.word_time_offsets, beam_size=engine.config.asr.beam_size)
    utterances = [e for e in events if isinstance(e, Utterance)]
    # the file's utterances in batches when the engine batches (one encoder pass per batch)
    size = max(1, getattr(engine, "batch_size", 1))
    transcripts: list[Transcript] = []
    for i in range(0, len(utterances), size):
        group = utterances[i:i + size]
        if len(group) == 1:
            transcripts.append(rec.transcribe(group[0].audio, opts))
            continue
        for out in rec.transcribe_batch([(u.audio, opts) for u in group]):
            if isinstance(out, Exception):
                raise out
            transcripts.append(out)
    for event, transcript in zip(utterances, transcripts):
        if not transcript.empty:
            result = build_result(event, transcript, True, options.word_time_offsets)
            if options.intent and engine.intents is not None:
                context = {"previous_intent": results[-1].intent.intent} if results and results[-1].intent else None
                result = replace(result, intent=understand_or_none(engine.intents, result, context))
            results.append(result)
    return results


def understand_or_none(intents, result: RecognitionResult, context: dict | None):
    """The intent of a final's transcript, or None when its language has no trained model."""
    if result.language.split("-")[0] not in intents.languages:
        return None
    return intents.understand(result.transcript, result.language, context)
