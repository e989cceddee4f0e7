"""``voice serve``: every enabled door around one engine and one service, in one process.

gRPC always; the Asterisk AudioSocket bridge with ``--audiosocket HOST:PORT``; the Wyoming
door (Home Assistant) with ``--wyoming HOST:PORT`` (``--zeroconf`` advertises it); the HTTP
server (Twilio-compatible media streams at ``/twilio/media``, the OpenAI API at ``/v1``,
``/health``) with
``--http-port PORT``. SIGTERM / SIGINT: new calls are refused (health says NOT_SERVING), calls
in progress get the grace period, then everything stops.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal

from ..config import Config
from ..runtime.engine import SpeechEngine
from .grpc.server import VoiceServer
from .ops.keys import KeyPolicy
from .ops.tls import Certificates
from .ops.tracing import make_tracer

_LOGGER = logging.getLogger(__name__)


class Doors:
    """The doors of one process; ``start()`` returns the bound ports by door.

    They share one TLS certificate set (reloaded on SIGHUP), one API-key policy and one
    metrics registry. ``metrics_port``, ``http_port``: None = the config's (0 there: off); a
    number here (0: an ephemeral port) opens that door on it."""

    def __init__(self, config: Config, engine: SpeechEngine | None = None, metrics_port: int | None = None,
                 http_port: int | None = None):
        self.config = config
        security = config.security
        self.certificates = (Certificates(security.tls_cert, security.tls_key, security.tls_client_ca)
                             if security.tls else None)
        self.keys = KeyPolicy.from_file(security.api_keys) if security.api_keys else None
        self.grpc = VoiceServer(config, engine, certificates=self.certificates, keys=self.keys,
                                tracer=make_tracer(config.server.tracing))
        self.service = self.grpc.service
        self.metrics = self.grpc.metrics
        self.metrics_port = config.server.metrics_port or None if metrics_port is None else metrics_port
        self.http_port = config.server.http_port or None if http_port is None else http_port
        self.bridges: list = []

    def _ssl(self, client_auth: bool = True):
        return self.certificates.ssl_context(client_auth) if self.certificates is not None else None

    async def start(self) -> dict[str, int]:
        ports = {"grpc": await self.grpc.start()}
        server = self.config.server
        security = self.config.security
        if server.audiosocket:
            from .audiosocket.bridge import AudioSocketServer

            host, _, port = server.audiosocket.rpartition(":")
            bridge = AudioSocketServer(self.service, host, int(port), language=self.config.conversation.language,
                                       ssl=self._ssl(), idle_timeout_s=server.idle_timeout_s,
                                       max_call_s=server.max_stream_seconds)
            ports["audiosocket"] = await bridge.start()
            self.bridges.append(bridge)
        if server.wyoming:
            from .wyoming import WyomingServer

            # plain TCP: Home Assistant's Wyoming client speaks neither TLS nor API keys
            host, _, port = server.wyoming.rpartition(":")
            wyoming = WyomingServer(self.service, host, int(port), language=self.config.conversation.language,
                                    zeroconf=server.zeroconf, ready=self.grpc.wait_ready)
            ports["wyoming"] = await wyoming.start()
            self.bridges.append(wyoming)
        if self.http_port is not None:
            from .http.server import HttpServer

            http = HttpServer(self.service, server.host, self.http_port, ssl_context=self._ssl(),
                              metrics=self.metrics, keys=self.keys,
                              public=("/health",) if security.public_health else (),
                              max_body_bytes=server.max_file_bytes or server.max_message_bytes)
            ports["http"] = await http.start()
            self.bridges.append(http)
        if self.metrics_port is not None:
            from .ops.http_guard import guard
            from .ops.metrics import MetricsServer

            public = (("/metrics",) if security.public_metrics else ()) + (("/health",) if security.public_health else ())
            middlewares = (guard(None, self.keys, public, door="metrics"),) if self.keys is not None else ()
            # scrapers rarely hold client certificates: TLS without client authentication
            self.metrics_server = MetricsServer(self.metrics, server.host, self.metrics_port,
                                                ssl_context=self._ssl(client_auth=False), middlewares=middlewares)
            ports["metrics"] = await self.metrics_server.start()
        self.ports = ports
        _LOGGER.info("Doors: %s", ", ".join(f"{k} on port {v}" for k, v in ports.items()))
        return ports

    def reload_certificates(self) -> bool:
        """SIGHUP: read the TLS files again; connections and calls in progress are kept."""
        if self.certificates is None:
            _LOGGER.info("SIGHUP: no TLS configured, nothing to reload")
            return False
        return self.certificates.reload()

    async def stop(self) -> None:
        """Drain: health NOT_SERVING first; after ``server.drain_delay_s`` the listeners close
        and new calls are refused, calls in progress get ``server.grace_period_s`` (every door
        at once), then the rest are closed with a clear status (gRPC UNAVAILABLE, WebSocket
        1001, AudioSocket hang-up)."""
        server = self.config.server
        if not server.drain_delay_s:  # nobody needs to see health first: refuse new connections at once
            await self.grpc.close_listener(server.grace_period_s)
        await self.grpc.begin_drain()
        active = sum(self.service.admission.active(k) for k in ("recognition", "synthesis", "conversation"))
        _LOGGER.info("Draining: %d call(s) in progress, grace %.1f s", active, server.grace_period_s)
        if server.drain_delay_s:
            await asyncio.sleep(server.drain_delay_s)
        grace = server.grace_period_s
        await asyncio.gather(self.grpc.stop(grace), *(bridge.stop(grace) for bridge in self.bridges))
        metrics_server = getattr(self, "metrics_server", None)
        if metrics_server is not None:
            await metrics_server.stop()
        _LOGGER.info("Stopped")


async def serve(config: Config) -> None:
    """Run until SIGTERM / SIGINT, then stop with the configured grace period."""
    doors = Doors(config)
    await doors.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, doors.reload_certificates)
    # SIGUSR1: log the decode counters as one JSON line (benchmarks read it)
    loop.add_signal_handler(signal.SIGUSR1,
                            lambda: _LOGGER.warning("stats %s", json.dumps(doors.grpc.engine.stats())))
    await stop.wait()
    _LOGGER.info("Stopping (grace %.1f s)", config.server.grace_period_s)
    await doors.stop()
