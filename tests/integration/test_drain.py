"""Graceful drain of a real ``voice serve`` process on SIGTERM: health NOT_SERVING and new calls
refused at once, a stream that ends within the grace period completes normally, one that
does not is closed with UNAVAILABLE ("server shutting down") after what it had was sent, an
AudioSocket call gets a hang-up frame, and the process exits 0. The server logs JSON lines;
each stream's own request id (metadata ``x-request-id``) is on its lines."""

from __future__ import annotations

import asyncio
import json
import re
import time

import grpc
import numpy as np
import soundfile as sf
from grpc_health.v1 import health_pb2, health_pb2_grpc
from voice_api.v1 import recognizer_pb2, recognizer_pb2_grpc

from voice.testing.audiosocket_peer import Peer
from voice.testing.ops import ServeProcess
from voice.testing.prompts import SOUNDS
from voice.testing.streams import RATE, config_request, silence

GRACE_S = 8.0
PROMPT = SOUNDS / "en" / "queue-callswaiting.wav"  # "Waiting to speak with a representative"


def prompt() -> np.ndarray:
    return sf.read(PROMPT, dtype="int16")[0]


async def stream(stub, pcm: np.ndarray, events: list, started: asyncio.Event, request_id: str = ""):
    """A real-time stream of ``pcm``; returns (finals, status code, details)."""
    async def requests():
        yield config_request("en")
        step = RATE // 10
        for i in range(0, pcm.size, step):
            yield recognizer_pb2.StreamingRecognizeRequest(audio_content=pcm[i:i + step].tobytes())
            await asyncio.sleep(0.1)

    call = stub.StreamingRecognize(requests(), metadata=(("x-request-id", request_id),) if request_id else None)
    finals = []
    try:
        async for response in call:
            if response.speech_event_type:
                started.set()
            finals += [r.alternatives[0].transcript for r in response.results if r.is_final]
            events.append(time.monotonic())
        return finals, grpc.StatusCode.OK, ""
    except grpc.aio.AioRpcError as exc:
        return finals, exc.code(), exc.details()


def test_sigterm_drains_then_closes_what_is_left(tmp_path):
    server = ServeProcess(["--audiosocket", "127.0.0.1:0", "--log-format", "json"],
                          config={"server": {"grace_period_s": GRACE_S}}, config_dir=tmp_path).start()
    try:
        asyncio.run(_drain(server))
        assert server.wait(GRACE_S + 20) == 0
    finally:
        server.close()
    entries = [json.loads(line) for line in server.lines]  # every line is one JSON object
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    mine = {e["request_id"]: e["message"] for e in entries if e.get("request_id") in ("drain-short", "drain-long")}
    assert mine["drain-short"].startswith("/voice.v1.Recognizer/StreamingRecognize OK")
    assert mine["drain-long"].startswith("/voice.v1.Recognizer/StreamingRecognize UNAVAILABLE")
    log = "\n".join(e["message"] for e in entries)
    # two streams and a phone call (its reply holds a synthesis slot too)
    assert int(re.search(r"Draining: (\d+) call\(s\) in progress", log).group(1)) >= 3
    assert "Drain: 1 call(s) still running after 8.0 s were closed (UNAVAILABLE)" in log
    assert "server stopping" in log  # the AudioSocket call's end


async def _drain(server: ServeProcess) -> None:
    async with grpc.aio.insecure_channel(server.address) as channel:
        stub = recognizer_pb2_grpc.RecognizerStub(channel)
        short_started, long_started = asyncio.Event(), asyncio.Event()
        short_events: list = []
        long_events: list = []
        # ends ~4 s after SIGTERM (within the grace period); the long one runs 30 s
        short = asyncio.create_task(stream(stub, np.concatenate([silence(0.5), prompt(), silence(1.5)]),
                                           short_events, short_started, "drain-short"))
        long_pcm = np.concatenate([np.concatenate([silence(0.5), prompt(), silence(1.0)])] * 8)
        long = asyncio.create_task(stream(stub, long_pcm, long_events, long_started, "drain-long"))
        peer = Peer(server.ports["audiosocket"])
        await peer.start_call()
        await peer.voiced_after(0.0, timeout=30)  # the greeting: the call is admitted
        await asyncio.wait_for(short_started.wait(), 30)
        await asyncio.wait_for(long_started.wait(), 30)
        await asyncio.sleep(1.0)  # the long stream's first utterance ends now: its final comes before the drain

        term = time.monotonic()
        server.terminate()
        await asyncio.to_thread(server.wait_for, r"Draining:", 10)
        # new calls are refused at once: health on the open channel, a new stream on a new one
        try:
            status = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert status.status == health_pb2.HealthCheckResponse.NOT_SERVING
        except grpc.aio.AioRpcError as exc:
            # grpc-core's own answer to a call on a connection opened before its shutdown began:
            # UNAVAILABLE (GOAWAY / refused stream) or CANCELLED (taken, then cancelled by the
            # shutdown), depending on which side of the GOAWAY the call lands; both refuse it
            assert exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
        async with grpc.aio.insecure_channel(server.address) as fresh:
            refused = await stream(recognizer_pb2_grpc.RecognizerStub(fresh), silence(0.5), [], asyncio.Event())
        assert refused[1] == grpc.StatusCode.UNAVAILABLE

        finals, code, _ = await short
        assert code == grpc.StatusCode.OK, "a stream that ends within the grace period completes"
        assert finals and "representative" in finals[-1].lower()

        finals, code, details = await long
        closed = time.monotonic() - term
        assert code == grpc.StatusCode.UNAVAILABLE and "shutting down" in details
        assert closed > GRACE_S - 0.5  # not before the end of the grace period
        assert finals and "representative" in finals[0].lower()  # what it had was sent first

        await asyncio.wait_for(peer.closed.wait(), 10)
        assert 0x00 in peer.kinds()  # the AudioSocket call got a hang-up frame
        await peer.close()
