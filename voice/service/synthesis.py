"""Synthesis as a service: a checked request in, audio chunks out, for every door.

:meth:`SynthesisService.stream` yields chunks as they are synthesized: the next piece is
rendered in the TTS pool while the chunks of the current one are handed out, and closing the
iterator (client gone, call cancelled) cancels the job within one piece.
:meth:`SynthesisService.stream_text` does the same for text that arrives in pieces (an LLM's
output): a :class:`~voice.core.planning.SentencePlanner` releases clauses and sentences as
soon as they are complete, so audio starts after the first clause, not after the whole reply.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.audio import Encoding, check_rate, wav_bytes
from ..core.errors import InvalidArgument
from ..core.languages import same_language
from ..core.planning import (
    DEFAULT_SENTENCE_SILENCE_S,
    Piece,
    SentencePlanner,
    plan_pieces,
)
from ..core.ssml import SsmlError, looks_like_ssml
from ..core.synthesis import DEFAULT_CHUNK_MS, SynthesisJob, SynthesisOptions
from ..engines.voices import VoiceInfo
from .types import AudioChunk, Container, SynthesisRequest, SynthesisResult

if TYPE_CHECKING:
    from ..runtime.engine import SpeechEngine
    from .admission import Admission

_LOGGER = logging.getLogger(__name__)
MAX_TEXT_CHARS = 20000


@dataclass(frozen=True)
class PreparedSynthesis:
    voice: VoiceInfo
    pieces: list[Piece]
    options: SynthesisOptions
    speaking_rate: float
    sentence_silence_s: float
    container: Container


def _consume(fut: asyncio.Future) -> None:
    if not fut.cancelled():
        fut.exception()  # retrieved: a step that failed after the call ended is not an error


class SynthesisService:
    def __init__(self, engine: SpeechEngine, admission: Admission, ready_check: Callable[[], None]):
        self.engine = engine
        self._admission = admission
        self._check_ready = ready_check
        self.limits = engine.config.server  # max_text_chars (VoiceService sets its own config's)

    # -- voices ---------------------------------------------------------------------------
    def voices(self, language_code: str = "") -> list[tuple[VoiceInfo, bool]]:
        """(voice, is_default) for every voice, or those speaking ``language_code``."""
        default = self.engine.catalogue.default.name
        return [(v, v.name == default) for v in self.engine.catalogue
                if not language_code or same_language(v.language, language_code)]

    # -- validation -----------------------------------------------------------------------
    def prepare(self, request: SynthesisRequest, *, streaming: bool, incremental: bool = False) -> PreparedSynthesis:
        """The request as plain values; raises :class:`InvalidArgument` naming the field."""
        if not incremental and not request.text.strip():
            raise InvalidArgument("text", "must not be empty")
        limit = self.limits.max_text_chars  # server.max_text_chars
        if len(request.text) > limit:
            raise InvalidArgument("text", f"at most {limit} characters, got {len(request.text)}")
        if "\x00" in request.text:  # espeak-ng (phonemes of every backend) cannot take one (fuzzing found it)
            raise InvalidArgument("text", "must not contain NUL characters")
        try:
            voice = self.engine.catalogue.select(request.voice, request.language_code)
        except KeyError as exc:
            raise InvalidArgument("voice" if request.voice else "language_code", exc.args[0]) from None
        encoding = Encoding.LINEAR16
        if request.encoding:
            try:
                encoding = Encoding(request.encoding)
            except ValueError:
                raise InvalidArgument("encoding", f"unsupported encoding {request.encoding!r} (LINEAR16, MULAW or ALAW)") from None
        rate = check_rate(request.sample_rate_hertz) if request.sample_rate_hertz else voice.sample_rate
        speaking_rate = request.speaking_rate or 1.0
        if not 0.25 <= speaking_rate <= 4.0:
            raise InvalidArgument("speaking_rate", f"must be between 0.25 and 4.0, got {speaking_rate}")
        if not -40.0 <= request.volume_gain_db <= 12.0:
            raise InvalidArgument("volume_gain_db", f"must be between -40 and 12, got {request.volume_gain_db}")
        silence_s = DEFAULT_SENTENCE_SILENCE_S
        if request.sentence_silence_ms is not None:
            if not 0 <= request.sentence_silence_ms <= 5000:
                raise InvalidArgument("sentence_silence_ms", f"must be between 0 and 5000, got {request.sentence_silence_ms}")
            silence_s = request.sentence_silence_ms / 1000
        speaker_id = None
        if request.speaker_id is not None:
            speakers = max(1, voice.num_speakers)
            if not 0 <= request.speaker_id < speakers:
                raise InvalidArgument("speaker_id", f"voice {voice.name} has speakers 0-{speakers - 1}, got {request.speaker_id}")
            speaker_id = request.speaker_id if voice.num_speakers > 1 else None
        chunk_ms = request.chunk_duration_ms or DEFAULT_CHUNK_MS
        if not 10 <= chunk_ms <= 1000:
            raise InvalidArgument("chunk_duration_ms", f"must be between 10 and 1000, got {chunk_ms}")
        try:
            container = Container(request.container or Container.RAW.value)
        except ValueError:
            raise InvalidArgument("container", f"unknown container {request.container!r} (raw or wav)") from None
        if streaming and container is Container.WAV:
            raise InvalidArgument("container", "WAV is for whole-audio synthesis; streaming sends raw samples")
        is_ssml = request.ssml or looks_like_ssml(request.text)
        pieces: list[Piece] = []
        if incremental:
            if is_ssml:
                raise InvalidArgument("text", "SSML cannot arrive in pieces; send it whole")
        else:
            try:
                pieces = plan_pieces(request.text, voice.language, is_ssml=is_ssml, speaking_rate=speaking_rate,
                                     sentence_silence_s=silence_s)
            except SsmlError as exc:
                raise InvalidArgument("text", str(exc)) from None
            if not any(p.text for p in pieces):
                raise InvalidArgument("text", "nothing to speak")
        options = SynthesisOptions(encoding=encoding, sample_rate=rate, chunk_ms=chunk_ms,
                                   volume_gain_db=request.volume_gain_db, speaker_id=speaker_id,
                                   deterministic=self.engine.config.tts.deterministic)
        return PreparedSynthesis(voice, pieces, options, speaking_rate, silence_s, container)

    async def _job(self, prepared: PreparedSynthesis, *, open_input: bool = False) -> SynthesisJob:
        # loading a voice the first time blocks: do it in the TTS pool
        pool = await self.engine.run_tts(self.engine.synthesizer, prepared.voice)
        return SynthesisJob(pool, prepared.pieces, prepared.options, open_input=open_input)

    # -- calls ----------------------------------------------------------------------------
    async def stream(self, request: SynthesisRequest) -> AsyncIterator[AudioChunk]:
        """Chunks of ``request``'s audio as they are synthesized."""
        self._check_ready()
        prepared = self.prepare(request, streaming=True)
        with self._admission.admit("synthesis"):
            job = await self._job(prepared)
            async for chunk in self._drive(job):
                yield chunk

    async def stream_text(self, request: SynthesisRequest, texts: AsyncIterator[str]) -> AsyncIterator[AudioChunk]:
        """Speak text arriving in pieces: ``request`` sets voice and format (its ``text``, if
        any, comes first), ``texts`` the rest; audio starts once the first clause is complete."""
        self._check_ready()
        prepared = self.prepare(request, streaming=True, incremental=True)
        planner = SentencePlanner(prepared.voice.language, speaking_rate=prepared.speaking_rate,
                                  sentence_silence_s=prepared.sentence_silence_s)

        async def feed(job: SynthesisJob, more: asyncio.Event) -> None:
            if request.text:
                job.extend(planner.add(request.text))
                more.set()
            async for text in texts:
                if "\x00" in text:
                    raise InvalidArgument("text", "must not contain NUL characters")
                if len(text) > self.limits.max_text_chars:
                    raise InvalidArgument("text", f"at most {self.limits.max_text_chars} characters "
                                          f"a piece, got {len(text)}")
                pieces = planner.add(text)
                if pieces:
                    job.extend(pieces)
                    more.set()
            job.extend(planner.finish())
            job.end_input()

        with self._admission.admit("synthesis"):
            job = await self._job(prepared, open_input=True)
            async for chunk in self._drive(job, feed):
                yield chunk

    async def _drive(self, job: SynthesisJob, feed=None) -> AsyncIterator[AudioChunk]:
        """Step ``job`` in the TTS pool, one piece ahead of the chunks handed out; with
        ``feed(job, event)``, pieces arrive while it runs (the event wakes the loop)."""
        run = self.engine.run_tts
        more = asyncio.Event()
        feeder: asyncio.Future | None = None
        if feed is not None:
            async def feeding() -> None:
                try:
                    await feed(job, more)
                finally:
                    more.set()

            feeder = asyncio.ensure_future(feeding())
        sent = 0
        first = True
        started = time.monotonic()
        fut: asyncio.Future | None = None
        try:
            while True:
                if fut is None:
                    if job.done:
                        break
                    if not job.ready:  # waiting for text
                        if feeder is not None and feeder.done():
                            feeder.result()  # the text source failed: raise it
                        more.clear()
                        await more.wait()
                        continue
                    fut = asyncio.ensure_future(run(job.step))
                chunks = await fut
                fut = None
                if job.ready:  # synthesize the next piece while this one's chunks go out
                    fut = asyncio.ensure_future(run(job.step))
                for c in chunks or ():
                    if first:
                        self.engine.telemetry.stage("time_to_first_audio", time.monotonic() - started)
                    self.engine.telemetry.audio("synthesis", c.samples / job.out_rate)
                    yield AudioChunk(audio=c.audio, samples=c.samples, sentence_index=c.sentence_index, text=c.text,
                                     offset_s=sent / job.out_rate, voice=job.pool.info.name if first else "",
                                     encoding=job.options.encoding.value, sample_rate_hertz=job.out_rate)
                    first = False
                    sent += c.samples
            if feeder is not None:
                await feeder
        finally:
            if not job.done:
                job.cancel()
                _LOGGER.debug("Synthesis cancelled after %d of %d pieces", job.stats.pieces_done, job.stats.pieces_total)
            if fut is not None and not fut.done():
                fut.add_done_callback(_consume)
            if feeder is not None and not feeder.done():
                feeder.cancel()

    async def synthesize(self, request: SynthesisRequest) -> SynthesisResult:
        """The whole audio in one piece (a WAV file when the request asks for one)."""
        self._check_ready()
        prepared = self.prepare(request, streaming=False)
        with self._admission.admit("synthesis"):
            job = await self._job(prepared)
            parts: list[bytes] = []
            samples = 0
            try:
                while (chunks := await self.engine.run_tts(job.step)) is not None:
                    parts.extend(c.audio for c in chunks)
                    samples += sum(c.samples for c in chunks)
            finally:
                if not job.done:
                    job.cancel()
        data = b"".join(parts)
        if prepared.container is Container.WAV:
            data = wav_bytes(data, job.out_rate, job.options.encoding)
        return SynthesisResult(
            audio=data, encoding=job.options.encoding.value, sample_rate_hertz=job.out_rate,
            container=prepared.container, duration_s=samples / job.out_rate, voice=job.pool.info.name,
            sentences=len({p.sentence_index for p in job.pieces if p.text}))

