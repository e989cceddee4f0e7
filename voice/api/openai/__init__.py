"""The OpenAI-compatible door: OpenAI's audio REST API (:mod:`.rest`, wire <-> service types in
:mod:`.formats`) on the HTTP server's aiohttp app, beside its realtime WebSocket."""
