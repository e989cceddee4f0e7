"""``GET /v1/realtime`` driven by the official ``openai`` package, unchanged: the GA client
(``client.realtime.connect``) and the beta one (``client.beta.realtime.connect``, header
``OpenAI-Beta: realtime=v1``), against the real models and the Debian prompts.

Transcription sessions of both shapes (server VAD with interims, and manual commit / clear);
a conversation with a reply, a barge-in decided on the server and the client's truncate; a
beta-shaped conversation in G.711 with its reply checked by recognising it; errors that name
the param and leave the session open; a client that vanishes frees its call."""

from __future__ import annotations

import asyncio
import base64
import time

import aiohttp
import numpy as np
import soundfile as sf
import soxr
from openai import AsyncOpenAI

import kernels
from voice.api.http import HttpServer
from voice.service import VoiceService
from voice.service import types as t
from voice.testing.prompts import load_prompts, wer

EN = load_prompts("en")
ES = load_prompts("es")
QUESTION = EN["queue-callswaiting"]  # "Waiting to speak with a representative"
BARGE = EN["vm-reachoper"]  # "press 0 to reach an operator"
LONG = EN["vm-instructions"]  # 7 s, two sentences
SHORT = EN["agent-pass"]
SPANISH = ES["queue-callswaiting"]  # "Esperando por un representante."
REPLY = ("Thank you for waiting. A representative will be with you shortly. In the meantime you can check "
         "your balance on our website, order a new card, or change your address. Please stay on the line.")
CARD = "Your card is blocked. A new one is on its way."
CHUNK_S = 0.1


def pcm24(path) -> bytes:
    data, rate = sf.read(path, dtype="float32")
    return (np.clip(soxr.resample(data, rate, 24000), -1, 1) * 32767).astype(np.int16).tobytes()


def mulaw8(path) -> bytes:
    data, rate = sf.read(path, dtype="int16")
    assert rate == 8000
    return kernels.mulaw_encode(data).tobytes()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class Session:
    """A connection's events as they arrive (kept with their arrival time), and a microphone:
    audio sent in 100 ms messages at real-time pace, silence when there is nothing to say."""

    def __init__(self, conn, bytes_per_s: int = 48000, silence: bytes = b"\x00\x00"):
        self.conn = conn
        self.events: list[tuple[float, object]] = []
        self.began = time.monotonic()
        self._chunk = int(bytes_per_s * CHUNK_S) // len(silence) * len(silence)
        self._silence = silence * (self._chunk // len(silence))
        self._speech: asyncio.Queue[bytes] = asyncio.Queue()
        self._said = asyncio.Event()
        self.said: list[tuple[float, float]] = []
        self._reader = asyncio.create_task(self._read())
        self._mic: asyncio.Task | None = None

    async def _read(self) -> None:
        async for event in self.conn:
            self.events.append((time.monotonic() - self.began, event))

    def mic_on(self) -> None:
        self._mic = asyncio.create_task(self._talk())

    async def _talk(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        pending = b""
        while True:
            if not pending and not self._speech.empty():
                pending = self._speech.get_nowait()
                self.said.append((time.monotonic() - self.began, 0.0))
            if pending:
                chunk, pending = pending[:self._chunk], pending[self._chunk:]
                if not pending:
                    self.said[-1] = (self.said[-1][0], time.monotonic() - self.began + CHUNK_S)
                    self._said.set()
            else:
                chunk = self._silence
            await self.conn.input_audio_buffer.append(audio=b64(chunk))
            next_at += CHUNK_S
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    async def say(self, audio: bytes) -> None:
        self._said.clear()
        await self._speech.put(audio)
        await asyncio.wait_for(self._said.wait(), 30)

    async def send_all(self, audio: bytes) -> None:
        """Send at once (faster than real time)."""
        for i in range(0, len(audio), self._chunk):
            await self.conn.input_audio_buffer.append(audio=b64(audio[i:i + self._chunk]))

    def of(self, kind: str, since: float = -1.0) -> list:
        return [e for at, e in self.events if e.type == kind and at >= since]

    def at(self, event) -> float:
        return next(at for at, e in self.events if e is event)

    async def wait(self, kind: str, count: int = 1, timeout_s: float = 30.0, since: float = -1.0, where=None):
        began = time.monotonic()
        while True:
            found = [e for e in self.of(kind, since) if where is None or where(e)]
            if len(found) >= count:
                return found[count - 1]
            errors = [e.error.message for e in self.of("error", since)]
            seen = [getattr(e, "transcript", "") for e in self.of(kind, since)]
            assert time.monotonic() - began < timeout_s, f"no {kind} after {timeout_s} s (errors: {errors}; seen: {seen})"
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        if self._mic is not None:
            self._mic.cancel()
            await asyncio.gather(self._mic, return_exceptions=True)
        await self.conn.close()
        await asyncio.gather(self._reader, return_exceptions=True)


async def served(engine):
    service = VoiceService(engine)
    server = HttpServer(service, "127.0.0.1", 0)
    port = await server.start()
    client = AsyncOpenAI(api_key="sk-local", base_url=f"http://127.0.0.1:{port}/v1",
                         websocket_base_url=f"ws://127.0.0.1:{port}/v1", max_retries=0)
    return service, server, client, port


async def freed(service: VoiceService, engine, timeout_s: float = 10.0) -> None:
    began = time.monotonic()
    while (service.admission.active("conversation") or service.admission.active("recognition")
           or service.admission.active("synthesis") or engine.scheduler.waiting):
        assert time.monotonic() - began < timeout_s, "the session's calls were not freed"
        await asyncio.sleep(0.02)


def run(engine, body):
    async def main():
        service, server, client, port = await served(engine)
        try:
            return await body(service, client, port)
        finally:
            await server.stop()
            await service.close()
    return asyncio.run(main())


def words(text: str) -> list[str]:
    return [w.strip(".,!?;:").lower() for w in text.split()]


# -- transcription --------------------------------------------------------------------------

def test_transcription_session_ga_server_vad_interims(engine):
    async def body(service, client, port):
        async with client.realtime.connect(extra_query={"intent": "transcription"}) as conn:
            s = Session(conn)
            created = await s.wait("session.created")
            await conn.session.update(session={"type": "transcription", "audio": {"input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 900, "prefix_padding_ms": 300}}}})
            updated = await s.wait("session.updated")
            s.mic_on()
            await s.say(pcm24(LONG.path))
            await s.say(pcm24(SHORT.path))
            await s.wait("conversation.item.input_audio_transcription.completed", where=lambda e: "pound" in
                         e.transcript.lower() and "password" in e.transcript.lower(), timeout_s=90)
            await s.close()
        await freed(service, engine)
        return s, created, updated

    s, created, updated = run(engine, body)
    assert created.session.type == "transcription" and updated.session.type == "transcription"
    assert updated.session.audio.input.transcription.language == "en"
    assert updated.session.audio.input.turn_detection.silence_duration_ms == 900
    completed = s.of("conversation.item.input_audio_transcription.completed")
    heard = " ".join(e.transcript for e in completed)
    assert wer([LONG.text.replace("  ", " ") + " " + SHORT.text], [heard]) <= 0.2, heard
    assert all(e.languages[0].code == "en" and e.language == "en" for e in completed)
    # every turn: speech_started -> speech_stopped -> committed -> item added -> completed, one item id
    for e in completed:
        kinds = [x.type for _, x in s.events if getattr(x, "item_id", None) == e.item_id
                 or getattr(getattr(x, "item", None), "id", None) == e.item_id]
        assert kinds[0] == "input_audio_buffer.speech_started" and kinds[-1].endswith(".completed"), kinds
        assert kinds.index("input_audio_buffer.speech_stopped") < kinds.index("input_audio_buffer.committed") \
            < kinds.index("conversation.item.added"), kinds
    # interims while the long prompt was spoken: the stable words as deltas, the whole hypothesis beside
    deltas = s.of("conversation.item.input_audio_transcription.delta")
    assert deltas and any(d.interim for d in deltas)
    for e in completed:
        stable = "".join(d.delta or "" for d in deltas if d.item_id == e.item_id)
        assert words(e.transcript)[:len(words(stable))] == words(stable), (stable, e.transcript)
    first_interim = s.at(next(d for d in deltas if d.interim))
    assert first_interim < s.at(completed[0])
    print(f"\nrealtime transcription: {len(deltas)} deltas, first interim at {first_interim:.2f} s; "
          f"finals: {[e.transcript for e in completed]}")


def test_transcription_session_beta_manual_commit_and_clear(engine):
    async def body(service, client, port):
        async with client.beta.realtime.connect(model="gpt-4o-transcribe",
                                                extra_query={"intent": "transcription"}) as conn:
            s = Session(conn, 8000, b"\xff")
            await s.wait("session.created")
            await conn.send({"type": "transcription_session.update", "session": {
                "input_audio_format": "g711_ulaw", "turn_detection": None,
                "input_audio_transcription": {"model": "whisper-1", "language": "es"}}})
            updated = await s.wait("transcription_session.updated")
            silence = b"\xff" * 4000
            # said, then cleared: never transcribed
            await s.send_all(silence + mulaw8(EN["vm-reachoper"].path))
            await conn.input_audio_buffer.clear()
            await s.wait("input_audio_buffer.cleared")
            await s.send_all(silence + mulaw8(SPANISH.path) + silence)
            await conn.input_audio_buffer.commit()
            done = await s.wait("conversation.item.input_audio_transcription.completed", timeout_s=90)
            await conn.input_audio_buffer.commit()  # nothing new: an error, and the session goes on
            error = await s.wait("error")
            await s.close()
        await freed(service, engine)
        return s, updated, done, error

    s, updated, done, error = run(engine, body)
    assert updated.session.input_audio_format == "g711_ulaw" and updated.session.turn_detection is None
    assert updated.session.input_audio_transcription.language == "es"
    assert wer([SPANISH.text], [done.transcript]) <= 0.34, done.transcript
    assert done.language == "es"
    assert len(s.of("conversation.item.input_audio_transcription.completed")) == 1  # the cleared turn is gone
    # beta names; no VAD events without turn detection
    assert s.of("input_audio_buffer.committed") and s.of("conversation.item.created")
    assert not s.of("conversation.item.added") and not s.of("input_audio_buffer.speech_started")
    assert error.error.code == "input_audio_buffer_commit_empty"


# -- conversation -----------------------------------------------------------------------------

def test_conversation_reply_barge_in_and_truncate(engine):
    async def body(service, client, port):
        async with client.realtime.connect(model="gpt-realtime") as conn:
            s = Session(conn)
            await s.wait("session.created")
            await conn.session.update(session={"type": "realtime", "output_modalities": ["audio"], "audio": {
                "input": {"format": {"type": "audio/pcm", "rate": 24000}, "transcription": {"language": "en"},
                          "turn_detection": {"type": "server_vad", "silence_duration_ms": 500,
                                             "interrupt_response": True}},
                "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"}}})
            await s.wait("session.updated")
            s.mic_on()
            await s.say(pcm24(QUESTION.path))
            question = await s.wait("conversation.item.input_audio_transcription.completed")
            await conn.response.create(response={"instructions": REPLY})
            first = await s.wait("response.output_audio.delta")
            await asyncio.sleep(1.5)  # the caller listens to the reply for a while (the mic sends silence)
            barge_from = time.monotonic() - s.began
            await s.say(pcm24(BARGE.path))
            done = await s.wait("response.done", timeout_s=20)
            barge = await s.wait("conversation.item.input_audio_transcription.completed", since=barge_from)
            played_ms = min(done.response.status_details.audio_end_ms, 1500)
            await conn.conversation.item.truncate(item_id=first.item_id, content_index=0, audio_end_ms=played_ms)
            truncated = await s.wait("conversation.item.truncated")
            await conn.send({"type": "conversation.item.retrieve", "item_id": first.item_id})
            retrieved = await s.wait("conversation.item.retrieved")
            await s.close()
        await freed(service, engine)
        return s, question, first, barge_from, done, barge, truncated, retrieved, played_ms

    s, question, first, barge_from, done, barge, truncated, retrieved, played_ms = run(engine, body)
    assert wer([QUESTION.text], [question.transcript]) <= 0.25, question.transcript
    # the reply streamed: transcript deltas, then audio; the caller spoke over it: server barge-in
    assert s.of("response.output_audio_transcript.delta")[0].delta.startswith("Thank you for waiting")
    started = s.of("input_audio_buffer.speech_started", barge_from)
    assert started and s.at(started[0]) < s.at(done)
    response = done.response
    assert response.status == "cancelled" and response.status_details.reason == "turn_detected"
    details = response.status_details
    audio_ms = sum(len(base64.b64decode(e.delta)) for e in s.of("response.output_audio.delta")) / 48
    assert 1500 <= details.audio_end_ms <= audio_ms, (details.audio_end_ms, audio_ms)
    heard = words(details.transcript)
    assert heard and heard == words(REPLY)[:len(heard)] and len(heard) < len(words(REPLY)), details.transcript
    assert response.output[0].content[0].transcript == details.transcript
    # no audio after the barge-in; the caller's words are all there (recognised from the onset)
    assert not [e for e in s.of("response.output_audio.delta") if s.at(e) > s.at(done)]
    assert wer([BARGE.text], [barge.transcript]) <= 0.34, barge.transcript
    # the client's truncate: the item keeps only the words played up to audio_end_ms
    assert truncated.item_id == first.item_id and truncated.audio_end_ms == played_ms
    cut = words(truncated.transcript)
    assert cut == words(REPLY)[:len(cut)] and len(cut) <= len(heard)
    assert retrieved.item.content[0].transcript == truncated.transcript
    print(f"\nrealtime barge-in: reply audio {audio_ms:.0f} ms sent, stopped at {details.audio_end_ms} ms after "
          f"{details.transcript!r}; truncated at {played_ms} ms to {truncated.transcript!r}; "
          f"barge-in final {barge.transcript!r}")


def test_conversation_beta_shape_g711_and_cancel(engine):
    async def body(service, client, port):
        async with client.beta.realtime.connect(model="gpt-4o-realtime-preview") as conn:
            s = Session(conn, 8000, b"\xff")
            created = await s.wait("session.created")
            await conn.session.update(session={
                "modalities": ["text", "audio"], "voice": "alloy", "input_audio_format": "g711_ulaw",
                "output_audio_format": "g711_alaw",
                "input_audio_transcription": {"model": "whisper-1", "language": "en"},
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 400, "interrupt_response": True}})
            updated = await s.wait("session.updated")
            s.mic_on()
            await conn.conversation.item.create(item={"type": "message", "role": "assistant",
                                                      "content": [{"type": "text", "text": CARD}]})
            await s.wait("conversation.item.created")
            await conn.response.create()  # speaks the assistant message the client added
            done = await s.wait("response.done", timeout_s=30)
            await conn.conversation.item.truncate(item_id=done.response.output[0].id, content_index=0,
                                                  audio_end_ms=1000)
            truncated = await s.wait("conversation.item.truncated")
            await conn.response.create(response={"instructions": REPLY})
            await s.wait("response.audio.delta", count=1, since=s.at(done) + 1e-6)
            await conn.response.cancel()
            cancelled = await s.wait("response.done", count=2, timeout_s=15)
            await s.close()
        await freed(service, engine)
        return s, created, updated, done, truncated, cancelled

    s, created, updated, done, truncated, cancelled = run(engine, body)
    assert created.session.input_audio_format == "pcm16"  # beta shape from the start (the header)
    assert updated.session.input_audio_format == "g711_ulaw" and updated.session.output_audio_format == "g711_alaw"
    assert updated.session.turn_detection.silence_duration_ms == 400
    assert done.response.status == "completed"
    assert not s.of("response.output_audio.delta") and not s.of("conversation.item.added")
    assert done.response.output[0].content[0].type == "audio"
    first_id = done.response.output[0].id
    spoken = "".join(e.delta for e in s.of("response.audio_transcript.delta") if e.item_id == first_id)
    assert spoken.split() == CARD.split()
    audio = b"".join(base64.b64decode(e.delta) for e in s.of("response.audio.delta") if e.item_id == first_id)
    assert truncated.transcript and words(CARD)[:len(words(truncated.transcript))] == words(truncated.transcript)
    assert len(words(truncated.transcript)) < len(words(CARD))
    assert cancelled.response.status == "cancelled"
    assert cancelled.response.status_details.reason == "client_cancelled"
    return_audio = asyncio.run(_recognise(engine, audio))
    assert wer([CARD], [return_audio]) <= 0.34, return_audio  # 8 kHz A-law through Whisper base
    print(f"\nrealtime beta: {len(audio) / 8000:.2f} s of A-law reply, heard back as {return_audio!r}; "
          f"truncated at 1000 ms to {truncated.transcript!r}")


async def _recognise(engine, alaw: bytes) -> str:
    service = VoiceService(engine)
    result = await service.recognition.recognize(t.FileRecognitionRequest(alaw, t.RecognitionConfig(
        encoding="ALAW", sample_rate_hertz=8000, language_code="en")))
    return " ".join(r.transcript for r in result.results).strip()


# -- errors -------------------------------------------------------------------------------------

GA_ERRORS = [  # (event, param)
    ({"type": "session.update",
      "session": {"type": "realtime", "audio": {"input": {"format": {"type": "audio/opus"}}}}},
     "session.audio.input.format.type"),
    ({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
        "turn_detection": {"type": "server_vad", "silence_duration_ms": 20}}}}},
     "session.audio.input.turn_detection.silence_duration_ms"),
    ({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
        "transcription": {"language": "xx-nowhere"}}}}}, "session.audio.input.transcription.language"),
    ({"type": "session.update", "session": {"type": "realtime", "audio": {"output": {"voice": "no-such-voice"}}}},
     "session.audio.output.voice"),
    ({"type": "input_audio_buffer.append", "audio": "*not base64*"}, "audio"),
    ({"type": "input_audio_buffer.append", "audio": b64(b"\x01\x02\x03")}, "audio"),
    ({"type": "response.create", "response": {}}, "response.instructions"),
    ({"type": "conversation.item.truncate", "item_id": "item_nope", "content_index": 0, "audio_end_ms": 10},
     "item_id"),
    ({"type": "response.cancel"}, None),
    ({"type": "no.such.event"}, "type"),
]
BETA_ERRORS = [
    ({"type": "session.update", "session": {"input_audio_format": "mp3"}}, "session.input_audio_format"),
    ({"type": "session.update", "session": {"turn_detection": {"type": "server_vad", "prefix_padding_ms": -5}}},
     "session.turn_detection.prefix_padding_ms"),
    ({"type": "session.update", "session": {"voice": "no-such-voice"}}, "session.voice"),
]


def test_errors_name_the_param_and_a_vanished_client_frees_its_call(engine):
    async def body(service, client, port):
        results = {}
        async with client.realtime.connect(model="gpt-realtime") as conn:
            s = Session(conn)
            await s.wait("session.created")
            for i, (event, _) in enumerate(GA_ERRORS):
                await conn.send({**event, "event_id": f"bad_{i}"})
                results[f"bad_{i}"] = await s.wait("error", count=i + 1, timeout_s=10)
            await conn.session.update(session={"type": "realtime"})  # still open and answering
            results["after"] = await s.wait("session.updated")
            await s.close()
        async with client.beta.realtime.connect(model="gpt-4o-realtime-preview") as conn:
            s = Session(conn)
            await s.wait("session.created")
            for i, (event, _) in enumerate(BETA_ERRORS):
                await conn.send({**event, "event_id": f"beta_{i}"})
                results[f"beta_{i}"] = await s.wait("error", count=i + 1, timeout_s=10)
            await s.close()
        # not JSON: an error event, not a closed socket
        async with aiohttp.ClientSession() as http, http.ws_connect(f"ws://127.0.0.1:{port}/v1/realtime") as ws:
            assert (await ws.receive_json(timeout=10))["type"] == "session.created"
            await ws.send_str("{not json")
            results["json"] = await ws.receive_json(timeout=10)
            # a client that starts talking and a reply, then vanishes
            await ws.send_json({"type": "input_audio_buffer.append", "audio": b64(pcm24(QUESTION.path))})
            await ws.send_json({"type": "response.create", "response": {"instructions": REPLY}})
            while (await ws.receive_json(timeout=30))["type"] != "response.output_audio.delta":
                pass
            results["busy"] = service.admission.active("conversation")
        await freed(service, engine)
        return results

    results = run(engine, body)
    for i, (event, param) in enumerate(GA_ERRORS):
        error = results[f"bad_{i}"].error
        assert error.param == param and error.event_id == f"bad_{i}", (event, error)
        assert error.message
    assert results["bad_8"].error.code == "response_cancel_not_active"
    assert results["after"].session.type == "realtime"
    for i, (event, param) in enumerate(BETA_ERRORS):
        assert results[f"beta_{i}"].error.param == param, (event, results[f"beta_{i}"].error)
    assert results["json"]["type"] == "error" and results["json"]["error"]["code"] == "invalid_json"
    assert results["busy"] == 1


def test_the_page_and_its_scripts_are_served(engine):
    async def body(service, client, port):
        async with aiohttp.ClientSession() as http:
            page = await http.get(f"http://127.0.0.1:{port}/")
            script = await http.get(f"http://127.0.0.1:{port}/static/app.js")
            plain = await http.get(f"http://127.0.0.1:{port}/v1/realtime")
            return page.status, await page.text(), script.status, plain.status
    page_status, page, script_status, plain_status = run(engine, body)
    assert page_status == 200 and "/static/app.js" in page and script_status == 200
    assert plain_status == 426  # a WebSocket path
