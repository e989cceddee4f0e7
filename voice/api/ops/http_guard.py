"""The aiohttp middleware: what every HTTP request and WebSocket gets before its handler.

* a request id (header ``X-Request-Id``, or a new one) for the request's logs, echoed in
  the response (for a WebSocket, in the upgrade response);
* API keys and quotas (:mod:`.keys`): ``Authorization: Bearer KEY`` or ``X-Api-Key``, and for
  WebSockets (browsers cannot set headers) also the query parameter ``api_key`` (``key`` or
  ``token`` too); 401 / 403 / 429 (``Retry-After``) as JSON ``{"error": {...}}``. Public
  paths (``/health``, and ``/metrics`` on the metrics port) need no key;
* metrics: requests in flight and finished by service and status (a WebSocket counts when it
  closes, as 101).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from aiohttp import web

from ...core.errors import ResourceExhausted, ServiceError
from .keys import LEASE, KeyPolicy, PermissionDenied, Unauthenticated, bearer, service_of
from .logs import REQUEST_ID, request_id

if TYPE_CHECKING:
    from .metrics import Metrics

_LOGGER = logging.getLogger(__name__)
QUERY_KEYS = ("api_key", "key", "token")
_STATUS = {Unauthenticated: (401, "unauthenticated"), PermissionDenied: (403, "permission_denied"),
           ResourceExhausted: (429, "rate_limit_exceeded")}


def guard(metrics: Metrics | None = None, keys: KeyPolicy | None = None, public: Iterable[str] = ("/health",),
          door: str = "http"):
    """The middleware; ``public``: paths reachable without a key."""
    public = frozenset(public)

    @web.middleware
    async def middleware(request: web.Request, handler):
        started = time.monotonic()
        rid = request_id(request.headers.get("X-Request-Id"))
        token = REQUEST_ID.set(rid)
        service = service_of(request.path) or "http"
        lease = None
        lease_token = None
        status = 500
        if metrics is not None:
            metrics.in_flight.labels(door, service).inc()
        try:
            if keys is not None and request.path not in public:
                websocket = request.headers.get("Upgrade", "").lower() == "websocket"
                secret = bearer(request.headers.get("Authorization")) or request.headers.get("X-Api-Key")
                if not secret and websocket:
                    secret = next((request.query[q] for q in QUERY_KEYS if request.query.get(q)), None)
                try:
                    lease = keys.admit(secret, service_of(request.path), stream=websocket)
                except ServiceError as exc:
                    response = _error(exc, rid)
                    status = response.status
                    return response
                lease_token = LEASE.set(lease)
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                status = exc.status
                raise
            status = response.status
            return response
        finally:
            _LOGGER.log(logging.DEBUG if request.path in ("/health", "/metrics") else logging.INFO,
                        "%s %s %s %.3f s%s", request.method, request.path, status, time.monotonic() - started,
                        f" key={lease.key.name}" if lease is not None else "")
            if lease is not None:
                lease.release()
            if lease_token is not None:
                LEASE.reset(lease_token)
            REQUEST_ID.reset(token)
            if metrics is not None:
                metrics.in_flight.labels(door, service).dec()
                metrics.request(door, service, str(status))

    return middleware


def _error(exc: ServiceError, rid: str) -> web.Response:
    status, kind = _STATUS.get(type(exc), (500, "internal_error"))
    headers = {"X-Request-Id": rid}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, ResourceExhausted):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
    return web.json_response({"error": {"message": str(exc), "type": kind, "code": status}}, status=status,
                             headers=headers)


async def echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """``app.on_response_prepare`` hook: the request id on every response, WebSocket upgrades
    and streamed responses included."""
    rid = REQUEST_ID.get()
    if rid and "X-Request-Id" not in response.headers:
        response.headers["X-Request-Id"] = rid


def install(app: web.Application, metrics: Metrics | None = None, keys: KeyPolicy | None = None,
            public: Iterable[str] = ("/health",), door: str = "http") -> None:
    """Put the guard in front of every route of ``app`` (before the app is started)."""
    app.middlewares.append(guard(metrics, keys, public, door))
    app.on_response_prepare.append(echo_request_id)
