"""The short form of bench/reliability.py: fuzzed requests (every rejection INVALID_ARGUMENT,
no crash, no hang), calls that vanish mid-way on every door (nothing leaks, read from the
metrics), a decoder failing mid-stream (that stream INTERNAL, the others unaffected), and a
model that fails to load (health stays NOT_SERVING, the process says why)."""

from __future__ import annotations

import time

import grpc
import numpy as np
import pytest
import soundfile as sf
from grpc_health.v1 import health_pb2, health_pb2_grpc

from voice.core.telemetry import NO_TELEMETRY
from voice.testing import reliability
from voice.testing.harness import free_port
from voice.testing.ops import DoorsThread, ServeProcess, sample, scrape
from voice.testing.prompts import SOUNDS
from voice.testing.streams import silence

PROMPT = SOUNDS / "en" / "queue-callswaiting.wav"


@pytest.fixture(scope="module")
def doors(config, engine):
    running = DoorsThread(config.replace("server", host="127.0.0.1", port=0, audiosocket="127.0.0.1:0"), engine)
    yield running
    running.stop()
    engine.set_telemetry(NO_TELEMETRY)


def address(doors) -> str:
    return f"127.0.0.1:{doors.ports['grpc']}"


def speech() -> np.ndarray:
    return np.concatenate([silence(0.3), sf.read(PROMPT, dtype="int16")[0], silence(1.0)])


def test_fuzzed_requests_are_answered_ok_or_invalid_argument(doors):
    figures = reliability.fuzz(address(doors), 300, workers=4)
    assert figures["crashes_or_hangs"] == 0, figures["examples"]
    assert figures["codes"].get("INVALID_ARGUMENT", 0) > 100


def test_vanishing_calls_leak_nothing(doors):
    figures = reliability.disconnects(address(doors), f"http://127.0.0.1:{doors.ports['metrics']}/metrics", 40,
                                      speech(), audiosocket=doors.ports["audiosocket"], workers=8)
    assert figures["disconnects"] == 40 and set(figures["by_kind"]) == {"stream", "synthesis", "converse", "audiosocket"}
    assert figures["leaked"] == {"sessions": 0, "decode_jobs": 0, "requests": 0}


def test_a_decoder_failure_ends_only_its_stream_with_internal(doors, engine, caplog):
    undo = reliability.inject_decoder_fault(engine)
    try:
        figures = reliability.decoder_fault(address(doors), speech(), others=2)
    finally:
        undo()
    assert figures["faulty_stream"][0] == "INTERNAL" and "RuntimeError" in figures["faulty_stream"][1]
    assert figures["normal_ok"] == figures["normal"] == 2
    assert sum(1 for r in caplog.records if r.exc_info and "injected decoder fault" in str(r.exc_info[1])) == 1


def test_a_model_that_fails_to_load_keeps_health_not_serving(tmp_path):
    metrics_port = free_port()
    server = ServeProcess(["--metrics-port", str(metrics_port)], env={"VOICE_ASR_MODEL": str(tmp_path / "no-such-model")})
    try:
        server.start(ready=False)
        why = server.wait_for(r"Model loading failed; health stays NOT_SERVING: (.*)", 120).group(1)
        assert "no-such-model" in why
        with grpc.insecure_channel(server.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            time.sleep(1.0)  # it stays so (nothing retries a failed load behind the operator's back)
            assert stub.Check(health_pb2.HealthCheckRequest(), timeout=10).status == \
                health_pb2.HealthCheckResponse.NOT_SERVING
        assert server.proc.poll() is None  # up, saying why, for the operator and the probes
        metrics = scrape(f"http://127.0.0.1:{metrics_port}/metrics")
        assert sample(metrics, "voice_model_state", state="failed") == 1 and sample(metrics, "voice_ready") == 0
        server.terminate()
        assert server.wait(30) == 0
    finally:
        server.close()
