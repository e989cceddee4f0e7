"""The limits on every door, each set small here: a stream's idle timeout and longest
duration (gRPC, AudioSocket and Wyoming; the WebSocket doors in test_ws_limits.py), the largest
gRPC message, whole-file size (gRPC and HTTP), the longest synthesis text."""

from __future__ import annotations

import asyncio
import struct
import threading
import time
import uuid

import aiohttp
import grpc
import numpy as np
import pytest
import soundfile as sf
from voice_api.v1 import audio_pb2, recognizer_pb2, recognizer_pb2_grpc, synthesizer_pb2, synthesizer_pb2_grpc
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart
from wyoming.client import AsyncTcpClient
from wyoming.error import Error

from voice.core.telemetry import NO_TELEMETRY
from voice.testing.ops import DoorsThread
from voice.testing.prompts import SOUNDS
from voice.testing.streams import audio_requests, config_request, silence

PROMPT = SOUNDS / "en" / "queue-callswaiting.wav"
IDLE_S = 2.0
LONGEST_S = 6.0


@pytest.fixture(scope="module")
def doors(config, engine):
    cfg = config.replace("server", host="127.0.0.1", port=0, audiosocket="127.0.0.1:0", wyoming="127.0.0.1:0",
                         idle_timeout_s=IDLE_S, max_stream_seconds=LONGEST_S, max_message_bytes=512 * 1024,
                         max_file_bytes=100_000, max_text_chars=300)
    running = DoorsThread(cfg, engine, http=True)
    yield running
    running.stop()
    engine.set_telemetry(NO_TELEMETRY)


def stub(doors, kind=recognizer_pb2_grpc.RecognizerStub):
    channel = grpc.insecure_channel(f"127.0.0.1:{doors.ports['grpc']}")
    return channel, kind(channel)


def speech() -> np.ndarray:
    return np.concatenate([silence(0.3), sf.read(PROMPT, dtype="int16")[0], silence(1.0)])


def run_stream(doors, requests):
    channel, recognizer = stub(doors)
    results = []
    with channel:
        try:
            for response in recognizer.StreamingRecognize(requests):
                results += [r for r in response.results if r.is_final]
        except grpc.RpcError as exc:
            return results, exc
    return results, None


def test_a_stream_with_no_message_for_the_idle_timeout_is_ended_after_its_finals(doors):
    hold = threading.Event()

    def requests():
        yield config_request("en")
        yield from audio_requests(speech())
        hold.wait(IDLE_S * 3)  # the client goes silent without closing the stream
    started = time.monotonic()
    results, error = run_stream(doors, requests())
    hold.set()
    assert results and "representative" in results[0].alternatives[0].transcript.lower()
    assert error is not None and error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "server.idle_timeout_s" in error.details()
    assert time.monotonic() - started >= IDLE_S


def test_a_stream_longer_than_max_stream_seconds_is_ended_after_its_finals(doors):
    def requests():
        yield config_request("en")
        for _ in range(4):  # ~8 s at real-time pace, more than LONGEST_S
            yield from audio_requests(speech(), pace=1.0)
    results, error = run_stream(doors, requests())
    assert results and "representative" in results[0].alternatives[0].transcript.lower()
    assert error is not None and error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "server.max_stream_seconds" in error.details()


def test_message_file_and_text_limits(doors):
    channel, recognizer = stub(doors)
    with channel:
        config = recognizer_pb2.RecognitionConfig(encoding=audio_pb2.LINEAR16, sample_rate_hertz=8000, language_code="en")
        with pytest.raises(grpc.RpcError) as info:  # bigger than server.max_file_bytes
            recognizer.Recognize(recognizer_pb2.RecognizeRequest(config=config, audio_content=bytes(200_000)))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert info.value.details().startswith("audio_content: at most 100000 bytes (server.max_file_bytes)")
        with pytest.raises(grpc.RpcError) as info:  # bigger than server.max_message_bytes
            recognizer.Recognize(recognizer_pb2.RecognizeRequest(config=config, audio_content=bytes(600_000)))
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        synthesizer = synthesizer_pb2_grpc.SynthesizerStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            synthesizer.SynthesizeOnce(synthesizer_pb2.SynthesizeRequest(text="word " * 62))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert info.value.details() == "text: at most 300 characters, got 310"
        assert synthesizer.SynthesizeOnce(synthesizer_pb2.SynthesizeRequest(text="Hello.")).audio_content


def test_http_files_over_the_file_limit_are_refused(doors):
    async def post():
        form = aiohttp.FormData()
        form.add_field("file", bytes(200_000), filename="a.wav", content_type="audio/wav")
        form.add_field("model", "whisper-1")
        async with aiohttp.ClientSession() as session, session.post(
                f"http://127.0.0.1:{doors.ports['http']}/v1/audio/transcriptions", data=form) as response:
            return response.status, await response.text()
    status, body = asyncio.run(post())
    assert status in (400, 413) and "100000" in body, body


def test_an_audiosocket_call_that_sends_nothing_is_ended(doors, caplog):
    async def call():
        reader, writer = await asyncio.open_connection("127.0.0.1", doors.ports["audiosocket"])
        writer.write(struct.pack(">BH", 0x01, 16) + uuid.uuid4().bytes)
        await writer.drain()
        started = time.monotonic()
        while await reader.read(65536):  # the greeting, then the server closes the line
            pass
        writer.close()
        return time.monotonic() - started
    took = asyncio.run(call())
    assert took >= IDLE_S, [r.getMessage() for r in caplog.records if "audiosocket" in r.name]
    assert any("server.idle_timeout_s" in r.getMessage() for r in caplog.records)


def test_a_wyoming_audio_stream_with_no_chunk_for_the_idle_timeout_is_answered_then_ended(doors):
    async def stream():
        async with AsyncTcpClient("127.0.0.1", doors.ports["wyoming"]) as client:
            pcm = speech().tobytes()
            await client.write_event(Transcribe(language="en").event())
            await client.write_event(AudioStart(rate=8000, width=2, channels=1).event())
            for i in range(0, len(pcm), 2048):  # all of it at once, then no chunk and no audio-stop
                await client.write_event(AudioChunk(rate=8000, width=2, channels=1, audio=pcm[i:i + 2048]).event())
            started = time.monotonic()
            events = []
            while not events or events[-1].type != "error":
                event = await asyncio.wait_for(client.read_event(), 60)
                assert event is not None, [e.type for e in events]
                events.append(event)
            return events, time.monotonic() - started

    events, took = asyncio.run(stream())
    transcript = next(Transcript.from_event(e) for e in events if Transcript.is_type(e.type))
    assert "representative" in transcript.text.lower()
    assert [e.type for e in events][-2:] == ["transcript-stop", "error"]  # answered, then the limit
    error = Error.from_event(events[-1])
    assert error.code == "deadline-exceeded" and "server.idle_timeout_s" in error.text, error
    assert took >= IDLE_S
    service = doors.doors.service
    deadline = time.monotonic() + 5
    while service.admission.active("recognition") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service.admission.active("recognition") == 0
