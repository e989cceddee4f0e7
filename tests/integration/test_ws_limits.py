"""The limits on the WebSocket doors, each set small here through the config (``server.
idle_timeout_s``, ``server.max_stream_seconds``, ``server.max_message_bytes``): the OpenAI
realtime socket driven by the official ``openai`` client, the Twilio Media Streams bridge by
the Twilio peer of the Twilio tests. Each limit ends the session with its protocol's word
(realtime: an ``error`` event, then close 1008; Twilio: close 1008 and a warning naming the
limit; an oversize message: close 1009), and everything the session held is freed (the
service's admission counters, the decode queue, the synthesizer)."""

from __future__ import annotations

import asyncio
import base64
import logging
import time

import aiohttp
from openai import AsyncOpenAI
from websockets.exceptions import ConnectionClosed

from voice.api.http import HttpServer
from voice.service import VoiceService
from voice.testing.prompts import SOUNDS
from voice.testing.twilio_peer import Peer, mulaw

QUESTION = SOUNDS / "en" / "queue-callswaiting.wav"  # "Waiting to speak with a representative"
IDLE_S = 1.5
LONGEST_S = 3.0
SMALL_MESSAGE = 4096  # bytes
CHUNK = 800  # 100 ms of 8 kHz mu-law
SILENCE = b"\xff" * CHUNK
TRANSCRIPTION = {"type": "transcription", "audio": {"input": {
    "format": {"type": "audio/pcmu"}, "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
    "turn_detection": {"type": "server_vad", "silence_duration_ms": 500}}}}


async def serving(engine, **limits):
    service = VoiceService(engine, engine.config.replace("server", **limits))
    server = HttpServer(service, "127.0.0.1", 0)
    port = await server.start()
    return service, server, port


async def freed(service: VoiceService, engine, timeout_s: float = 10.0) -> float:
    """Wait until the session left nothing behind; how long that took."""
    began = time.monotonic()

    def held():
        return {kind: service.admission.active(kind) for kind in ("conversation", "recognition", "synthesis")
                if service.admission.active(kind)} | (
            {"decodes waiting": engine.scheduler.waiting} if engine.scheduler.waiting else {}) | (
            {"synthesizer in use": 1} if engine.synthesizer(engine.catalogue.default).in_use else {})

    while held():
        assert time.monotonic() - began < timeout_s, f"still held: {held()}"
        await asyncio.sleep(0.02)
    return time.monotonic() - began


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# -- the OpenAI realtime socket -------------------------------------------------------------

async def realtime(engine, talk, **limits):
    """One transcription session: ``talk(conn)`` sends, every event is kept until the server
    closes; (events with their arrival time, the close code, seconds from connect to close,
    seconds until freed)."""
    service, server, port = await serving(engine, **limits)
    client = AsyncOpenAI(api_key="sk-local", base_url=f"http://127.0.0.1:{port}/v1",
                         websocket_base_url=f"ws://127.0.0.1:{port}/v1", max_retries=0)
    events, code = [], None
    try:
        async with client.realtime.connect(extra_query={"intent": "transcription"}) as conn:
            began = time.monotonic()
            await conn.session.update(session=TRANSCRIPTION)
            talker = asyncio.create_task(talk(conn))
            try:
                async with asyncio.timeout(30):
                    async for event in conn:
                        events.append((time.monotonic() - began, event))
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else None
            closed_after = time.monotonic() - began
            talker.cancel()
            await asyncio.gather(talker, return_exceptions=True)
        freed_after = await freed(service, engine)
    finally:
        await server.stop()
        await service.close()
    return events, code, closed_after, freed_after


def of(events, kind: str) -> list:
    return [(at, e) for at, e in events if e.type == kind]


def test_realtime_idle_timeout_finishes_the_turn_then_errors_and_closes(engine):
    async def talk(conn):  # the question, sent at once, then nothing: the turn is still open
        speech = mulaw(QUESTION)
        for i in range(0, len(speech), CHUNK):
            await conn.input_audio_buffer.append(audio=b64(speech[i:i + CHUNK]))

    events, code, closed_after, freed_after = asyncio.run(
        realtime(engine, talk, idle_timeout_s=IDLE_S, max_stream_seconds=0))
    (error_at, error), = of(events, "error")
    completed = of(events, "conversation.item.input_audio_transcription.completed")
    assert completed and "representative" in completed[0][1].transcript.lower(), [e.type for _, e in events]
    assert completed[-1][0] <= error_at and events[-1][1] is error  # the final first, the error last
    assert error.error.type == "invalid_request_error" and error.error.code == "session_idle_timeout"
    assert "server.idle_timeout_s" in error.error.message and error.error.param is None
    assert code == 1008 and closed_after >= IDLE_S
    print(f"\nrealtime idle: {error.error.message!r} at {error_at:.2f} s, closed {code} at {closed_after:.2f} s, "
          f"freed {freed_after * 1000:.0f} ms later")


def test_realtime_max_stream_seconds_errors_and_closes(engine):
    async def talk(conn):  # a microphone: 100 ms of silence every 100 ms, never idle
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            await conn.input_audio_buffer.append(audio=b64(SILENCE))
            next_at += 0.1
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    events, code, closed_after, freed_after = asyncio.run(
        realtime(engine, talk, idle_timeout_s=IDLE_S, max_stream_seconds=LONGEST_S))
    (_, error), = of(events, "error")
    assert error.error.code == "session_expired" and error.error.type == "invalid_request_error"
    assert error.error.message == f"Your session hit the maximum duration of {LONGEST_S:g} seconds " \
                                  "(server.max_stream_seconds)."
    assert code == 1008 and LONGEST_S - 0.1 <= closed_after < LONGEST_S + 8
    print(f"\nrealtime longest: {error.error.message!r}, closed {code} at {closed_after:.2f} s, "
          f"freed {freed_after * 1000:.0f} ms later")


def test_realtime_message_over_max_message_bytes_closes_1009(engine):
    async def talk(conn):
        await conn.input_audio_buffer.append(audio=b64(SILENCE))  # small: taken (a call opens)
        await asyncio.sleep(0.3)
        await conn.input_audio_buffer.append(audio=b64(SILENCE * 8))  # 6,400 bytes -> ~8.6 kB of JSON

    events, code, closed_after, _ = asyncio.run(
        realtime(engine, talk, max_message_bytes=SMALL_MESSAGE))
    assert code == 1009 and not of(events, "error")


# -- the Twilio Media Streams bridge ---------------------------------------------------------

async def twilio(engine, stream, caplog, **limits):
    """One call: ``stream(peer)`` plays the far end until the server closes; (close code,
    seconds from start to close, the bridge's warnings)."""
    caplog.set_level(logging.INFO, logger="voice.api.twilio")
    service, server, port = await serving(engine, **limits)
    try:
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(f"ws://127.0.0.1:{port}/twilio/media") as ws:
            peer = Peer(ws, "MZlimits01", "CAlimits01")
            await peer.begin({"language": "en"})
            began = time.monotonic()
            sender = asyncio.create_task(stream(peer))
            code = await peer.wait_closed(30)
            closed_after = time.monotonic() - began
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
        await freed(service, engine)
    finally:
        await server.stop()
        await service.close()
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("voice.api.twilio")
                and r.levelno >= logging.WARNING]
    return peer, code, closed_after, warnings


def test_twilio_idle_timeout_closes_the_call(engine, caplog):
    async def stream(peer):  # 0.5 s of line noise, then the media stops (the socket stays open)
        await peer.silence(0.5)

    peer, code, closed_after, warnings = asyncio.run(
        twilio(engine, stream, caplog, idle_timeout_s=IDLE_S, max_stream_seconds=0))
    assert code == 1008 and closed_after >= 0.5 + IDLE_S - 0.1
    (warning,) = warnings
    assert "CAlimits01" in warning and "no audio for 1.5 s (server.idle_timeout_s)" in warning, warning


def test_twilio_max_stream_seconds_closes_the_call(engine, caplog):
    async def stream(peer):
        while True:
            await peer.silence(0.2)

    peer, code, closed_after, warnings = asyncio.run(
        twilio(engine, stream, caplog, idle_timeout_s=IDLE_S, max_stream_seconds=LONGEST_S))
    assert code == 1008 and LONGEST_S - 0.1 <= closed_after < LONGEST_S + 3
    (warning,) = warnings
    assert "the stream ran longer than 3 s (server.max_stream_seconds)" in warning, warning


def test_twilio_message_over_max_message_bytes_closes_1009(engine, caplog):
    async def stream(peer):
        await peer.silence(0.2)
        await peer.send({"event": "media", "streamSid": peer.stream_sid, "media": {
            "track": "inbound", "payload": b64(SILENCE * 5)}})  # 4,000 bytes -> ~5.4 kB of JSON

    peer, code, closed_after, warnings = asyncio.run(
        twilio(engine, stream, caplog, max_message_bytes=SMALL_MESSAGE))
    assert code == 1009
    (warning,) = warnings
    assert "CAlimits01" in warning and "1009" in warning, warning
