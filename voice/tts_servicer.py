"""gRPC Synthesizer servicer: validates requests, streams Piper audio in the wanted format."""

from __future__ import annotations

import grpc

import kernels

from .audio import AudioFormatError, Encoding, check_rate, int16_to_bytes
from .engine import SpeechEngine
from .servicer_common import ENCODINGS, ENCODINGS_OUT, InvalidArgument
from .v1 import audio_pb2, synthesizer_pb2, synthesizer_pb2_grpc


class SynthesizerServicer(synthesizer_pb2_grpc.SynthesizerServicer):
    def __init__(self, engine: SpeechEngine):
        self.engine = engine

    async def ListVoices(self, request, context):
        want = (request.language_code or "").replace("_", "-").lower()
        voices = [
            synthesizer_pb2.Voice(name=v.name, language_code=v.language, sample_rate_hertz=v.sample_rate,
                                  quality=v.quality, num_speakers=v.num_speakers, neural=v.neural)
            for v in self.engine.catalogue
            if not want or v.language.lower() == want or v.language.lower().split("-")[0] == want.split("-")[0]
        ]
        return synthesizer_pb2.ListVoicesResponse(voices=voices)

    async def Synthesize(self, request, context):
        if not self.engine.ready.is_set():
            await context.abort(grpc.StatusCode.UNAVAILABLE, "models are still loading; watch grpc.health.v1")
        try:
            if not request.text.strip():
                raise InvalidArgument("text: must not be empty")
            try:
                voice = self.engine.catalogue.select(request.voice, request.language_code)
            except KeyError as exc:
                field = "voice" if request.voice else "language_code"
                raise InvalidArgument(f"{field}: {exc.args[0]}") from None
            encoding = Encoding.LINEAR16
            if request.encoding != audio_pb2.ENCODING_UNSPECIFIED:
                if request.encoding not in ENCODINGS:
                    raise InvalidArgument(f"encoding: unsupported encoding {request.encoding}")
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
        except InvalidArgument as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))

        sentences = self.engine.synthesize(request.text, voice, speaking_rate)
        resampler = kernels.StreamingResampler(voice.sample_rate, rate) if rate != voice.sample_rate else None
        done = object()
        last_index = 0
        while (item := await self.engine.run_tts(next, sentences, done)) is not done:
            last_index = item.index
            pcm = item.audio
            if resampler is not None:
                pcm = kernels.float32_to_int16(resampler.process(kernels.int16_to_float32(pcm)))
            yield synthesizer_pb2.SynthesizeResponse(
                audio_content=int16_to_bytes(pcm, encoding), encoding=ENCODINGS_OUT[encoding],
                sample_rate_hertz=rate, sentence_index=item.index, text=item.text)
        if resampler is not None:
            tail = kernels.float32_to_int16(resampler.flush())
            if tail.size:
                yield synthesizer_pb2.SynthesizeResponse(
                    audio_content=int16_to_bytes(tail, encoding), encoding=ENCODINGS_OUT[encoding],
                    sample_rate_hertz=rate, sentence_index=last_index)
