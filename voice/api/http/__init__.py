"""The HTTP door: one aiohttp app on its own port for the WebSocket and HTTP protocols
(``GET /health``; the Twilio Media Streams bridge at ``/twilio/media``). Each protocol mounts
its routes with its own ``add_routes(app, service)``."""

from .server import HttpServer

__all__ = ["HttpServer"]
