"""Whole-audio recognition built on the streaming core.

:func:`recognize_audio` runs a whole buffer through
:class:`~voice.core.session.RecognitionSession` and the engine (blocking): the unary
``Recognize`` RPC and ``voice transcribe`` both use it; when the engine batches
(``asr.batch_size`` > 1), a file's utterances are decoded in batches. Its steps
(:func:`cut_utterances`, :func:`decode_options`, :func:`shape_result`) also serve
``RecognitionService.recognize_each``, which hands each utterance's result out as soon as it
is decoded.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

import kernels

from ..core import itn
from ..core.answers import Expect, fits_length, parse
from ..core.audio import Encoding
from ..core.intents import IntentResult
from ..core.languages import base_language
from ..core.results import RecognitionResult, build_result
from ..core.session import RecognitionSession, StreamOptions, Utterance
from ..core.transcripts import DecodeOptions, Transcript
from ..engines.intent import IntentEngine
from ..runtime.engine import SpeechEngine


def recognize_audio(engine: SpeechEngine, audio: np.ndarray, sample_rate: int, options: StreamOptions,
                    candidates: tuple[str, ...] = (), hints: tuple[str, ...] = (), *, task: str = "transcribe",
                    temperature: float | None = None, expect: Expect = Expect.FREE,
                    verbatim: bool = False, alternatives: int = 1,
                    length: tuple[int, int] = (0, 0)) -> list[RecognitionResult]:
    """Cut float32 mono ``audio`` into utterances and decode each one (blocking)."""
    rec = engine.recognizer(engine.model_for(options.model, options.language))
    rec.check_language(options.language)
    utterances = cut_utterances(audio, sample_rate, options)
    opts = decode_options(engine, options, candidates, hints, task=task, temperature=temperature, expect=expect,
                          alternatives=alternatives, length=length)
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
    results: list[RecognitionResult] = []
    for event, transcript in zip(utterances, transcripts):
        result = shape_result(engine, event, transcript, options, results[-1] if results else None,
                              expect=expect, verbatim=verbatim, length=length)
        if result is not None:
            results.append(result)
    return results


def cut_utterances(audio: np.ndarray, sample_rate: int, options: StreamOptions) -> list[Utterance]:
    """The utterances of float32 mono ``audio``, as the streaming core cuts them (blocking)."""
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
    return [e for e in events if isinstance(e, Utterance)]


def decode_options(engine: SpeechEngine, options: StreamOptions, candidates: tuple[str, ...] = (),
                   hints: tuple[str, ...] = (), *, task: str = "transcribe",
                   temperature: float | None = None, expect: Expect = Expect.FREE,
                   alternatives: int = 1, length: tuple[int, int] = (0, 0)) -> DecodeOptions:
    return DecodeOptions(language=options.language, candidates=candidates, hints=hints,
                         word_timestamps=options.word_time_offsets, beam_size=engine.config.asr.beam_size,
                         task=task, temperature=temperature, expect=expect.value, alternatives=alternatives,
                         answer_length=length)


def shape_result(engine: SpeechEngine, utterance: Utterance, transcript: Transcript, options: StreamOptions,
                 previous: RecognitionResult | None, *, expect: Expect = Expect.FREE,
                 verbatim: bool = False, length: tuple[int, int] = (0, 0)) -> RecognitionResult | None:
    """An utterance's final (None when nothing was said), with its intent when asked for."""
    if transcript.empty:
        return None
    result = build_result(utterance, transcript, True, options.word_time_offsets)
    result = shape_final(result, result.language, expect, verbatim, length)
    if options.intent and engine.intents is not None:
        context = {"previous_intent": previous.intent.intent} if previous and previous.intent else None
        result = replace(result, intent=understand_or_none(engine.intents, result, context))
    return result


def shape_final(result: RecognitionResult, language: str, expect: Expect, verbatim: bool,
                length: tuple[int, int] = (0, 0)) -> RecognitionResult:
    """``result`` reported in ``language``, with its answer (when one was expected; its value
    "" when it has not the expected ``length``) and its text inverse-text-normalised
    (:mod:`voice.core.itn`; unless ``verbatim``)."""
    answer = parse(expect, result.transcript, language)
    if answer is not None and length != (0, 0) and not fits_length(answer.value, length):
        answer = replace(answer, value="")
    text = result.transcript if verbatim else itn.normalize(result.transcript, language)
    alternatives = result.alternatives
    if alternatives:  # written as the best one is; readings that become the same are dropped
        seen = {text}
        kept = []
        for alt in alternatives:
            alt_text = alt.text if verbatim else itn.normalize(alt.text, language)
            if alt_text and alt_text not in seen:
                seen.add(alt_text)
                kept.append(replace(alt, text=alt_text))
        alternatives = tuple(kept)
    return replace(result, transcript=text, language=language, answer=answer, alternatives=alternatives)


def understand_or_none(intents: IntentEngine, result: RecognitionResult, context: dict | None) -> IntentResult | None:
    """The intent of a final's transcript, or None when its language has no trained model."""
    if base_language(result.language) not in intents.languages:
        return None
    return intents.understand(result.transcript, result.language, context)
