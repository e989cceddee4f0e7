"""voice.v1.Conversation: maps messages to the conversation service and back, nothing more."""

from __future__ import annotations

from ...core.errors import InvalidArgument
from ...service import VoiceService
from . import mapping


class ConversationServicer:
    def __init__(self, service: VoiceService):
        self.service = service

    async def Converse(self, requests, context):
        # admitted before the first message is awaited, like a recognition stream
        async with self.service.conversation.open() as call:
            first = await anext(requests, None)
            if first is None or first.WhichOneof("request") != "config":
                raise InvalidArgument("config", "the first request must carry config")
            config = mapping.conversation_config_from_pb(first.config)
            async for event in call.run(config, _inputs(requests)):
                yield mapping.conversation_event_pb(event)


async def _inputs(requests):
    async for request in requests:
        item = mapping.conversation_input_from_pb(request)
        if item is None:
            raise InvalidArgument("config", "only the first request may carry a config")
        yield item
