"""voice.v1.Understander: maps messages to the understanding service and back, nothing more."""

from __future__ import annotations

from voice_api.v1 import understander_pb2

from ...service import VoiceService
from . import mapping


class UnderstanderServicer:
    def __init__(self, service: VoiceService):
        self.service = service

    async def Understand(self, request: understander_pb2.UnderstandRequest, context):
        result = await self.service.understanding.understand(mapping.understand_request_from_pb(request))
        return mapping.intent_pb(result)

    async def ListIntents(self, request: understander_pb2.ListIntentsRequest, context):
        infos, languages = self.service.understanding.list_intents(request.language_code)
        return mapping.intents_pb(infos, languages)
