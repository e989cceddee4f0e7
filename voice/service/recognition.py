"""Recognition as a service: validated requests in, plain results out, for every door.

:class:`RecognitionService` owns what every protocol would otherwise repeat: turning a
:class:`~voice.service.types.RecognitionConfig` into checked stream options (errors name the
field), admission of streams (a slot is taken before the first message is awaited), and the
stream loop itself (:meth:`StreamCall.run`): input is read concurrently with the results,
a bad input stops reading but everything accepted before it is still finalised and yielded,
then the error is raised.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Self

import numpy as np

import kernels

from ..config import ConfigError, EndpointingDefaults
from ..core.audio import (
    MAX_RATE,
    MIN_RATE,
    SAMPLE_RATE,
    Encoding,
    bytes_to_int16,
    check_rate,
    looks_like_container,
    read_audio_bytes,
)
from ..core.answers import Expect, check_length, parse_expect
from ..core.errors import InvalidArgument
from ..core.languages import normalize_language
from ..core.results import RecognitionResult
from ..core.session import StreamOptions, Utterance
from ..core.transcripts import DecodeOptions
from .admission import Ticket
from .files import cut_utterances, decode_options, recognize_audio, shape_result
from .stream import StreamDriver
from .types import (
    AudioInput,
    EndpointingRequest,
    FileRecognitionRequest,
    FileRecognitionResult,
    RecognitionConfig,
    RecognitionUpdate,
    StreamingConfig,
    StreamOutput,
)

if TYPE_CHECKING:
    from ..runtime.engine import SpeechEngine
    from .admission import Admission

MAX_HINT_CHARS = 1000
RAW_ENCODINGS = ", ".join(e.value for e in Encoding)


@dataclass(frozen=True)
class PreparedRecognition:
    """A checked config: the session options, detection candidates and phrase hints."""

    options: StreamOptions
    candidates: tuple[str, ...]
    hints: tuple[str, ...]
    expect: Expect = Expect.FREE  # the answer expected (voice.core.answers)
    verbatim: bool = False  # finals without inverse text normalisation
    alternatives: int = 1  # transcripts per final (n-best), already capped at the beam size
    length: tuple[int, int] = (0, 0)  # of a digits / spelling answer (voice.core.answers.check_length)


def parse_expected_answer(value: str, field: str) -> Expect:
    """An expected-answer name ("digits", "yes_no", ...; "" = free) as an :class:`Expect`."""
    try:
        return parse_expect(value)
    except ValueError:
        names = ", ".join(e.value for e in Expect)
        raise InvalidArgument(field, f"unknown expected answer {value!r} (use {names})") from None


def parse_expected_length(expect: Expect, length: tuple[int, int], field: str) -> tuple[int, int]:
    """``length`` checked against ``expect`` (:func:`voice.core.answers.check_length`)."""
    try:
        check_length(expect, length)
    except ValueError as exc:
        raise InvalidArgument(field, str(exc)) from None
    return length


def parse_encoding(value: str, field: str) -> Encoding:
    try:
        return Encoding(value)
    except ValueError:
        shown = repr(value) if value else "missing"
        raise InvalidArgument(field, f"unsupported or missing encoding {shown} (use {RAW_ENCODINGS})") from None


def endpointing_options(req: EndpointingRequest, defaults: EndpointingDefaults) -> EndpointingDefaults:
    """Per-stream endpointing over the server defaults (errors name ``config.endpointing...``)."""
    def pick(value, default):
        return default if value is None else value

    result = EndpointingDefaults(
        vad_aggressiveness=pick(req.vad_aggressiveness, defaults.vad_aggressiveness),
        trailing_silence_ms=req.trailing_silence_ms or defaults.trailing_silence_ms,
        max_utterance_seconds=req.max_utterance_seconds or defaults.max_utterance_seconds,
        speech_start_ms=req.speech_start_ms or defaults.speech_start_ms,
        pre_roll_ms=pick(req.pre_roll_ms, defaults.pre_roll_ms),
        speech_timeout_ms=req.speech_timeout_ms or defaults.speech_timeout_ms,
    )
    try:
        result.validate()
    except ConfigError as exc:  # "endpointing.x must be ..."
        name, _, reason = str(exc).partition(" ")
        raise InvalidArgument(f"config.{name}", reason) from None
    return result


class RecognitionService:
    def __init__(self, engine: SpeechEngine, admission: Admission, ready_check: Callable[[], None]):
        self.engine = engine
        self._admission = admission
        self._check_ready = ready_check
        self.limits = engine.config.server  # max_file_bytes (VoiceService sets its own config's)

    # -- validation -----------------------------------------------------------------------
    def prepare(self, config: RecognitionConfig, *, interim_results: bool = False,
                raw_audio: bool = True) -> PreparedRecognition:
        """Check ``config``; raises :class:`InvalidArgument` naming ``config.<field>``."""
        engine = self.engine
        encoding, rate = Encoding.LINEAR16, SAMPLE_RATE
        if raw_audio:
            encoding = parse_encoding(config.encoding, "config.encoding")
            rate = check_rate(config.sample_rate_hertz, "config.sample_rate_hertz")
        model = config.model or None
        try:
            rec = engine.recognizer(model)
        except KeyError as exc:
            raise InvalidArgument("config.model", exc.args[0]) from None
        language = normalize_language(config.language_code)
        try:
            rec.check_language(language)
        except InvalidArgument as exc:
            raise exc.within("config") from None
        if config.enable_intent and engine.intents is None:
            raise InvalidArgument("config.enable_intent", "intent understanding is disabled on this server")
        options = StreamOptions(
            encoding=encoding,
            sample_rate=rate,
            language=language,
            interim_results=interim_results,
            word_time_offsets=config.enable_word_time_offsets,
            endpointing=endpointing_options(config.endpointing, engine.config.endpointing),
            model=model,
            interim_interval_s=engine.config.asr.interim_interval_s,
            intent=config.enable_intent,
        )
        expect = parse_expected_answer(config.expected_answer, "config.expected_answer")
        length = parse_expected_length(expect, config.expected_length, "config.expected_length")
        return PreparedRecognition(options, self._candidates(config, rec, language), _hints(config), expect,
                                   config.verbatim, self._alternatives(config.max_alternatives), length)

    def _alternatives(self, wanted: int) -> int:
        """Transcripts per final: "up to" ``wanted``, capped at the beam size (the n-best
        come from the beam search's hypotheses)."""
        if wanted < 0:
            raise InvalidArgument("config.max_alternatives", f"must not be negative, got {wanted}")
        return max(1, min(wanted, self.engine.config.asr.beam_size))

    @staticmethod
    def _candidates(config: RecognitionConfig, rec, declared: str | None) -> tuple[str, ...]:
        """The declared language first, then the alternatives (validated); () when none given."""
        if not config.alternative_language_codes:
            return ()
        out = [declared] if declared else []
        for i, code in enumerate(config.alternative_language_codes):
            lang = normalize_language(code)
            try:
                rec.check_language(lang, f"alternative_language_codes[{i}]")
            except InvalidArgument as exc:
                raise exc.within("config") from None
            out.append(lang)
        return tuple(dict.fromkeys(out))

    def models(self) -> list[tuple[str, bool]]:
        """(name, is_default) for every recognition model this server knows."""
        default = self.engine.config.asr.model
        return [(name, name == default) for name in dict.fromkeys([*self.engine.model_names, default])]

    # -- whole audio ----------------------------------------------------------------------
    async def _whole(self, request: FileRecognitionRequest) -> _Whole:
        """The request checked and its audio decoded (float32 mono at its own rate)."""
        self._check_ready()
        data = request.audio
        if not data:
            raise InvalidArgument("audio_content", "must not be empty")
        limit = self.limits.max_file_bytes
        if limit and len(data) > limit:
            raise InvalidArgument("audio_content", f"at most {limit} bytes (server.max_file_bytes), got {len(data)}")
        task = request.task or "transcribe"
        if request.temperature is not None and not 0.0 <= request.temperature <= 1.0:
            raise InvalidArgument("temperature", f"must be between 0 and 1, got {request.temperature}")
        container = request.is_file or looks_like_container(data)
        prepared = self.prepare(request.config, raw_audio=not container)
        self.engine.recognizer(self.engine.model_for(prepared.options.model, prepared.options.language)).check_task(task)
        if container:
            decoded = await asyncio.to_thread(read_audio_bytes, data)  # an MP3 takes a while: off the loop
            audio, rate = decoded.audio, decoded.sample_rate
            if not MIN_RATE <= rate <= MAX_RATE:
                raise InvalidArgument("audio_content", f"the file's sample rate {rate} Hz is outside {MIN_RATE}-{MAX_RATE}")
        else:
            audio = kernels.int16_to_float32(np.ascontiguousarray(bytes_to_int16(data, prepared.options.encoding)))
            rate = prepared.options.sample_rate
        self.engine.telemetry.audio("recognition", len(audio) / rate)
        return _Whole(audio, rate, prepared, task, request.temperature)

    async def recognize(self, request: FileRecognitionRequest) -> FileRecognitionResult:
        w = await self._whole(request)
        p = w.prepared
        results = await self.engine.run_asr(partial(recognize_audio, task=w.task, temperature=w.temperature,
                                                    expect=p.expect, verbatim=p.verbatim,
                                                    alternatives=p.alternatives, length=p.length),
                                            self.engine, w.audio, w.rate, p.options, p.candidates, p.hints)
        return FileRecognitionResult(tuple(results), len(w.audio) / w.rate)

    async def recognize_each(self, request: FileRecognitionRequest) -> AsyncIterator[RecognitionResult]:
        """As :meth:`recognize`, but each utterance's final is yielded as soon as it is decoded
        (in order; utterances with nothing said are left out)."""
        w = await self._whole(request)
        p, engine = w.prepared, self.engine
        utterances = await engine.run_asr(cut_utterances, w.audio, w.rate, p.options)
        opts = decode_options(engine, p.options, p.candidates, p.hints, task=w.task, temperature=w.temperature,
                              expect=p.expect, alternatives=p.alternatives, length=p.length)
        previous = None
        for utterance in utterances:
            result = await engine.run_asr(partial(_decode_utterance, expect=p.expect, verbatim=p.verbatim,
                                                  length=p.length),
                                          engine, utterance, opts, p.options, previous)
            if result is not None:
                previous = result
                yield result

    # -- streams --------------------------------------------------------------------------
    def open_stream(self) -> StreamCall:
        """Admit a stream now, before its first message is awaited (raises
        :class:`~voice.core.errors.Unavailable` / :class:`~voice.core.errors.ResourceExhausted`).
        Use as ``async with service.open_stream() as call: ... call.run(config, inputs)``."""
        self._check_ready()
        return StreamCall(self, self._admission.admit("recognition"))


class StreamCall:
    """One admitted recognition stream; the slot is freed when the ``async with`` ends."""

    def __init__(self, service: RecognitionService, ticket: Ticket):
        self._service = service
        self._ticket = ticket
        self.driver: StreamDriver | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc) -> None:
        try:
            if self.driver is not None:
                await self.driver.close()
        finally:
            self._ticket.release()

    async def run(self, config: StreamingConfig, inputs: AsyncIterator[AudioInput]) -> AsyncIterator[StreamOutput]:
        """Results of the stream, in order. ``inputs`` may raise :class:`InvalidArgument` (a bad
        message): what came before is finished and yielded, then the error is raised."""
        try:
            prepared = self._service.prepare(config.config, interim_results=config.interim_results)
        except InvalidArgument as exc:
            raise exc.within("streaming_config") from None
        engine = self._service.engine
        driver = self.driver = StreamDriver(engine, prepared.options, engine.config.asr.beam_size,
                                            prepared.hints, prepared.candidates, expect=prepared.expect,
                                            verbatim=prepared.verbatim, alternatives=prepared.alternatives,
                                            length=prepared.length)
        error: list[InvalidArgument] = []

        async def reader() -> None:
            try:
                async for item in inputs:
                    if isinstance(item, RecognitionUpdate):
                        expect = parse_expected_answer(item.expected_answer, "update.expected_answer")
                        driver.set_expect(expect, parse_expected_length(expect, item.expected_length,
                                                                        "update.expected_length"))
                        continue
                    await driver.push(item.audio, item.flush)
            except InvalidArgument as exc:
                error.append(exc)  # keep what was accepted: finish it, then fail the call
            await driver.finish()

        read_task = asyncio.create_task(reader())
        try:
            async for item in driver.outputs():
                yield item
            await read_task
            if error:
                raise error[0]
        finally:
            read_task.cancel()
            with contextlib.suppress(BaseException):
                await read_task


@dataclass(frozen=True)
class _Whole:
    audio: np.ndarray
    rate: int
    prepared: PreparedRecognition
    task: str
    temperature: float | None


def _decode_utterance(engine: SpeechEngine, utterance: Utterance, opts: DecodeOptions, options: StreamOptions,
                      previous: RecognitionResult | None, *, expect: Expect = Expect.FREE,
                      verbatim: bool = False, length: tuple[int, int] = (0, 0)) -> RecognitionResult | None:
    """One utterance of :meth:`RecognitionService.recognize_each`, as :func:`recognize_audio` does it."""
    transcript = engine.recognizer(engine.model_for(options.model, options.language)).transcribe(utterance.audio, opts)
    return shape_result(engine, utterance, transcript, options, previous, expect=expect, verbatim=verbatim,
                        length=length)


def _hints(config: RecognitionConfig) -> tuple[str, ...]:
    hints = tuple(h.strip() for h in config.phrase_hints if h.strip())
    if sum(len(h) for h in hints) > MAX_HINT_CHARS:
        raise InvalidArgument("config.phrase_hints", f"at most {MAX_HINT_CHARS} characters in all")
    return hints
