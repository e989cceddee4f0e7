"""The gRPC server: servicers, health, reflection, start-up and graceful stop.

Health (``grpc.health.v1``) reports NOT_SERVING while the engine loads and warms its models
and kernels (in a worker thread, so health answers meanwhile), SERVING after.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from .config import Config
from .engine import SpeechEngine
from .asr_servicer import RecognizerServicer
from .intent_servicer import UnderstanderServicer
from .tts_servicer import SynthesizerServicer
from .v1 import (
    recognizer_pb2,
    recognizer_pb2_grpc,
    synthesizer_pb2,
    synthesizer_pb2_grpc,
    understander_pb2,
    understander_pb2_grpc,
)

_LOGGER = logging.getLogger(__name__)

SERVICE_NAMES = (
    recognizer_pb2.DESCRIPTOR.services_by_name["Recognizer"].full_name,
    synthesizer_pb2.DESCRIPTOR.services_by_name["Synthesizer"].full_name,
    understander_pb2.DESCRIPTOR.services_by_name["Understander"].full_name,
)


class VoiceServer:
    """One grpc.aio server around one engine. ``start()`` returns the bound port."""

    def __init__(self, config: Config, engine: SpeechEngine | None = None):
        self.config = config
        self.engine = engine or SpeechEngine(config)
        opts = [
            ("grpc.max_receive_message_length", config.server.max_message_bytes),
            ("grpc.max_send_message_length", config.server.max_message_bytes),
        ]
        self.server = grpc.aio.server(options=opts)
        self.recognizer = RecognizerServicer(self.engine, config.server.max_sessions)
        recognizer_pb2_grpc.add_RecognizerServicer_to_server(self.recognizer, self.server)
        self.synthesizer = SynthesizerServicer(self.engine)
        synthesizer_pb2_grpc.add_SynthesizerServicer_to_server(self.synthesizer, self.server)
        understander_pb2_grpc.add_UnderstanderServicer_to_server(UnderstanderServicer(self.engine), self.server)
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server)
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
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.stop(self.config.server.grace_period_s if grace is None else grace)
        if self._load_task is not None and not self._load_task.done():
            self._load_task.cancel()
        await asyncio.to_thread(self.engine.close)  # waits for running decodes: off the loop


async def serve(config: Config) -> None:
    """Run until SIGTERM / SIGINT, then stop with the configured grace period."""
    server = VoiceServer(config)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # SIGUSR1: log the decode counters as one JSON line (benchmarks read it)
    loop.add_signal_handler(signal.SIGUSR1, lambda: _LOGGER.warning("stats %s", json.dumps(server.engine.stats())))
    await stop.wait()
    _LOGGER.info("Stopping (grace %.1f s)", config.server.grace_period_s)
    await server.stop()
