"""gRPC Recognizer servicer; with :mod:`voice.servicer_common` and
:mod:`voice.tts_servicer` the only places that know protobuf.

Requests become plain options at the door (validated, ``INVALID_ARGUMENT`` naming the
field), the streaming core and the engine do the work, and results become protobuf on the
way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import grpc
import numpy as np

import kernels

from .asr import normalize_language
from .audio import AudioFormatError, Encoding, bytes_to_int16, check_rate, looks_like_container, read_audio_bytes
from .config import ConfigError, EndpointingDefaults
from .engine import SpeechEngine
from .servicer_common import ENCODINGS, InvalidArgument, duration as _duration, intent_pb
from .recognition import RecognitionResult, recognize_audio
from .session import StreamOptions
from .streaming import InterimUpdate, Output, SpeechEvent, StreamDriver
from .v1 import recognizer_pb2, recognizer_pb2_grpc

_LOGGER = logging.getLogger(__name__)

# decode jobs (utterances) a stream may have waiting; when full the stream stops reading
# (gRPC flow control then slows the client): memory stays bounded
MAX_PENDING_UTTERANCES = 4
# responses waiting to be sent per stream
MAX_PENDING_RESPONSES = 64

def endpointing_from_pb(pb: recognizer_pb2.EndpointingConfig, defaults: EndpointingDefaults) -> EndpointingDefaults:
    values = {
        "vad_aggressiveness": pb.vad_aggressiveness if pb.HasField("vad_aggressiveness") else defaults.vad_aggressiveness,
        "trailing_silence_ms": pb.trailing_silence_ms or defaults.trailing_silence_ms,
        "max_utterance_seconds": pb.max_utterance_seconds or defaults.max_utterance_seconds,
        "speech_start_ms": pb.speech_start_ms or defaults.speech_start_ms,
        "pre_roll_ms": defaults.pre_roll_ms,
        "speech_timeout_ms": pb.speech_timeout_ms or defaults.speech_timeout_ms,
    }
    result = EndpointingDefaults(**values)
    try:
        result.validate()
    except ConfigError as exc:
        raise InvalidArgument(f"config.{exc}") from None
    return result


def options_from_pb(config: recognizer_pb2.RecognitionConfig, engine: SpeechEngine, *,
                    interim_results: bool = False, raw_audio: bool = True) -> StreamOptions:
    """Validate a RecognitionConfig into plain StreamOptions (InvalidArgument names the field)."""
    encoding = Encoding.LINEAR16
    rate = 16000
    if raw_audio:
        if config.encoding not in ENCODINGS:
            raise InvalidArgument(
                f"config.encoding: unsupported or missing encoding {config.encoding} (use LINEAR16, MULAW or ALAW)")
        encoding = ENCODINGS[config.encoding]
        try:
            rate = check_rate(config.sample_rate_hertz, "config.sample_rate_hertz")
        except AudioFormatError as exc:
            raise InvalidArgument(str(exc)) from None
    model = config.model or None
    try:
        rec = engine.recognizer(model) if model else engine.recognizer(None)
    except KeyError as exc:
        raise InvalidArgument(f"config.model: {exc.args[0]}") from None
    language = normalize_language(config.language_code)
    try:
        rec.check_language(language)
    except ValueError as exc:
        raise InvalidArgument(f"config.{exc}") from None
    return StreamOptions(
        encoding=encoding,
        sample_rate=rate,
        language=language,
        interim_results=interim_results,
        word_time_offsets=config.enable_word_time_offsets,
        endpointing=endpointing_from_pb(config.endpointing, engine.config.endpointing),
        model=model,
        interim_interval_s=engine.config.asr.interim_interval_s,
        intent=_check_intent(config, engine),
    )


def _check_intent(config, engine: SpeechEngine) -> bool:
    if config.enable_intent and engine.intents is None:
        raise InvalidArgument("config.enable_intent: intent understanding is disabled on this server")
    return config.enable_intent


def _alternative(result: RecognitionResult) -> recognizer_pb2.SpeechRecognitionAlternative:
    return recognizer_pb2.SpeechRecognitionAlternative(
        transcript=result.transcript,
        confidence=result.confidence,
        words=[
            recognizer_pb2.WordInfo(word=w.word, start_time=_duration(w.start), end_time=_duration(w.end),
                                    confidence=w.confidence)
            for w in result.words
        ],
    )


def language_candidates(config, engine: SpeechEngine, declared: str | None) -> tuple[str, ...]:
    """The declared language first, then the alternatives (validated); () when none given."""
    if not config.alternative_language_codes:
        return ()
    rec = engine.recognizer(config.model or None)
    out = [declared] if declared else []
    for i, code in enumerate(config.alternative_language_codes):
        lang = normalize_language(code)
        try:
            rec.check_language(lang, f"alternative_language_codes[{i}]")
        except ValueError as exc:
            raise InvalidArgument(f"config.{exc}") from None
        out.append(lang)
    return tuple(dict.fromkeys(out))


def phrase_hints(config) -> tuple[str, ...]:
    hints = tuple(h.strip() for h in config.phrase_hints if h.strip())
    if sum(len(h) for h in hints) > 1000:
        raise InvalidArgument("config.phrase_hints: at most 1000 characters in all")
    return hints


def _result_pb(result: RecognitionResult) -> recognizer_pb2.StreamingRecognitionResult:
    return recognizer_pb2.StreamingRecognitionResult(
        alternatives=[_alternative(result)],
        is_final=result.is_final,
        stability=result.stability,
        result_start_time=_duration(result.start),
        result_end_time=_duration(result.end),
        language_code=result.language,
        utterance_index=result.utterance_index,
        processing_latency=_duration(result.latency),
        intent=intent_pb(result.intent) if result.intent is not None else None,
    )


_EVENTS = {
    "started": recognizer_pb2.SPEECH_STARTED,
    "ended": recognizer_pb2.SPEECH_ENDED,
    "timeout": recognizer_pb2.SPEECH_TIMEOUT,
}


def response_pb(item: Output) -> recognizer_pb2.StreamingRecognizeResponse:
    if isinstance(item, SpeechEvent):
        return recognizer_pb2.StreamingRecognizeResponse(
            speech_event_type=_EVENTS[item.kind], speech_event_time=_duration(item.time),
            utterance_index=item.utterance_index)
    if isinstance(item, InterimUpdate):
        parts = [p for p in (item.committed, item.tail) if p.transcript]
        return recognizer_pb2.StreamingRecognizeResponse(
            results=[_result_pb(p) for p in parts], utterance_index=item.committed.utterance_index)
    return recognizer_pb2.StreamingRecognizeResponse(results=[_result_pb(item)], utterance_index=item.utterance_index)


class RecognizerServicer(recognizer_pb2_grpc.RecognizerServicer):
    def __init__(self, engine: SpeechEngine, max_sessions: int = 64):
        self.engine = engine
        self.max_sessions = max_sessions
        self.active_streams = 0

    async def _check_ready(self, context) -> None:
        if not self.engine.ready.is_set():
            await context.abort(grpc.StatusCode.UNAVAILABLE, "models are still loading; watch grpc.health.v1")

    async def Recognize(self, request, context):
        await self._check_ready(context)
        data = request.audio_content
        try:
            if not data:
                raise InvalidArgument("audio_content: must not be empty")
            if looks_like_container(data):
                decoded = read_audio_bytes(data)
                audio, rate = decoded.audio, decoded.sample_rate
                options = options_from_pb(request.config, self.engine, raw_audio=False)
                if not 8000 <= rate <= 48000:
                    raise InvalidArgument(f"audio_content: WAV/FLAC sample rate {rate} Hz is outside 8000-48000")
            else:
                options = options_from_pb(request.config, self.engine)
                audio = kernels.int16_to_float32(np.ascontiguousarray(bytes_to_int16(data, options.encoding)))
                rate = options.sample_rate
            candidates = language_candidates(request.config, self.engine, options.language)
            hints = phrase_hints(request.config)
        except (InvalidArgument, AudioFormatError) as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        results = await self.engine.run_asr(recognize_audio, self.engine, audio, rate, options, candidates, hints)
        return recognizer_pb2.RecognizeResponse(
            results=[
                recognizer_pb2.SpeechRecognitionResult(
                    alternatives=[_alternative(r)],
                    result_start_time=_duration(r.start),
                    result_end_time=_duration(r.end),
                    language_code=r.language,
                    utterance_index=r.utterance_index,
                    intent=intent_pb(r.intent) if r.intent is not None else None,
                )
                for r in results
            ],
            total_audio_duration=_duration(len(audio) / rate),
        )

    async def StreamingRecognize(self, request_iterator, context):
        await self._check_ready(context)
        if self.active_streams >= self.max_sessions:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"server is at its limit of {self.max_sessions} streams")
        requests = request_iterator.__aiter__()
        try:
            first = await requests.__anext__()
        except StopAsyncIteration:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "streaming_config: the stream ended before any config")
        if first.WhichOneof("streaming_request") != "streaming_config":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                "streaming_config: the first request must carry streaming_config, got audio_content")
        sc = first.streaming_config
        try:
            options = options_from_pb(sc.config, self.engine, interim_results=sc.interim_results)
            candidates = language_candidates(sc.config, self.engine, options.language)
            hints = phrase_hints(sc.config)
        except InvalidArgument as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"streaming_config.{exc}")

        self.active_streams += 1
        driver = StreamDriver(self.engine, options, self.engine.config.asr.beam_size, hints, candidates)
        error: list[InvalidArgument] = []

        async def reader() -> None:
            try:
                async for request in requests:
                    kind = request.WhichOneof("streaming_request")
                    if kind == "streaming_config":
                        raise InvalidArgument("streaming_config: only the first request may carry a config")
                    try:
                        await driver.push(request.audio_content, request.flush)
                    except AudioFormatError as exc:
                        raise InvalidArgument(str(exc)) from None
            except InvalidArgument as exc:
                error.append(exc)  # keep what was accepted: finish it, then fail the call
            await driver.finish()

        read_task = asyncio.create_task(reader())
        try:
            async for item in driver.outputs():
                yield response_pb(item)
            await read_task
            if error:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error[0]))
        finally:
            read_task.cancel()
            with contextlib.suppress(BaseException):
                await read_task
            await driver.close()
            self.active_streams -= 1
