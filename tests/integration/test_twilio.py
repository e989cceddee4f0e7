"""The Twilio Media Streams bridge over a real WebSocket, with the real models: a protocol-level
peer written from Twilio's published message format (:mod:`voice.testing.twilio_peer`; it
imports nothing of the bridge), real recorded speech sent as 20 ms mu-law media messages at
real-time pace.

The call flow (greeting, question, reply, barge-in -> ``clear``, DTMF, stop), malformed
messages (each ends its own call only, with one log line and a close code), the call limit and
a peer that vanishes, and ``GET /health``."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time

import aiohttp

from voice.api.http import HttpServer
from voice.service import VoiceService
from voice.service import types as t
from voice.testing.prompts import SOUNDS, wer
from voice.testing.twilio_peer import FRAME, SILENCE, Peer, mulaw

QUESTION = SOUNDS / "en" / "queue-callswaiting.wav"  # "Waiting to speak with a representative"
BARGE = SOUNDS / "en" / "vm-reachoper.wav"  # "press 0 to reach an operator"
LOGGER = "voice.api.twilio"


async def served(service: VoiceService):
    server = HttpServer(service, "127.0.0.1", 0)
    port = await server.start()
    return server, f"ws://127.0.0.1:{port}/twilio/media"


async def until(check, timeout_s: float = 5.0) -> float:
    """Poll ``check`` (max ``timeout_s``); how long it took."""
    began = time.monotonic()
    while not check():
        assert time.monotonic() - began < timeout_s, "still not freed"
        await asyncio.sleep(0.02)
    return time.monotonic() - began


def freed(service: VoiceService, engine) -> bool:
    return (service.admission.active("conversation") == 0 and service.admission.active("synthesis") == 0
            and engine.scheduler.waiting == 0 and engine.synthesizer(engine.catalogue.default).in_use == 0)


async def transcribe(service: VoiceService, audio: bytes) -> str:
    result = await service.recognition.recognize(t.FileRecognitionRequest(audio, t.RecognitionConfig(
        encoding="MULAW", sample_rate_hertz=8000, language_code="en")))
    return " ".join(r.transcript for r in result.results).strip()


def twilio_records(caplog, level=logging.WARNING) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(LOGGER) and r.levelno >= level]


def test_call_flow_greeting_question_reply_barge_in_dtmf_stop(engine, caplog):
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    question, barge = mulaw(QUESTION), mulaw(BARGE)

    async def main():
        service = VoiceService(engine)
        server, url = await served(service)
        try:
            async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
                peer = Peer(ws, "MZflow0001", "CAflow0001")
                await peer.begin({"language": "en"})
                await peer.silence_until(lambda: peer.mark_at("reply-1-end") is not None)
                await peer.say(question)
                question_end = peer.now
                await peer.silence_until(lambda: len(peer.of("media", question_end)) >= 60)  # 1.2 s of reply
                await peer.say(barge)
                await peer.silence_until(lambda: peer.of("clear"), timeout_s=5)
                await peer.silence(1.5)
                await peer.dtmf("1")
                await peer.silence(0.3)
                await peer.stop()
                stopped_at = time.monotonic()
                close_code = await peer.wait_closed()
                closed_after = time.monotonic() - stopped_at
            freed_after = await until(lambda: freed(service, engine))
            greeting = await transcribe(service, peer.audio(until=peer.mark_at("reply-1-end")))
            reply = await transcribe(service, peer.audio(question_end, peer.of("clear")[0][0]))
        finally:
            await server.stop()
            await service.close()
        return peer, question_end, close_code, closed_after, freed_after, greeting, reply

    peer, question_end, close_code, closed_after, freed_after, greeting, reply = asyncio.run(main())
    media = peer.of("media")
    assert all(m["streamSid"] == "MZflow0001" for _, m in peer.received)
    assert all(0 < len(base64.b64decode(m["media"]["payload"])) <= FRAME for _, m in media)
    # the greeting, then its mark
    greeting_end = peer.mark_at("reply-1-end")
    assert peer.marks()[0][1] == "reply-1-end" and media[0][0] < greeting_end < question_end
    assert wer([engine.dialogue.greeting["en"]], [greeting]) <= 0.25, greeting
    # the reply to talk_to_agent, after the question
    responses = engine.dialogue.intents["talk_to_agent"].responses["en"]
    words = reply.split()
    assert words and min(wer([" ".join(r.split()[:len(words)])], [reply]) for r in responses) <= 0.34, reply
    # barge-in: clear while the caller speaks, then no reply audio until the caller has finished
    barge_start, barge_end = peer.said[1]
    (clear_at, clear), = peer.of("clear")
    assert clear["streamSid"] == "MZflow0001" and barge_start < clear_at < barge_end
    reply_end = peer.mark_at("reply-2-end")
    assert reply_end is not None and reply_end >= clear_at
    after = [at for at, _ in peer.of("media", clear_at)]
    assert not after or after[0] > barge_end
    last_before = max(at for at, _ in media if at <= clear_at)
    assert close_code == 1000
    assert not twilio_records(caplog)
    print(f"\ntwilio flow: greeting {greeting!r} ended at {greeting_end:.2f} s; reply {reply!r} from "
          f"{peer.of('media', question_end)[0][0] - question_end:.2f} s after the question; clear "
          f"{clear_at - barge_start:.2f} s after the caller's barge-in onset (last reply media "
          f"{clear_at - last_before:.2f} s before it; next media {after[0] - clear_at if after else float('nan'):.2f} s "
          f"after); closed {closed_after:.2f} s after stop; freed {freed_after:.2f} s after the close")


BAD_CALLS = {  # name: (messages after "connected" (str: sent as is), close codes)
    "not json": ([{"event": "start", "start": {"streamSid": "MZbadjson", "callSid": "CAbadjson"},
                   "streamSid": "MZbadjson"}, "this is not JSON {"], {1007}),
    "unknown event": ([{"event": "start", "start": {"streamSid": "MZbadevent", "callSid": "CAbadevent"},
                        "streamSid": "MZbadevent"}, {"event": "hangup", "streamSid": "MZbadevent"}], {1008}),
    "media before start": ([{"event": "media", "streamSid": "MZearly",
                             "media": {"track": "inbound", "payload": base64.b64encode(SILENCE).decode()}}], {1008}),
    "bad base64": ([{"event": "start", "start": {"streamSid": "MZbadb64", "callSid": "CAbadb64"},
                     "streamSid": "MZbadb64"},
                    {"event": "media", "streamSid": "MZbadb64", "media": {"track": "inbound", "payload": "*not base64*"}}],
                   {1007}),
    "empty payload": ([{"event": "start", "start": {"streamSid": "MZempty", "callSid": "CAempty"},
                        "streamSid": "MZempty"},
                       {"event": "media", "streamSid": "MZempty", "media": {"track": "inbound", "payload": ""}}], {1007}),
}
BAD_NAMES = {"not json": "CAbadjson", "unknown event": "CAbadevent", "media before start": "MZearly",
             "bad base64": "CAbadb64", "empty payload": "CAempty"}


def test_malformed_messages_end_only_their_own_call(engine, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)

    async def bad(session, url, messages):
        async with session.ws_connect(url) as ws:
            await ws.send_str(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
            for message in messages:
                await ws.send_str(message if isinstance(message, str) else json.dumps(message))
            began = time.monotonic()
            async for _ in ws:
                pass
            return ws.close_code, time.monotonic() - began

    async def good(session, url):
        async with session.ws_connect(url) as ws:
            peer = Peer(ws, "MZgood", "CAgood")
            await peer.begin({"language": "en"})
            await peer.silence_until(lambda: peer.mark_at("reply-1-end") is not None)
            await peer.stop()
            return peer, await peer.wait_closed()

    async def main():
        service = VoiceService(engine)
        server, url = await served(service)
        try:
            async with aiohttp.ClientSession() as session:
                calls = asyncio.create_task(good(session, url))
                await asyncio.sleep(0.5)  # the good call is under way
                closes = await asyncio.gather(*(bad(session, url, m) for m, _ in BAD_CALLS.values()))
                peer, good_close = await calls
            await until(lambda: freed(service, engine))
        finally:
            await server.stop()
            await service.close()
        return dict(zip(BAD_CALLS, closes, strict=True)), peer, good_close

    closes, peer, good_close = asyncio.run(main())
    for name, (code, took) in closes.items():
        assert code in BAD_CALLS[name][1], (name, code)
        assert took < 5, (name, took)
    assert good_close == 1000 and peer.of("media") and peer.mark_at("reply-1-end") is not None
    records = twilio_records(caplog)
    for name, sid in BAD_NAMES.items():
        assert len([r for r in records if sid in r.getMessage()]) == 1, (name, [r.getMessage() for r in records])
    assert len(records) == len(BAD_CALLS)
    assert not any("good" in r.getMessage() for r in twilio_records(caplog, logging.INFO))
    assert not any(r.exc_info for r in caplog.records) and "Traceback" not in caplog.text
    print("\ntwilio malformed:", "; ".join(f"{n}: {c} after {s * 1000:.0f} ms" for n, (c, s) in closes.items()))
    for r in records:
        print("  log:", r.getMessage())


def test_call_limit_and_a_peer_that_vanishes(engine, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)

    async def main():
        service = VoiceService(engine, engine.config.replace("server", max_sessions=1))
        server, url = await served(service)
        try:
            first_session = aiohttp.ClientSession()
            ws = await first_session.ws_connect(url)
            first = Peer(ws, "MZfirst", "CAfirst")
            await first.begin({"language": "en"})
            await first.silence_until(lambda: len(first.of("media")) >= 10)  # the greeting plays
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(url) as ws2:  # over the limit: refused, the first goes on
                    second = Peer(ws2, "MZsecond", "CAsecond")
                    await second.begin()
                    refused = await second.wait_closed(5)
                await first.silence(0.2)
                await first_session.close()  # the line drops: no stop, no close frame
                dropped_at = time.monotonic()
                freed_after = await until(lambda: freed(service, engine), 3)
                async with session.ws_connect(url) as ws3:  # the slot is free again
                    third = Peer(ws3, "MZthird", "CAthird")
                    await third.begin({"language": "en"})
                    await third.silence_until(lambda: third.of("media"), 10)
                    await third.stop()
                    third_close = await third.wait_closed()
            await until(lambda: freed(service, engine))
        finally:
            await server.stop()
            await service.close()
        return refused, freed_after, third_close, time.monotonic() - dropped_at

    refused, freed_after, third_close, _ = asyncio.run(main())
    assert refused == 1013 and third_close == 1000
    (record,) = twilio_records(caplog)
    assert "CAsecond" in record.getMessage() and "ResourceExhausted" in record.getMessage()
    assert any("CAfirst" in r.getMessage() for r in twilio_records(caplog, logging.INFO))
    print(f"\ntwilio limit: refused with {refused} ({record.getMessage()}); "
          f"a vanished call freed in {freed_after * 1000:.0f} ms")


def test_health(engine):
    async def main():
        answers = []
        for drain in (False, True):
            service = VoiceService(engine)
            if drain:
                service.drain()
            server = HttpServer(service, "127.0.0.1", 0)
            port = await server.start()
            try:
                async with aiohttp.ClientSession() as session:
                    async with session.get(f"http://127.0.0.1:{port}/health") as resp:
                        answers.append((resp.status, await resp.json()))
                    async with session.get(f"http://127.0.0.1:{port}/twilio/media") as resp:
                        answers.append((resp.status, None))  # not a WebSocket upgrade
            finally:
                await server.stop()
                await service.close()
        return answers

    assert asyncio.run(main()) == [(200, {"status": "SERVING"}), (426, None), (503, {"status": "NOT_SERVING"}),
                                   (426, None)]
