"""nvidia.riva.tts.RivaSpeechSynthesis: maps Riva's messages to the synthesis service and back.

``SynthesizeOnline`` is served as Riva defines it since 2026: a stream of requests in, audio
chunks out. The first request sets voice and format; every request's ``text`` is a further
piece of the text (the installed client sends one request per text of a list, each repeating
the settings). Older clients send a single request on the same wire path; that is simply a
stream of one. Pieces are joined with a space, like ``talk.py`` joins a list for
``Synthesize``; audio starts as soon as the first clause is complete.

Encodings: raw LINEAR_PCM, MULAW and ALAW chunks, or OGGOPUS: ``Synthesize`` returns one Ogg
Opus file, ``SynthesizeOnline`` a stream of Ogg pages (libsndfile's encoder, a page every
100 ms of audio, off the event loop) whose chunks, joined, are one valid Ogg Opus file.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from riva.client.proto import riva_tts_pb2 as rtts
from riva.client.proto.riva_audio_pb2 import AudioEncoding

from ...core.errors import InvalidArgument
from ...core.ssml import looks_like_ssml
from ...service import VoiceService
from ...service.types import AudioChunk, SynthesisRequest
from ...core.containers import SndfileEncoder
from . import mapping


class RivaSynthesisServicer:
    def __init__(self, service: VoiceService):
        self.service = service

    def _request(self, pb: rtts.SynthesizeSpeechRequest) -> SynthesisRequest:
        return mapping.synthesis_request_from_riva(pb, (v for v, _ in self.service.synthesis.voices()))

    async def Synthesize(self, request: rtts.SynthesizeSpeechRequest, context) -> rtts.SynthesizeSpeechResponse:
        try:
            result = await self.service.synthesis.synthesize(self._request(request))
        except InvalidArgument as exc:
            raise mapping.riva_error(exc, mapping.SYNTHESIS_FIELDS) from None
        audio = result.audio
        if request.encoding == AudioEncoding.OGGOPUS:
            audio = await asyncio.to_thread(mapping.ogg_opus_bytes, audio, result.sample_rate_hertz)
        return mapping.audio_riva(audio, request.text, request.id.value)

    async def SynthesizeOnline(self, requests, context):
        first = await anext(requests, None)
        if first is None:
            raise InvalidArgument("text", "the stream ended before any request")
        request = self._request(first)
        if looks_like_ssml(first.text):
            # SSML is one document: it must come whole, in a single request
            if await anext(requests, None) is not None:
                raise InvalidArgument("text", "SSML must come whole, in the stream's only request")
            chunks = self.service.synthesis.stream(request)
        else:
            chunks = self.service.synthesis.stream_text(request, _texts(first, requests))
        responses = _ogg_opus_riva(chunks, first.id.value) if first.encoding == AudioEncoding.OGGOPUS else (
            _chunk_riva(chunk, first.id.value) async for chunk in chunks)
        try:
            async for response in responses:
                yield response
        except InvalidArgument as exc:
            raise mapping.riva_error(exc, mapping.SYNTHESIS_FIELDS) from None
        finally:
            await responses.aclose()  # the Ogg encoder's file is closed
            await chunks.aclose()  # a cancelled call stops the job within one piece

    async def GetRivaSynthesisConfig(self, request: rtts.RivaSynthesisConfigRequest, context):
        voices = self.service.synthesis.voices()
        if request.model_name and request.model_name not in {v.name for v, _ in voices}:
            raise InvalidArgument("model_name", f"unknown voice {request.model_name!r} (see GetRivaSynthesisConfig "
                                                "without model_name)")
        return mapping.voices_riva(voices, request.model_name)


def _chunk_riva(chunk: AudioChunk, request_id: str) -> rtts.SynthesizeSpeechResponse:
    return mapping.audio_riva(chunk.audio, chunk.text, request_id)


async def _ogg_opus_riva(chunks: AsyncIterator[AudioChunk],
                         request_id: str) -> AsyncIterator[rtts.SynthesizeSpeechResponse]:
    """The chunks (LINEAR16 at an Opus rate) as Ogg Opus pages, one response whenever the
    encoder has finished a page (the headers go with the first); a sentence's text goes with
    the first response after its audio began."""
    encoder: SndfileEncoder | None = None
    text: list[str] = []
    try:
        async for chunk in chunks:
            if encoder is None:  # the service has checked the rate by now
                encoder = SndfileEncoder("opus", chunk.sample_rate_hertz)
                head = encoder.start()
            else:
                head = b""
            if chunk.text:
                text.append(chunk.text)
            data = head + await asyncio.to_thread(encoder.encode, chunk.audio)
            if data:
                yield mapping.audio_riva(data, " ".join(text), request_id)
                text.clear()
        if encoder is not None:
            data = await asyncio.to_thread(encoder.finish)
            if data or text:
                yield mapping.audio_riva(data, " ".join(text), request_id)
    finally:
        if encoder is not None:
            encoder.finish()  # a call that ended early: close the file (a no-op once finished)


async def _texts(first: rtts.SynthesizeSpeechRequest, requests) -> AsyncIterator[str]:
    """The texts of the requests after the first, each joined to the one before by a space."""
    previous = first.text
    async for request in requests:
        mapping.same_settings(first, request)
        text = request.text
        if not text:
            continue
        if previous and not previous[-1].isspace() and not text[0].isspace():
            text = " " + text
        previous = text
        yield text
