"""``GET /``: a small page to try the service in a browser, over the realtime WebSocket
(:mod:`voice.api.openai.realtime`). Static files only (``static/``: ``index.html``,
``app.js``, ``capture.js``), no build step; they ship inside the package.

Pick a language, talk into the microphone and watch interim and final transcripts (with their
languages) appear; type or pick a reply and hear it; talk over it to barge in; each turn shows
its latencies. With API keys on, open the page as ``/?api_key=KEY``: the page passes the key on
to the WebSocket (a browser cannot give one headers). The page's own files hold no secret;
:data:`PUBLIC_PATHS` are what a key policy would leave open for a browser to load it.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from ...service import VoiceService

STATIC = Path(__file__).parent / "static"
PAGE = STATIC / "index.html"
HEADERS = {"Cache-Control": "no-cache"}
PUBLIC_PATHS = ("/", "/static/app.js", "/static/capture.js")


def add_routes(app: web.Application, service: VoiceService) -> None:
    """Mount ``GET /`` (the page) and ``GET /static/...`` (its scripts)."""
    app.router.add_get("/", _page)
    app.router.add_static("/static/", STATIC, append_version=False)


async def _page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(PAGE, headers=HEADERS)
