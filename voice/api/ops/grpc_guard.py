"""The gRPC server interceptor: what every RPC gets before and after its handler.

* a request id (metadata ``x-request-id``, or a new one) for the call's logs, echoed in the
  initial metadata;
* API keys and quotas (:mod:`.keys`) when the server has a keys file: ``authorization:
  Bearer KEY`` or ``x-api-key: KEY``; no or a wrong key -> ``UNAUTHENTICATED``, a service the
  key may not use -> ``PERMISSION_DENIED``, a limit -> ``RESOURCE_EXHAUSTED`` with
  ``grpc-retry-pushback-ms`` (and ``retry-after`` seconds) in the trailers. Health stays
  public unless configured otherwise;
* limits on request streams (:mod:`.limits`): no message for ``idle_timeout_s``, or longer than
  ``max_stream_seconds``, ends the input (what was sent is still answered), then the call
  ends with ``DEADLINE_EXCEEDED`` naming the limit; a key whose audio for the day is spent
  ends its streams the same way with ``RESOURCE_EXHAUSTED``;
* metrics: calls in flight and finished, by service and status code;
* drain: :meth:`GrpcGuard.close_all` ends every call still running with ``UNAVAILABLE``
  ("server shutting down") at the end of the grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from typing import TYPE_CHECKING

import grpc

from ...core.errors import ResourceExhausted, ServiceError
from .keys import LEASE, KeyPolicy, Lease, PermissionDenied, Unauthenticated, bearer, service_of
from .limits import StreamClock, StreamLimits
from .logs import REQUEST_ID, request_id

if TYPE_CHECKING:
    from .metrics import Metrics

_LOGGER = logging.getLogger(__name__)

HEALTH_SERVICE = "grpc.health.v1.Health"
CLOSED_MESSAGE = "server shutting down: the call was still running at the end of the drain period"
_CODES = {Unauthenticated: grpc.StatusCode.UNAUTHENTICATED, PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
          ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED}


class _Call:
    def __init__(self, method: str, service: str, context, task: asyncio.Task | None):
        self.method = method
        self.service = service
        self.context = context
        self.task = task
        self.closing = False
        self.ended: tuple[grpc.StatusCode, str] | None = None  # a limit ended the input
        self.lease: Lease | None = None
        self.started = time.monotonic()


def _metadata(details) -> dict[str, str]:
    out = {}
    for item in details.invocation_metadata or ():
        key, value = item
        if isinstance(value, str):
            out[key.lower()] = value
    return out


class GrpcGuard(grpc.aio.ServerInterceptor):
    def __init__(self, metrics: Metrics | None = None, keys: KeyPolicy | None = None,
                 limits: StreamLimits = StreamLimits(), public_health: bool = True, tracer=None):
        self.metrics = metrics
        self.keys = keys
        self.limits = limits
        self.public = {HEALTH_SERVICE} if public_health else set()
        self.tracer = tracer
        self.calls: set[_Call] = set()

    @property
    def active(self) -> int:
        """Calls in flight, health watches excluded."""
        return sum(1 for c in self.calls if not c.method.startswith(f"/{HEALTH_SERVICE}/"))

    async def close_all(self) -> int:
        """End every call still running with UNAVAILABLE (the drain deadline): the status goes
        to the client now, then the call's work is cancelled. Returns how many."""
        calls = [c for c in self.calls if c.task is not None and not c.task.done()]
        for call in calls:
            call.closing = True
            with contextlib.suppress(Exception):  # AbortError (ours to swallow), or the call just ended
                await call.context.abort(grpc.StatusCode.UNAVAILABLE, CLOSED_MESSAGE)
            call.task.cancel()
        return len(calls)

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        if handler is None:
            return None
        method = details.method
        meta = _metadata(details)
        grpc_service = method.split("/")[1] if method.count("/") >= 2 else method
        service = service_of(method) or grpc_service.rsplit(".", 1)[-1].lower()
        needs_key = self.keys is not None and grpc_service not in self.public
        stream = handler.request_streaming or handler.response_streaming
        guard = self

        @contextlib.asynccontextmanager
        async def call_scope(context):
            call = _Call(method, service, context, asyncio.current_task())
            rid = request_id(meta.get("x-request-id"))
            token = REQUEST_ID.set(rid)
            lease_token = None
            span = guard.tracer.start_as_current_span(method) if guard.tracer is not None else contextlib.nullcontext()
            guard.calls.add(call)
            if guard.metrics is not None:
                guard.metrics.in_flight.labels("grpc", service).inc()
            code = grpc.StatusCode.OK
            try:
                with span as current:
                    if current is not None:
                        current.set_attribute("request_id", rid)
                    with contextlib.suppress(Exception):
                        await context.send_initial_metadata((("x-request-id", rid),))
                    if needs_key:
                        try:
                            call.lease = guard.keys.admit(bearer(meta.get("authorization")) or meta.get("x-api-key"),
                                                          service_of(method), stream=stream)
                        except ServiceError as exc:
                            await _abort(context, exc)
                        lease_token = LEASE.set(call.lease)
                    try:
                        yield call
                    except asyncio.CancelledError:
                        code = grpc.StatusCode.UNAVAILABLE if call.closing else grpc.StatusCode.CANCELLED
                        raise
                    if call.ended is not None:
                        await context.abort(*call.ended)
                    code = context.code() or grpc.StatusCode.OK
                    if current is not None:
                        current.set_attribute("grpc.status", code.name)
            except BaseException as exc:
                if code is grpc.StatusCode.OK:
                    gone = isinstance(exc, GeneratorExit) or context.cancelled()  # the client stopped reading
                    code = context.code() or (grpc.StatusCode.CANCELLED if gone else grpc.StatusCode.UNKNOWN)
                raise
            finally:
                guard.calls.discard(call)
                # one line a call (health checks only at DEBUG): method, status, duration, key name
                _LOGGER.log(logging.DEBUG if grpc_service == HEALTH_SERVICE else logging.INFO, "%s %s %.3f s%s",
                            method, code.name, time.monotonic() - call.started,
                            f" key={call.lease.key.name}" if call.lease is not None else "")
                if call.lease is not None:
                    call.lease.release()
                with contextlib.suppress(ValueError):  # a generator finalised in another context
                    if lease_token is not None:
                        LEASE.reset(lease_token)
                    REQUEST_ID.reset(token)
                if guard.metrics is not None:
                    guard.metrics.in_flight.labels("grpc", service).dec()
                    guard.metrics.request("grpc", service, code.name)

        def requests(raw, call: _Call):
            return guard._limited(raw, call)

        if handler.unary_unary:
            behavior = handler.unary_unary

            async def unary_unary(request, context):
                async with call_scope(context):
                    return await behavior(request, context)
            return grpc.unary_unary_rpc_method_handler(unary_unary, handler.request_deserializer,
                                                       handler.response_serializer)
        if handler.unary_stream:
            behavior = handler.unary_stream

            async def unary_stream(request, context):
                async with call_scope(context):
                    async for response in _responses(behavior(request, context)):
                        yield response
            return grpc.unary_stream_rpc_method_handler(unary_stream, handler.request_deserializer,
                                                        handler.response_serializer)
        if handler.stream_unary:
            behavior = handler.stream_unary

            async def stream_unary(request_iterator, context):
                async with call_scope(context) as call:
                    return await behavior(requests(request_iterator, call), context)
            return grpc.stream_unary_rpc_method_handler(stream_unary, handler.request_deserializer,
                                                        handler.response_serializer)
        behavior = handler.stream_stream

        async def stream_stream(request_iterator, context):
            async with call_scope(context) as call:
                async for response in _responses(behavior(requests(request_iterator, call), context)):
                    yield response
        return grpc.stream_stream_rpc_method_handler(stream_stream, handler.request_deserializer,
                                                     handler.response_serializer)

    async def _limited(self, raw, call: _Call):
        """The request stream, ended early (and the reason kept) by a limit."""
        clock = StreamClock(self.limits, started=call.started)
        iterator = raw.__aiter__()
        while True:
            timed_out = False
            try:
                async with asyncio.timeout(clock.wait_s()):
                    message = await iterator.__anext__()
            except StopAsyncIteration:
                return
            except TimeoutError:
                timed_out = True
            else:
                clock.heard()
            hit = clock.hit()
            if hit is not None:
                call.ended = (grpc.StatusCode.DEADLINE_EXCEEDED, f"{hit}; the stream was ended")
                _LOGGER.info("%s: %s; input ended", call.method, hit)
                return
            if timed_out:
                continue
            if call.lease is not None and call.lease.exhausted:
                call.ended = (grpc.StatusCode.RESOURCE_EXHAUSTED,
                              f"key {call.lease.key.name!r} has used its audio minutes for today (UTC)")
                return
            yield message


async def _responses(result):
    """A server-streaming behaviour's responses (an async generator, or a coroutine that
    writes with ``context.write`` and returns None)."""
    if inspect.isasyncgen(result):
        async for response in result:
            yield response
    else:
        await result


async def _abort(context, error: ServiceError) -> None:
    if isinstance(error, ResourceExhausted):
        context.set_trailing_metadata((("grpc-retry-pushback-ms", str(int(error.retry_after_s * 1000))),
                                       ("retry-after", str(max(1, round(error.retry_after_s))))))
    await context.abort(_CODES.get(type(error), grpc.StatusCode.INTERNAL), str(error))
