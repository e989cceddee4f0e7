"""voice.v1.Synthesizer: maps messages to the synthesis service and back, nothing more."""

from __future__ import annotations

from voice_api.v1 import synthesizer_pb2

from ...service import VoiceService
from . import mapping


class SynthesizerServicer:
    def __init__(self, service: VoiceService):
        self.service = service

    async def ListVoices(self, request: synthesizer_pb2.ListVoicesRequest, context):
        voices = self.service.synthesis.voices(request.language_code)
        return synthesizer_pb2.ListVoicesResponse(voices=[mapping.voice_pb(v, default) for v, default in voices])

    async def Synthesize(self, request: synthesizer_pb2.SynthesizeRequest, context):
        chunks = self.service.synthesis.stream(mapping.synthesis_request_from_pb(request))
        try:
            async for chunk in chunks:
                yield mapping.chunk_pb(chunk)
        finally:
            await chunks.aclose()  # a cancelled call stops the job within one piece

    async def SynthesizeOnce(self, request: synthesizer_pb2.SynthesizeRequest, context):
        result = await self.service.synthesis.synthesize(mapping.synthesis_request_from_pb(request))
        return mapping.synthesis_result_pb(result)
