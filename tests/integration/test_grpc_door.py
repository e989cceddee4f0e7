"""The gRPC door's cross-cutting rules against a real server: garbage bytes on every RPC,
one readiness check while models load, and stream admission taken before the first message."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import replace

import grpc
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2
from voice_api.v1 import (
    conversation_pb2,
    recognizer_pb2,
    recognizer_pb2_grpc,
    synthesizer_pb2,
    understander_pb2,
)

from voice.runtime.engine import SpeechEngine
from voice.testing.server import ServerThread

GARBAGE = b"\xff\xff\xff\xffgarbage"
SERVICES = [
    recognizer_pb2.DESCRIPTOR.services_by_name["Recognizer"],
    synthesizer_pb2.DESCRIPTOR.services_by_name["Synthesizer"],
    understander_pb2.DESCRIPTOR.services_by_name["Understander"],
    conversation_pb2.DESCRIPTOR.services_by_name["Conversation"],
]
OTHERS = [
    (health_pb2.DESCRIPTOR.services_by_name["Health"], ("Check", "Watch")),
    (reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"], ("ServerReflectionInfo",)),
]


def _methods():
    for service in SERVICES:
        for method in service.methods:
            yield service, method
    for service, names in OTHERS:
        for name in names:
            yield service, service.methods_by_name[name]


def _raw_call(channel: grpc.Channel, service, method, payloads: list[bytes], timeout: float = 30):
    """Send raw bytes to ``method``; returns (status code, details)."""
    path = f"/{service.full_name}/{method.name}"
    ident = dict(request_serializer=lambda b: b, response_deserializer=lambda b: b)
    try:
        if method.client_streaming and method.server_streaming:
            list(channel.stream_stream(path, **ident)(iter(payloads), timeout=timeout))
        elif method.client_streaming:
            channel.stream_unary(path, **ident)(iter(payloads), timeout=timeout)
        elif method.server_streaming:
            list(channel.unary_stream(path, **ident)(payloads[0], timeout=timeout))
        else:
            channel.unary_unary(path, **ident)(payloads[0], timeout=timeout)
    except grpc.RpcError as err:
        return err.code(), err.details()
    return grpc.StatusCode.OK, ""


def _valid_request(method) -> bytes:
    """A well-formed request for ``method`` (what a caller might send while models load)."""
    samples = {
        "Recognize": recognizer_pb2.RecognizeRequest(
            config=recognizer_pb2.RecognitionConfig(encoding=1, sample_rate_hertz=16000), audio_content=b"\0\0" * 800),
        "StreamingRecognize": recognizer_pb2.StreamingRecognizeRequest(streaming_config=recognizer_pb2.StreamingRecognitionConfig(
            config=recognizer_pb2.RecognitionConfig(encoding=1, sample_rate_hertz=16000))),
        "Synthesize": synthesizer_pb2.SynthesizeRequest(text="Hello."),
        "SynthesizeOnce": synthesizer_pb2.SynthesizeRequest(text="Hello."),
        "ListVoices": synthesizer_pb2.ListVoicesRequest(),
        "Understand": understander_pb2.UnderstandRequest(text="I lost my card", language_code="en"),
        "ListIntents": understander_pb2.ListIntentsRequest(),
        "Converse": conversation_pb2.ConverseRequest(config=conversation_pb2.ConversationConfig(
            input_encoding=2, input_sample_rate_hertz=8000)),
    }
    return samples[method.name].SerializeToString()


def test_garbage_bytes_answer_invalid_argument_on_every_rpc(server, caplog):
    caplog.set_level(logging.INFO)
    methods = list(_methods())
    assert len(methods) == 11
    with grpc.insecure_channel(server.address) as channel:
        for _ in range(3):  # several calls each: still one log line per call, no tracebacks
            for service, method in methods:
                code, details = _raw_call(channel, service, method, [GARBAGE])
                assert code == grpc.StatusCode.INVALID_ARGUMENT, (method.full_name, code, details)
                assert details.startswith("request: not a valid "), details
    ours = [r for r in caplog.records if r.name == "voice.api.grpc.handlers"]
    assert len(ours) == 3 * len(methods)
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_garbage_after_audio_keeps_what_came_before(server):
    """A bad message mid-stream ends the input: the call still fails with INVALID_ARGUMENT."""
    config = recognizer_pb2.StreamingRecognizeRequest(streaming_config=recognizer_pb2.StreamingRecognitionConfig(
        config=recognizer_pb2.RecognitionConfig(encoding=1, sample_rate_hertz=16000, language_code="en")))
    audio = recognizer_pb2.StreamingRecognizeRequest(audio_content=b"\0\0" * 1600)
    with grpc.insecure_channel(server.address) as channel:
        code, details = _raw_call(channel, SERVICES[0], SERVICES[0].methods_by_name["StreamingRecognize"],
                                  [config.SerializeToString(), audio.SerializeToString(), GARBAGE])
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("request: ")
    assert server.server.service.admission.active("recognition") == 0


class _GatedEngine(SpeechEngine):
    """A real engine whose model loading waits for ``gate`` (a server that is still loading)."""

    def __init__(self, config):
        super().__init__(config)
        self.gate = threading.Event()

    def load(self) -> None:
        self.gate.wait(120)


def test_one_readiness_check_answers_unavailable_while_models_load(config):
    from voice.api.grpc.server import VoiceServer

    engine = _GatedEngine(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro):
        return asyncio.run_coroutine_threadsafe(coro, loop).result(60)

    async def make():
        return VoiceServer(config, engine)

    server = run(make())
    port = run(server.start("127.0.0.1", 0))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            for service in SERVICES:
                for method in service.methods:
                    code, details = _raw_call(channel, service, method, [_valid_request(method)])
                    if method.name == "ListVoices":  # the catalogue needs no model: served at once
                        assert code == grpc.StatusCode.OK
                        continue
                    assert code == grpc.StatusCode.UNAVAILABLE, (method.full_name, code, details)
                    assert "loading" in details
            status = channel.unary_unary("/grpc.health.v1.Health/Check",
                                         request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                                         response_deserializer=health_pb2.HealthCheckResponse.FromString)
            assert status(health_pb2.HealthCheckRequest()).status == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        engine.gate.set()
        run(server.stop(0))
        engine.close()  # the test's own engine (a server closes only an engine it made)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def test_exactly_max_sessions_streams_are_admitted_when_first_messages_are_late(config, engine):
    limit = 4
    small = ServerThread(replace(config, server=replace(config.server, max_sessions=limit)), engine)
    release = threading.Event()
    first = recognizer_pb2.StreamingRecognizeRequest(streaming_config=recognizer_pb2.StreamingRecognitionConfig(
        config=recognizer_pb2.RecognitionConfig(encoding=1, sample_rate_hertz=16000, language_code="en")))

    def late_requests():
        release.wait(120)  # the first message is held back until every stream has been opened
        yield first
        yield recognizer_pb2.StreamingRecognizeRequest(audio_content=b"\0\0" * 1600)

    admission = small.server.service.admission
    try:
        with grpc.insecure_channel(small.address) as channel:
            stub = recognizer_pb2_grpc.RecognizerStub(channel)
            calls = [stub.StreamingRecognize(late_requests(), timeout=120) for _ in range(limit + 8)]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and sum(c.done() for c in calls) < 8:
                time.sleep(0.05)
            refused = [c for c in calls if c.done()]
            assert len(refused) == 8 and admission.active("recognition") == limit
            assert all(c.code() == grpc.StatusCode.RESOURCE_EXHAUSTED for c in refused)
            assert "limit of 4" in refused[0].details()
            trailers = dict(refused[0].trailing_metadata() or ())
            assert int(trailers["grpc-retry-pushback-ms"]) > 0
            release.set()
            admitted = [c for c in calls if c not in refused]
            for call in admitted:
                list(call)  # silence only: the stream ends cleanly with no results
                assert call.code() == grpc.StatusCode.OK
        deadline = time.monotonic() + 30
        while admission.active("recognition") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert admission.active("recognition") == 0
    finally:
        release.set()
        small.stop()
