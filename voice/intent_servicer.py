"""gRPC Understander servicer: text -> intent with slots, from the engine's intent model."""

from __future__ import annotations

import grpc

from .engine import SpeechEngine
from .servicer_common import intent_pb
from .v1 import understander_pb2, understander_pb2_grpc


class UnderstanderServicer(understander_pb2_grpc.UnderstanderServicer):
    def __init__(self, engine: SpeechEngine):
        self.engine = engine

    async def _intents(self, context):
        if not self.engine.ready.is_set():
            await context.abort(grpc.StatusCode.UNAVAILABLE, "models are still loading; watch grpc.health.v1")
        if self.engine.intents is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "intent understanding is disabled on this server")
        return self.engine.intents

    async def Understand(self, request, context):
        intents = await self._intents(context)
        ctx = {"previous_intent": request.previous_intent} if request.previous_intent else None
        try:
            result = await self.engine.run_nlu(intents.understand, request.text, request.language_code, ctx)
        except ValueError as exc:  # messages start with the field: "text: ...", "language_code: ..."
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return intent_pb(result)

    async def ListIntents(self, request, context):
        intents = await self._intents(context)
        try:
            infos = intents.list_intents(request.language_code or None)
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return understander_pb2.ListIntentsResponse(
            intents=[understander_pb2.IntentInfo(name=i.name, language_codes=list(i.languages), slots=list(i.slots),
                                                 description=i.description) for i in infos],
            language_codes=list(intents.languages))
