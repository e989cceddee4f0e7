"""``voice serve``: every enabled door around one engine and one service, in one process.

gRPC always; the Asterisk AudioSocket bridge with ``--audiosocket HOST:PORT``; the HTTP
server (Twilio-compatible media streams at ``/twilio/media``, ``/health``) with
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

_LOGGER = logging.getLogger(__name__)


class Doors:
    """The doors of one process; ``start()`` returns the bound ports by door."""

    def __init__(self, config: Config, engine: SpeechEngine | None = None):
        self.config = config
        self.grpc = VoiceServer(config, engine)
        self.service = self.grpc.service
        self.bridges: list = []

    async def start(self) -> dict[str, int]:
        ports = {"grpc": await self.grpc.start()}
        server = self.config.server
        if server.audiosocket:
            from .audiosocket.bridge import AudioSocketServer

            host, _, port = server.audiosocket.rpartition(":")
            bridge = AudioSocketServer(self.service, host, int(port), language=self.config.conversation.language)
            ports["audiosocket"] = await bridge.start()
            self.bridges.append(bridge)
        if server.http_port:
            from .http.server import HttpServer

            http = HttpServer(self.service, server.host, server.http_port)
            ports["http"] = await http.start()
            self.bridges.append(http)
        _LOGGER.info("Doors: %s", ", ".join(f"{k} on port {v}" for k, v in ports.items()))
        return ports

    async def stop(self) -> None:
        self.service.drain()
        grace = self.config.server.grace_period_s
        for bridge in self.bridges:
            await bridge.stop(grace)
        await self.grpc.stop()


async def serve(config: Config) -> None:
    """Run until SIGTERM / SIGINT, then stop with the configured grace period."""
    doors = Doors(config)
    await doors.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # SIGUSR1: log the decode counters as one JSON line (benchmarks read it)
    loop.add_signal_handler(signal.SIGUSR1,
                            lambda: _LOGGER.warning("stats %s", json.dumps(doors.grpc.engine.stats())))
    await stop.wait()
    _LOGGER.info("Stopping (grace %.1f s)", config.server.grace_period_s)
    await doors.stop()
