"""API keys and quotas on every door of one process: gRPC (metadata ``authorization: Bearer`` or
``x-api-key``), HTTP and WebSocket (header or query parameter), the metrics port; each key
rule, and that no key ever reaches a log line."""

from __future__ import annotations

import asyncio
import logging
import threading

import aiohttp
import grpc
import numpy as np
import pytest
import soundfile as sf
from grpc_health.v1 import health_pb2, health_pb2_grpc
from voice_api.v1 import recognizer_pb2, recognizer_pb2_grpc, synthesizer_pb2, synthesizer_pb2_grpc

from voice.api.ops.keys import key_entry, new_secret
from voice.core.telemetry import NO_TELEMETRY
from voice.testing.ops import DoorsThread
from voice.testing.prompts import SOUNDS
from voice.testing.streams import audio_requests, config_request, silence

PROMPT = SOUNDS / "en" / "queue-callswaiting.wav"
KEYS = {name: new_secret() for name in ("all", "tts_only", "one_stream", "three_a_minute", "http_three", "few_seconds")}


@pytest.fixture(scope="module")
def doors(config, engine, tmp_path_factory):
    path = tmp_path_factory.mktemp("keys") / "keys.toml"
    path.write_text("\n".join([
        key_entry("all", KEYS["all"]),
        key_entry("tts_only", KEYS["tts_only"], ["tts"]),
        key_entry("one_stream", KEYS["one_stream"], max_streams=1),
        key_entry("three_a_minute", KEYS["three_a_minute"], requests_per_minute=3),
        key_entry("http_three", KEYS["http_three"], requests_per_minute=3),
        key_entry("few_seconds", KEYS["few_seconds"], audio_minutes_per_day=0.05),  # 3 s of audio a day
    ]))
    cfg = config.replace("server", host="127.0.0.1", port=0).replace("security", api_keys=str(path))
    running = DoorsThread(cfg, engine, http=True)
    yield running
    running.stop()
    engine.set_telemetry(NO_TELEMETRY)


@pytest.fixture(autouse=True)
def no_key_in_logs(caplog):
    caplog.set_level(logging.DEBUG)
    yield
    text = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    for secret in KEYS.values():
        assert secret not in text


def bearer(name):
    return (("authorization", f"Bearer {KEYS[name]}"),)


def voices(doors, metadata=()):
    with grpc.insecure_channel(f"127.0.0.1:{doors.ports['grpc']}") as ch:
        return synthesizer_pb2_grpc.SynthesizerStub(ch).ListVoices(synthesizer_pb2.ListVoicesRequest(),
                                                                    metadata=metadata, timeout=30)


def code_of(fn, *args, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        fn(*args, **kwargs)
    return info.value


def test_grpc_needs_a_valid_key_in_either_header(doors):
    missing = code_of(voices, doors)
    assert missing.code() == grpc.StatusCode.UNAUTHENTICATED and "API key is required" in missing.details()
    wrong = code_of(voices, doors, (("x-api-key", KEYS["all"] + "x"),))
    assert wrong.code() == grpc.StatusCode.UNAUTHENTICATED and KEYS["all"] not in wrong.details()
    assert voices(doors, bearer("all")).voices
    assert voices(doors, (("x-api-key", KEYS["all"]),)).voices


def test_health_and_metrics_need_no_key(doors):
    with grpc.insecure_channel(f"127.0.0.1:{doors.ports['grpc']}") as ch:
        status = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert status.status == health_pb2.HealthCheckResponse.SERVING

    async def get(path, port):
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as response:
            return response.status

    assert asyncio.run(get("/health", doors.ports["http"])) == 200
    assert asyncio.run(get("/metrics", doors.ports["metrics"])) == 200


def test_a_service_outside_the_key_is_permission_denied(doors):
    assert voices(doors, bearer("tts_only")).voices
    with grpc.insecure_channel(f"127.0.0.1:{doors.ports['grpc']}") as ch:
        stub = recognizer_pb2_grpc.RecognizerStub(ch)
        denied = code_of(stub.Recognize, recognizer_pb2.RecognizeRequest(), metadata=bearer("tts_only"), timeout=30)
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED and "may not use asr" in denied.details()


def test_concurrent_streams_over_the_limit_are_exhausted_with_a_retry_hint(doors):
    release = threading.Event()

    def slow():
        yield config_request("en")
        release.wait(30)

    with grpc.insecure_channel(f"127.0.0.1:{doors.ports['grpc']}") as ch:
        stub = recognizer_pb2_grpc.RecognizerStub(ch)
        first = stub.StreamingRecognize(slow(), metadata=bearer("one_stream"))
        first_done = threading.Thread(target=lambda: list(first))
        first_done.start()
        for _ in range(200):  # the first stream holds its slot once the server has it
            if doors.doors.keys.usage("one_stream")["streams"] == 1:
                break
            threading.Event().wait(0.02)
        second = code_of(lambda: list(stub.StreamingRecognize(iter([config_request("en")]),
                                                               metadata=bearer("one_stream"))))
        release.set()
        first_done.join(30)
    assert second.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "1 concurrent streams" in second.details()
    trailers = dict(second.trailing_metadata())
    assert int(trailers["grpc-retry-pushback-ms"]) > 0 and int(trailers["retry-after"]) >= 1
    assert voices(doors, bearer("one_stream")).voices  # a unary call needs no stream slot


def test_requests_per_minute(doors):
    for _ in range(3):
        voices(doors, bearer("three_a_minute"))
    over = code_of(voices, doors, bearer("three_a_minute"))
    assert over.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "3 requests per minute" in over.details()
    assert 0 < int(dict(over.trailing_metadata())["grpc-retry-pushback-ms"]) <= 60_000


def test_audio_minutes_per_day_end_the_stream_then_refuse_new_calls(doors):
    pcm = np.concatenate([silence(0.3), sf.read(PROMPT, dtype="int16")[0], silence(3.0)])  # > 3 s
    with grpc.insecure_channel(f"127.0.0.1:{doors.ports['grpc']}") as ch:
        stub = recognizer_pb2_grpc.RecognizerStub(ch)

        def requests():
            yield config_request("en")
            yield from audio_requests(pcm, pace=0.2)

        responses = []
        cut = code_of(lambda: responses.extend(stub.StreamingRecognize(requests(), metadata=bearer("few_seconds"))))
        refused = code_of(voices, doors, bearer("few_seconds"))
    assert cut.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "audio minutes" in cut.details()
    assert doors.doors.keys.usage("few_seconds")["audio_s_today"] == pytest.approx(3.0, abs=0.2)
    assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert 0 < int(dict(refused.trailing_metadata())["grpc-retry-pushback-ms"]) <= 86_400_000


def test_websocket_and_http_keys(doors):
    base = f"127.0.0.1:{doors.ports['http']}"

    async def main():
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await session.ws_connect(f"ws://{base}/twilio/media")
            assert info.value.status == 401
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await session.ws_connect(f"ws://{base}/twilio/media?api_key={KEYS['all']}x")
            assert info.value.status == 401
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await session.ws_connect(f"ws://{base}/twilio/media?api_key={KEYS['tts_only']}")
            assert info.value.status == 403
            for url, headers in ((f"ws://{base}/twilio/media?api_key={KEYS['all']}", {}),
                                 (f"ws://{base}/twilio/media", {"Authorization": f"Bearer {KEYS['all']}"}),
                                 (f"ws://{base}/twilio/media", {"X-Api-Key": KEYS["all"]})):
                ws = await session.ws_connect(url, headers=headers)
                assert ws.get_extra_info("peername") is not None
                await ws.close()
            async with session.get(f"http://{base}/twilio/media") as response:  # no key over plain HTTP
                assert response.status == 401
                body = await response.json()
                assert body["error"]["type"] == "unauthenticated" and response.headers["X-Request-Id"]
            # the query parameter is for WebSockets only (a URL ends up in proxies' logs)
            async with session.get(f"http://{base}/twilio/media?api_key={KEYS['all']}") as response:
                assert response.status == 401
            for _ in range(3):
                async with session.get(f"http://{base}/twilio/media", headers={"X-Api-Key": KEYS["http_three"]}):
                    pass
            async with session.get(f"http://{base}/twilio/media", headers={"X-Api-Key": KEYS["http_three"]}) as r:
                assert r.status == 429 and int(r.headers["Retry-After"]) >= 1

    asyncio.run(main())


def test_private_health_and_metrics_when_configured(config, engine, doors):
    cfg = (config.replace("server", host="127.0.0.1", port=0)
           .replace("security", api_keys=doors.doors.config.security.api_keys, public_health=False, public_metrics=False))
    private = DoorsThread(cfg, engine, http=True)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{private.ports['grpc']}") as ch:
            stub = health_pb2_grpc.HealthStub(ch)
            refused = code_of(stub.Check, health_pb2.HealthCheckRequest(), timeout=10)
            assert refused.code() == grpc.StatusCode.UNAUTHENTICATED
            assert stub.Check(health_pb2.HealthCheckRequest(), metadata=bearer("all"), timeout=10).status == \
                health_pb2.HealthCheckResponse.SERVING

        async def get(url, headers=None):
            async with aiohttp.ClientSession() as session, session.get(url, headers=headers or {}) as response:
                return response.status

        metrics = f"http://127.0.0.1:{private.ports['metrics']}/metrics"
        assert asyncio.run(get(metrics)) == 401
        assert asyncio.run(get(metrics, {"Authorization": f"Bearer {KEYS['all']}"})) == 200
        assert asyncio.run(get(f"http://127.0.0.1:{private.ports['http']}/health")) == 401
    finally:
        private.stop()
        engine.set_telemetry(doors.doors.metrics)
