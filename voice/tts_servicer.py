"""gRPC Synthesizer servicer: validates requests, drives a :class:`~voice.tts.SynthesisJob`.

The next piece is synthesized in the TTS pool while the chunks of the current one are sent.
When the client cancels (or disconnects), the job is cancelled: the piece in flight is
dropped and nothing more is synthesized, so the worker and the voice session are free again
within one piece.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import grpc

from .audio import AudioFormatError, Encoding, check_rate, wav_bytes
from .engine import SpeechEngine
from .servicer_common import ENCODINGS, ENCODINGS_OUT, InvalidArgument
from .ssml import SsmlError, looks_like_ssml
from .tts import (
    DEFAULT_CHUNK_MS,
    DEFAULT_SENTENCE_SILENCE_S,
    SynthesisJob,
    SynthesisOptions,
    VoiceInfo,
    plan_pieces,
)
from .v1 import audio_pb2, synthesizer_pb2, synthesizer_pb2_grpc

_LOGGER = logging.getLogger(__name__)
MAX_TEXT_CHARS = 20000


@dataclass(frozen=True)
class _Request:
    voice: VoiceInfo
    pieces: list
    options: SynthesisOptions


def _consume(fut: asyncio.Future) -> None:
    if not fut.cancelled():
        fut.exception()  # retrieved: a step that failed after the call ended is not an error


class SynthesizerServicer(synthesizer_pb2_grpc.SynthesizerServicer):
    def __init__(self, engine: SpeechEngine):
        self.engine = engine
        self.active_jobs = 0  # Synthesize calls in progress

    async def ListVoices(self, request, context):
        want = (request.language_code or "").replace("_", "-").lower()
        default = self.engine.catalogue.default.name
        voices = [
            synthesizer_pb2.Voice(name=v.name, language_code=v.language, sample_rate_hertz=v.sample_rate,
                                  quality=v.quality, num_speakers=v.num_speakers, neural=v.neural,
                                  engine=v.engine, speakers=list(v.speakers), is_default=v.name == default)
            for v in self.engine.catalogue
            if not want or v.language.lower() == want or v.language.lower().split("-")[0] == want.split("-")[0]
        ]
        return synthesizer_pb2.ListVoicesResponse(voices=voices)

    # -- validation -----------------------------------------------------------------------
    def _parse(self, request, streaming: bool) -> _Request:
        """The request as plain values; raises :class:`InvalidArgument` naming the field."""
        if not request.text.strip():
            raise InvalidArgument("text: must not be empty")
        if len(request.text) > MAX_TEXT_CHARS:
            raise InvalidArgument(f"text: at most {MAX_TEXT_CHARS} characters, got {len(request.text)}")
        try:
            voice = self.engine.catalogue.select(request.voice, request.language_code)
        except KeyError as exc:
            field = "voice" if request.voice else "language_code"
            raise InvalidArgument(f"{field}: {exc.args[0]}") from None
        encoding = Encoding.LINEAR16
        if request.encoding != audio_pb2.ENCODING_UNSPECIFIED:
            if request.encoding not in ENCODINGS:
                raise InvalidArgument(f"encoding: unsupported encoding {request.encoding} (LINEAR16, MULAW or ALAW)")
            encoding = ENCODINGS[request.encoding]
        rate = voice.sample_rate
        if request.sample_rate_hertz:
            try:
                rate = check_rate(request.sample_rate_hertz)
            except AudioFormatError as exc:
                raise InvalidArgument(str(exc)) from None
        speaking_rate = request.speaking_rate or 1.0
        if not 0.25 <= speaking_rate <= 4.0:
            raise InvalidArgument(f"speaking_rate: must be between 0.25 and 4.0, got {speaking_rate}")
        if not -40.0 <= request.volume_gain_db <= 12.0:
            raise InvalidArgument(f"volume_gain_db: must be between -40 and 12, got {request.volume_gain_db}")
        silence_s = DEFAULT_SENTENCE_SILENCE_S
        if request.HasField("sentence_silence_ms"):
            if not 0 <= request.sentence_silence_ms <= 5000:
                raise InvalidArgument(f"sentence_silence_ms: must be between 0 and 5000, got {request.sentence_silence_ms}")
            silence_s = request.sentence_silence_ms / 1000
        speaker_id = None
        if request.HasField("speaker_id"):
            if not 0 <= request.speaker_id < max(1, voice.num_speakers):
                raise InvalidArgument(f"speaker_id: voice {voice.name} has speakers 0-{max(1, voice.num_speakers) - 1}, "
                                      f"got {request.speaker_id}")
            speaker_id = request.speaker_id if voice.num_speakers > 1 else None
        chunk_ms = request.chunk_duration_ms or DEFAULT_CHUNK_MS
        if not 10 <= chunk_ms <= 1000:
            raise InvalidArgument(f"chunk_duration_ms: must be between 10 and 1000, got {chunk_ms}")
        if request.container not in (synthesizer_pb2.AUDIO_CONTAINER_UNSPECIFIED, synthesizer_pb2.RAW,
                                     synthesizer_pb2.WAV):
            raise InvalidArgument(f"container: unknown container {request.container}")
        if streaming and request.container == synthesizer_pb2.WAV:
            raise InvalidArgument("container: WAV is for SynthesizeOnce; Synthesize streams raw samples")
        is_ssml = request.ssml or looks_like_ssml(request.text)
        try:
            pieces = plan_pieces(request.text, voice.language, is_ssml=is_ssml, speaking_rate=speaking_rate,
                                 sentence_silence_s=silence_s)
        except SsmlError as exc:
            raise InvalidArgument(f"text: {exc}") from None
        if not any(p.text for p in pieces):
            raise InvalidArgument("text: nothing to speak")
        options = SynthesisOptions(encoding=encoding, sample_rate=rate, chunk_ms=chunk_ms,
                                   volume_gain_db=request.volume_gain_db, speaker_id=speaker_id,
                                   deterministic=self.engine.config.tts.deterministic)
        return _Request(voice, pieces, options)

    async def _job(self, request, context, streaming: bool) -> SynthesisJob:
        if not self.engine.ready.is_set():
            await context.abort(grpc.StatusCode.UNAVAILABLE, "models are still loading; watch grpc.health.v1")
        try:
            req = self._parse(request, streaming)
        except InvalidArgument as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        # loading a voice the first time blocks: do it in the TTS pool
        pool = await self.engine.run_tts(self.engine.synthesizer, req.voice)
        return SynthesisJob(pool, req.pieces, req.options)

    # -- calls ----------------------------------------------------------------------------
    async def Synthesize(self, request, context):
        job = await self._job(request, context, streaming=True)
        encoding = ENCODINGS_OUT[job.options.encoding]
        fut: asyncio.Future | None = asyncio.ensure_future(self.engine.run_tts(job.step))
        sent = 0
        first = True
        self.active_jobs += 1
        try:
            while fut is not None:
                chunks = await fut
                if chunks is None:
                    break
                # synthesize the next piece while this one's chunks go out
                fut = None if job.done else asyncio.ensure_future(self.engine.run_tts(job.step))
                for c in chunks:
                    yield synthesizer_pb2.SynthesizeResponse(
                        audio_content=c.audio, encoding=encoding, sample_rate_hertz=job.out_rate,
                        sentence_index=c.sentence_index, text=c.text, voice=job.pool.info.name if first else "",
                        audio_offset_s=sent / job.out_rate)
                    first = False
                    sent += c.samples
        finally:
            if not job.done:
                job.cancel()
                _LOGGER.debug("Synthesis cancelled after %d of %d pieces", job.stats.pieces_done, job.stats.pieces_total)
            if fut is not None and not fut.done():
                fut.add_done_callback(_consume)
            self.active_jobs -= 1

    async def SynthesizeOnce(self, request, context):
        job = await self._job(request, context, streaming=False)
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
        wav = request.container == synthesizer_pb2.WAV
        if wav:
            data = wav_bytes(data, job.out_rate, job.options.encoding)
        return synthesizer_pb2.SynthesizeOnceResponse(
            audio_content=data, encoding=ENCODINGS_OUT[job.options.encoding], sample_rate_hertz=job.out_rate,
            container=synthesizer_pb2.WAV if wav else synthesizer_pb2.RAW, audio_duration_s=samples / job.out_rate,
            voice=job.pool.info.name, sentences=len({p.sentence_index for p in job.pieces if p.text}))
