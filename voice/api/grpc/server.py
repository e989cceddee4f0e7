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
from ..ops.grpc_guard import GrpcGuard, StreamLimits
from ..ops.keys import KeyPolicy
from ..ops.metrics import Metrics
from ..ops.tls import Certificates
from ..riva import SERVICES as RIVA_SERVICES
from ..riva import servicers as riva_servicers
from .conversation import ConversationServicer
from .handlers import add_servicer
from .recognizer import RecognizerServicer
from .synthesizer import SynthesizerServicer
from .understander import UnderstanderServicer

_LOGGER = logging.getLogger(__name__)
LIVENESS = "liveness"  # a health service name that is SERVING while the process runs (liveness probes)
CLOSE_MARGIN_S = 2.0  # after the grace period: calls closed by the drain send their status

SERVICES = (
    recognizer_pb2.DESCRIPTOR.services_by_name["Recognizer"],
    synthesizer_pb2.DESCRIPTOR.services_by_name["Synthesizer"],
    understander_pb2.DESCRIPTOR.services_by_name["Understander"],
    conversation_pb2.DESCRIPTOR.services_by_name["Conversation"],
    *RIVA_SERVICES,  # nvidia.riva.asr / nvidia.riva.tts on the same port (voice.api.riva)
)
SERVICE_NAMES = tuple(s.full_name for s in SERVICES)


class VoiceServer:
    """One grpc.aio server around one engine. ``start()`` returns the bound port.

    ``certificates``, ``keys``, ``metrics``, ``tracer``: shared with the process's other doors
    (:class:`voice.api.runner.Doors`); by default made from ``config.security`` (TLS, API keys)
    and a registry of this server's own."""

    def __init__(self, config: Config, engine: SpeechEngine | None = None, service: VoiceService | None = None, *,
                 certificates: Certificates | None = None, keys: KeyPolicy | None = None,
                 metrics: Metrics | None = None, tracer=None):
        self.config = config
        self._owns_engine = engine is None  # a given engine is its owner's to close
        self.engine = engine or SpeechEngine(config)
        self.service = service or VoiceService(self.engine, config)
        security = config.security
        if certificates is None and security.tls:
            certificates = Certificates(security.tls_cert, security.tls_key, security.tls_client_ca)
        if keys is None and security.api_keys:
            keys = KeyPolicy.from_file(security.api_keys)
        self.certificates = certificates
        self.load_error: str | None = None
        self._stopping: asyncio.Future | None = None
        self.metrics = metrics or Metrics(self.service, self.model_state)
        self.engine.set_telemetry(self.metrics)
        limits = StreamLimits.of(config.server)
        self.guard = GrpcGuard(self.metrics, keys, limits, security.public_health, tracer)
        opts = [
            ("grpc.max_receive_message_length", config.server.max_message_bytes),
            ("grpc.max_send_message_length", config.server.max_message_bytes),
        ]
        self.server = grpc.aio.server(options=opts, interceptors=[self.guard])
        servicers = (RecognizerServicer(self.service), SynthesizerServicer(self.service),
                     UnderstanderServicer(self.service), ConversationServicer(self.service),
                     *riva_servicers(self.service))
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
        if self.certificates is not None:
            self.port = self.server.add_secure_port(f"{host}:{port}", self.certificates.grpc_credentials())
        else:
            self.port = self.server.add_insecure_port(f"{host}:{port}")
        if self.port == 0:
            raise OSError(f"could not bind {host}:{port}")
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.health.set(LIVENESS, health_pb2.HealthCheckResponse.SERVING)  # alive, loading and draining too
        await self.server.start()
        _LOGGER.info("Listening on %s:%d (loading models)", host, self.port)
        self._load_task = asyncio.create_task(self._load())
        return self.port

    async def _load(self) -> None:
        if not self.engine.ready.is_set():
            try:
                await asyncio.to_thread(self.engine.load)
            except Exception as exc:  # the process stays up, NOT_SERVING, and says why
                self.load_error = f"{type(exc).__name__}: {exc}"
                _LOGGER.error("Model loading failed; health stays NOT_SERVING: %s", self.load_error, exc_info=exc)
                return
        if self.service.ready:
            await self._set_health(health_pb2.HealthCheckResponse.SERVING)
            _LOGGER.info("Serving on port %d", self.port)

    def model_state(self) -> str:
        """loading, ready, failed or draining (the metrics' ``voice_model_state``)."""
        if self.load_error is not None:
            return "failed"
        if not self.engine.ready.is_set():
            return "loading"
        return "ready" if self.service.ready else "draining"

    async def begin_drain(self) -> None:
        """Health says NOT_SERVING from now on (probes and load balancers see it first); calls
        are still taken until :meth:`stop` closes the listener."""
        self.service.announce_drain()
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)

    async def close_listener(self, grace: float) -> None:
        """Stop listening now (grpc-core's shutdown, with ``grace`` for the calls in progress)."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self.server.stop(grace + CLOSE_MARGIN_S))
            await asyncio.sleep(0)  # let grpc-core's shutdown begin: the port refuses connections

    async def wait_ready(self) -> None:
        if self._load_task is not None:
            await self._load_task

    async def stop(self, grace: float | None = None) -> None:
        """Drain: health NOT_SERVING, then the listener closes and new calls are refused (a load
        balancer's new connections fail and go to another replica, rather than being answered
        UNAVAILABLE here), calls in progress get ``grace`` seconds to finish, then those still
        running end with UNAVAILABLE ("server shutting down")."""
        _LOGGER.info("stats %s", json.dumps(self.engine.stats()))
        await self.begin_drain()
        grace = self.config.server.grace_period_s if grace is None else grace
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        # grpc-core stops listening and takes no new calls from here; one it had already taken
        # is served like the others (answering it UNAVAILABLE would lose it behind a balancer)
        await self.close_listener(grace)
        stopping = self._stopping
        while self.guard.active and loop.time() < deadline and not stopping.done():
            await asyncio.sleep(0.05)
        self.service.drain()
        closed = await self.guard.close_all()
        if closed:
            _LOGGER.warning("Drain: %d call(s) still running after %.1f s were closed (UNAVAILABLE)", closed, grace)
        await stopping
        if self._load_task is not None and not self._load_task.done():
            self._load_task.cancel()
        await self.service.close()
        if self._owns_engine:
            await asyncio.to_thread(self.engine.close)  # waits for running decodes: off the loop
