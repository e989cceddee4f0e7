"""A real gRPC server (:class:`voice.api.grpc.server.VoiceServer`) on 127.0.0.1:0, served
from an event loop in a background thread so that blocking test code can call it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from voice.api.grpc.server import VoiceServer
    from voice.config import Config
    from voice.runtime.engine import SpeechEngine

T = TypeVar("T")


class ServerThread:
    """A VoiceServer on 127.0.0.1:0 in a background event loop.

    ``address`` is where to connect, ``server`` the VoiceServer (for white-box checks),
    ``loop`` the event loop it runs in; :meth:`call` runs a coroutine function there.
    """

    loop: asyncio.AbstractEventLoop
    server: VoiceServer
    port: int
    address: str

    def __init__(self, config: Config, engine: SpeechEngine):
        from voice.api.grpc.server import VoiceServer

        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.server = self.call(self._make, VoiceServer, config, engine)
        self.port = self.call(self.server.start, "127.0.0.1", 0)
        self.call(self.server.wait_ready)
        self.address = f"127.0.0.1:{self.port}"

    @staticmethod
    async def _make(cls: type[T], config: Config, engine: SpeechEngine) -> T:
        """Build ``cls(config, engine)`` inside the loop (gRPC aio binds to the running loop)."""
        return cls(config, engine)

    def call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """``await fn(*args)`` in the server's loop; blocks for the result (10 minutes at most)."""
        return asyncio.run_coroutine_threadsafe(fn(*args), self.loop).result(timeout=600)

    def stop(self) -> None:
        """Stop the server at once (no grace), then the loop and its thread."""
        self.call(self.server.server.stop, 0)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
