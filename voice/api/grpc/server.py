"""The gRPC door: voice.v1 services, health, reflection, start-up and graceful stop.

Health (``grpc.health.v1``) reports NOT_SERVING while the engine loads and warms its models
and kernels (in a worker thread, so health answers meanwhile), SERVING after. Every service
is registered through :mod:`.handlers`, so garbage bytes and service errors are answered the
same way on every RPC.
"""

from __future__ import annotations

import asyncio
import json
import logging

import grpc
from grpc_health.v1 import health, health_pb2
from grpc_reflection.v1alpha import reflection, reflection_pb2
from voice_api.v1 import (
    conversation_pb2,
    recognizer_pb2,
    synthesizer_pb2,
    understander_pb2,
)

from ...config import Config
from ...runtime.engine import SpeechEngine
from ...service import VoiceService
from .conversation import ConversationServicer
from .handlers import add_servicer
from .recognizer import RecognizerServicer
from .synthesizer import SynthesizerServicer
from .understander import UnderstanderServicer

_LOGGER = logging.getLogger(__name__)

SERVICES = (
    recognizer_pb2.DESCRIPTOR.services_by_name["Recognizer"],
    synthesizer_pb2.DESCRIPTOR.services_by_name["Synthesizer"],
    understander_pb2.DESCRIPTOR.services_by_name["Understander"],
    conversation_pb2.DESCRIPTOR.services_by_name["Conversation"],
)
SERVICE_NAMES = tuple(s.full_name for s in SERVICES)


class VoiceServer:
    """One grpc.aio server around one engine. ``start()`` returns the bound port."""

    def __init__(self, config: Config, engine: SpeechEngine | None = None, service: VoiceService | None = None):
        self.config = config
        self._owns_engine = engine is None  # a given engine is its owner's to close
        self.engine = engine or SpeechEngine(config)
        self.service = service or VoiceService(self.engine, config)
        opts = [
            ("grpc.max_receive_message_length", config.server.max_message_bytes),
            ("grpc.max_send_message_length", config.server.max_message_bytes),
        ]
        self.server = grpc.aio.server(options=opts)
        servicers = (RecognizerServicer(self.service), SynthesizerServicer(self.service),
                     UnderstanderServicer(self.service), ConversationServicer(self.service))
        for descriptor, servicer in zip(SERVICES, servicers, strict=True):
            add_servicer(self.server, servicer, descriptor)
        self.health = health.aio.HealthServicer()
        add_servicer(self.server, self.health, health_pb2.DESCRIPTOR.services_by_name["Health"])
        names = (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME)
        add_servicer(self.server, reflection.aio.ReflectionServicer(names),
                     reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"])
        self._load_task: asyncio.Task | None = None
        self.port = 0

    async def _set_health(self, status) -> None:
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, status)

    async def start(self, host: str | None = None, port: int | None = None) -> int:
        host = self.config.server.host if host is None else host
        port = self.config.server.port if port is None else port
        self.port = self.server.add_insecure_port(f"{host}:{port}")
        if self.port == 0:
            raise OSError(f"could not bind {host}:{port}")
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.start()
        _LOGGER.info("Listening on %s:%d (loading models)", host, self.port)
        self._load_task = asyncio.create_task(self._load())
        return self.port

    async def _load(self) -> None:
        if not self.engine.ready.is_set():
            await asyncio.to_thread(self.engine.load)
        await self._set_health(health_pb2.HealthCheckResponse.SERVING)
        _LOGGER.info("Serving on port %d", self.port)

    async def wait_ready(self) -> None:
        if self._load_task is not None:
            await self._load_task

    async def stop(self, grace: float | None = None) -> None:
        _LOGGER.info("stats %s", json.dumps(self.engine.stats()))
        self.service.drain()
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.stop(self.config.server.grace_period_s if grace is None else grace)
        if self._load_task is not None and not self._load_task.done():
            self._load_task.cancel()
        await self.service.close()
        if self._owns_engine:
            await asyncio.to_thread(self.engine.close)  # waits for running decodes: off the loop
