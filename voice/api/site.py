"""One aiohttp listener, shared by the HTTP/WebSocket doors and the metrics port: bind
``host:port`` (0: an ephemeral port, TLS when an ``ssl_context`` is given), report the bound
port, stop listening while open connections go on, and close."""

from __future__ import annotations

import ssl

from aiohttp import web


class Listener:
    """``port = await Listener(app, host, port).start()`` ... ``await listener.close()``."""

    def __init__(self, app: web.Application, host: str, port: int, *, ssl_context: ssl.SSLContext | None = None,
                 shutdown_timeout: float = 1.0):
        """``shutdown_timeout``: seconds :meth:`close` gives requests still running."""
        self.app = app
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.shutdown_timeout = shutdown_timeout
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        runner = web.AppRunner(self.app, handle_signals=False, access_log=None, shutdown_timeout=self.shutdown_timeout)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port, ssl_context=self.ssl_context).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]
        return self.port

    def stop_listening(self) -> None:
        """Close the listening sockets only (new connections are refused: a load balancer
        tries another replica); open connections go on."""
        if self._runner is not None:
            for site in list(self._runner.sites):
                server = getattr(site, "_server", None)
                if server is not None:
                    server.close()

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
