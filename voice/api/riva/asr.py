"""nvidia.riva.asr.RivaSpeechRecognition: maps Riva's messages to the recognition service and back.

A stream whose first audio starts with a WAV header (what ``riva.client.AudioChunkFileIterator``
sends: a file's bytes as they are, with ``encoding`` and ``sample_rate_hertz`` left unset) is
read from that header, and the header is not fed to the recogniser as audio. A stream that
starts as a FLAC or Ogg file is decoded to PCM as it arrives (:mod:`.containers`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from riva.client.proto import riva_asr_pb2 as rasr

from ...core.audio import SAMPLE_RATE
from ...core.errors import InvalidArgument
from ...engines.fw_compat import whisper_languages
from ...service import VoiceService
from ...service.types import AudioInput
from . import containers, mapping


class RivaRecognitionServicer:
    def __init__(self, service: VoiceService):
        self.service = service

    async def Recognize(self, request: rasr.RecognizeRequest, context) -> rasr.RecognizeResponse:
        try:
            result = await self.service.recognition.recognize(mapping.file_request_from_riva(request))
        except InvalidArgument as exc:
            raise mapping.riva_error(exc, mapping.RECOGNIZE_FIELDS) from None
        return mapping.file_result_riva(result, request.id.value)

    async def StreamingRecognize(self, requests, context):
        # admitted before the first message is awaited, like a voice.v1 stream
        async with self.service.recognition.open_stream() as call:
            first = await anext(requests, None)
            if first is None:
                raise InvalidArgument("streaming_config", "the stream ended before any config")
            if first.WhichOneof("streaming_request") != "streaming_config":
                raise InvalidArgument("streaming_config",
                                      "the first request must carry streaming_config, got audio_content")
            if first.runtime_config:
                key = min(first.runtime_config)
                raise InvalidArgument(f"runtime_config.{key}",
                                      "unknown key (this server takes no runtime configuration)")
            audio = _audio(requests)
            header, head = await _stream_start(audio)
            kind = containers.container_of(head) if header is None else None
            decoder = feeder = None
            try:
                if kind is None:
                    config = mapping.streaming_config_from_riva(first.streaming_config, head, header)
                    inputs = _inputs(head, audio)
                else:  # a FLAC / Ogg Opus stream: decoded to PCM as it arrives
                    decoder = containers.ContainerStream(*kind)
                    feeder = asyncio.create_task(_feed(decoder, head, audio))
                    blocks = decoder.blocks()
                    block = await anext(blocks, None)
                    decoded = mapping.DecodedStream(decoder.name, block[0] if block else SAMPLE_RATE)
                    config = mapping.streaming_config_from_riva(first.streaming_config, head, decoded=decoded)
                    inputs = _decoded_inputs(block, blocks, feeder)
                async for item in call.run(config, inputs):
                    response = mapping.stream_output_riva(item, first.id.value)
                    if response is not None:
                        yield response
            except InvalidArgument as exc:
                raise mapping.riva_error(exc, mapping.STREAMING_FIELDS) from None
            finally:
                if feeder is not None:
                    feeder.cancel()
                    with contextlib.suppress(BaseException):
                        await feeder
                if decoder is not None:
                    await decoder.aclose()

    async def GetRivaSpeechRecognitionConfig(self, request: rasr.RivaSpeechRecognitionConfigRequest, context):
        self.service.check_ready()
        models = self._models()
        if request.model_name and request.model_name not in {m.name for m in models}:
            raise InvalidArgument("model_name", f"unknown model {request.model_name!r} "
                                                f"(known: {', '.join(m.name for m in models)})")
        return mapping.recognition_models_riva(models, request.model_name)

    def _models(self) -> list[mapping.ModelInfo]:
        """Every model this server knows, with its languages: the default model's from the
        loaded model itself, the others' by Whisper's naming (``*.en``: English only) so that
        listing loads nothing."""
        default = self.service.recognition.engine.recognizer(None)  # loaded at start-up
        every = tuple(sorted(default.languages if default.multilingual else whisper_languages()))
        return [mapping.ModelInfo(name, tuple(sorted(default.languages)) if is_default
                                  else ("en",) if name.endswith(".en") else every, is_default)
                for name, is_default in self.service.recognition.models()]


async def _audio(requests) -> AsyncIterator[bytes]:
    async for request in requests:
        if request.WhichOneof("streaming_request") == "streaming_config":
            raise InvalidArgument("streaming_config", "only the first request may carry a config")
        yield request.audio_content


async def _stream_start(audio: AsyncIterator[bytes]) -> tuple[mapping.WavHeader | None, bytes]:
    """Read the first audio bytes: (the WAV header if the stream starts with one, the audio
    after it); a stream that does not start with "RIFF" comes back as it is."""
    head = b""
    async for chunk in audio:
        head += chunk
        if len(head) < 4:
            continue
        if not mapping.starts_like_wav(head):
            return None, head
        header = mapping.parse_wav_header(head)
        if header is not None:
            return header, head[header.data_offset:]
        if len(head) > mapping.WAV_HEADER_MAX_BYTES:
            raise InvalidArgument("audio_content", f"the WAV header is not complete within "
                                                   f"{mapping.WAV_HEADER_MAX_BYTES} bytes")
    if mapping.starts_like_wav(head):
        raise InvalidArgument("audio_content", "the stream ended inside its WAV header")
    return None, head


async def _inputs(head: bytes, audio: AsyncIterator[bytes]) -> AsyncIterator[AudioInput]:
    if head:
        yield AudioInput(head)
    async for chunk in audio:
        yield AudioInput(chunk)


async def _feed(decoder: containers.ContainerStream, head: bytes, audio: AsyncIterator[bytes]) -> None:
    try:
        await decoder.feed(head)
        async for chunk in audio:
            await decoder.feed(chunk)
    finally:
        decoder.end()  # the decoder finishes what it has, also when the requests went wrong


async def _decoded_inputs(block: tuple[int, bytes] | None, blocks: AsyncIterator[tuple[int, bytes]],
                          feeder: asyncio.Task) -> AsyncIterator[AudioInput]:
    if block is not None:
        rate = block[0]
        yield AudioInput(block[1])
        async for block_rate, pcm in blocks:
            if block_rate != rate:
                raise InvalidArgument("audio_content",
                                      f"the stream's sample rate changed from {rate} to {block_rate} Hz")
            yield AudioInput(pcm)
    await feeder  # raises what went wrong with the requests (a second config)
