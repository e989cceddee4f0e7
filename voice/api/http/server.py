"""One aiohttp server for every HTTP/WebSocket door, over the same :class:`VoiceService` as the
gRPC door (so the same readiness and admission limits).

Routes: ``GET /health`` (200 ``{"status": "SERVING"}`` when the service is ready, else 503
``{"status": "NOT_SERVING"}``: a load balancer's probe), then each door's own, mounted by its
``add_routes(app, service)`` (:data:`DOORS`). Stopping closes the doors' open WebSockets
(their ``on_shutdown``) before the listener goes; drain the service first so that no new
call is admitted meanwhile.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from ...service import VoiceService
from .. import twilio
from .. import web as web_page
from ..openai import realtime as openai_realtime
from ..openai import rest as openai_rest
from ..ops import http_guard
from ..site import Listener

_LOGGER = logging.getLogger(__name__)

DOORS = (twilio, openai_rest, openai_realtime, web_page)  # modules with add_routes(app, service)
MAX_BODY_BYTES = 64 * 1024 * 1024  # server.max_file_bytes by default
SHUTDOWN_TIMEOUT_S = 10.0  # for requests still running once the doors have closed their sockets


class HttpServer:
    """``start()`` binds ``host:port`` (0: an ephemeral port) and returns the port."""

    def __init__(self, service: VoiceService, host: str, port: int, *, ssl_context=None, metrics=None, keys=None,
                 public: tuple[str, ...] = ("/health",), max_body_bytes: int = MAX_BODY_BYTES):
        """``ssl_context``: TLS (mTLS when it requires client certificates); ``metrics``,
        ``keys``: request metrics and API keys (:mod:`voice.api.ops.http_guard`; ``public``
        paths need no key); ``max_body_bytes``: the largest request body."""
        self.service = service
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.app = web.Application(client_max_size=max_body_bytes)
        http_guard.install(self.app, metrics, keys, public)
        self.app.router.add_get("/health", self._health)
        for door in DOORS:
            door.add_routes(self.app, service)
        self._listener = Listener(self.app, host, port, ssl_context=ssl_context, shutdown_timeout=SHUTDOWN_TIMEOUT_S)

    async def _health(self, request: web.Request) -> web.Response:
        if self.service.ready:
            return web.json_response({"status": "SERVING"})
        return web.json_response({"status": "NOT_SERVING"}, status=503)

    async def start(self) -> int:
        self.port = await self._listener.start()
        paths = sorted({route.resource.canonical for route in self.app.router.routes() if route.resource})
        _LOGGER.info("HTTP on %s:%d (%s)", self.host, self.port, ", ".join(paths))
        return self.port

    async def stop(self, grace_s: float = 0.0) -> None:
        """Stop listening (new connections are refused: a load balancer tries another
        replica), give calls in progress up to ``grace_s`` to end by themselves, then close the
        rest (1001)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_s
        self._listener.stop_listening()
        while self.service.admission.active("conversation") and loop.time() < deadline:
            await asyncio.sleep(0.05)
        await self._listener.close()
