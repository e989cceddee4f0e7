"""The gRPC guard (voice.api.ops.grpc_guard) around a tiny in-process server, no models: request
ids, metrics by status, the idle and duration limits, closing calls at the drain deadline,
tracing spans, and JSON log lines carrying the call's request id."""

from __future__ import annotations

import asyncio
import json
import logging

import grpc
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from voice.api.ops.grpc_guard import CLOSED_MESSAGE, GrpcGuard, StreamLimits
from voice.api.ops.logs import REQUEST_ID, JsonFormatter, RequestIdFilter, request_id
from voice.api.ops.tracing import make_tracer

_LOGGER = logging.getLogger("tests.guard")


async def echo(request: bytes, context):
    _LOGGER.warning("echo %d bytes", len(request))
    return request


async def count(requests, context):
    n = 0
    async for _ in requests:
        n += 1
        yield b"%d" % n


async def forever(request: bytes, context):
    while True:
        await asyncio.sleep(0.05)
        yield b"."


class Recorder:
    """What the guard reports to metrics (the Metrics interface it uses)."""

    def __init__(self):
        self.done = []
        self.in_flight = self

    def labels(self, *labels):
        return self

    def inc(self):
        pass

    def dec(self):
        pass

    def request(self, door, service, code):
        self.done.append((service, code))


async def serve(guard: GrpcGuard):
    server = grpc.aio.server(interceptors=[guard])
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Echo", {
        "Echo": grpc.unary_unary_rpc_method_handler(echo),
        "Count": grpc.stream_stream_rpc_method_handler(count),
        "Forever": grpc.unary_stream_rpc_method_handler(forever),
    }),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, grpc.aio.insecure_channel(f"127.0.0.1:{port}")


def test_request_ids_metrics_spans_and_json_logs(caplog):
    exporter = InMemorySpanExporter()
    metrics = Recorder()
    guard = GrpcGuard(metrics, tracer=make_tracer(True, exporter=exporter))
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(RequestIdFilter())  # as `voice serve --log-format json` does

    async def main():
        server, channel = await serve(guard)
        async with channel:
            call = channel.unary_unary("/test.Echo/Echo")(b"abc", metadata=(("x-request-id", "rid-42"),))
            assert await call == b"abc"
            assert dict(await call.initial_metadata())["x-request-id"] == "rid-42"
            other = channel.unary_unary("/test.Echo/Echo")(b"x")
            await other
            assert len(dict(await other.initial_metadata())["x-request-id"]) == 16  # made by the server
        await server.stop(0)

    asyncio.run(main())
    assert metrics.done == [("echo", "OK"), ("echo", "OK")]
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["/test.Echo/Echo"] * 2
    assert spans[0].attributes["request_id"] == "rid-42" and spans[0].attributes["grpc.status"] == "OK"
    lines = [JsonFormatter().format(r) for r in caplog.records if r.name == "tests.guard"]
    assert json.loads(lines[0])["request_id"] == "rid-42" and json.loads(lines[0])["message"] == "echo 3 bytes"
    access = [r for r in caplog.records if r.name == "voice.api.ops.grpc_guard"]
    assert access and access[0].getMessage().startswith("/test.Echo/Echo OK")


def test_idle_and_duration_limits_end_the_input_then_the_call():
    async def main(limits: StreamLimits, pause_after: int, pause_s: float):
        server, channel = await serve(GrpcGuard(limits=limits))

        async def requests():
            for i in range(20):
                yield b"x"
                await asyncio.sleep(pause_s if i + 1 == pause_after else 0.05)

        got = []
        async with channel:
            call = channel.stream_stream("/test.Echo/Count")(requests())
            with pytest.raises(grpc.aio.AioRpcError) as info:
                async for r in call:
                    got.append(r)
        await server.stop(0)
        return got, info.value

    # messages every 50 ms are never idle; a 1 s pause after the 3rd is
    got, error = asyncio.run(main(StreamLimits(idle_timeout_s=0.3), 3, 1.0))
    assert got == [b"1", b"2", b"3"]  # what was sent is answered
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED and "server.idle_timeout_s" in error.details()
    got, error = asyncio.run(main(StreamLimits(max_stream_seconds=0.3), 0, 0.0))
    assert 3 <= len(got) < 20
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED and "server.max_stream_seconds" in error.details()


def test_close_all_ends_running_calls_with_unavailable():
    guard = GrpcGuard()

    async def main():
        server, channel = await serve(guard)
        async with channel:
            responses = channel.unary_stream("/test.Echo/Forever")(b"").__aiter__()
            await responses.__anext__()
            assert guard.active == 1
            assert await guard.close_all() == 1
            with pytest.raises(grpc.aio.AioRpcError) as info:
                while True:
                    await responses.__anext__()
        await server.stop(0)
        return info.value

    error = asyncio.run(main())
    assert error.code() == grpc.StatusCode.UNAVAILABLE and error.details() == CLOSED_MESSAGE
    assert guard.active == 0


def test_request_ids_from_clients_are_kept_only_when_sane():
    assert request_id("abc-123_x.y") == "abc-123_x.y"
    for bad in ("", None, "a b", "x" * 200, "new\nline"):
        assert request_id(bad) != bad and len(request_id(bad)) == 16
    assert REQUEST_ID.get() == ""
