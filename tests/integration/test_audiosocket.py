"""The Asterisk AudioSocket door with the real models, driven by a protocol-level peer written
here from the protocol description (3-byte header: kind, big-endian uint16 length; 0x00 hang-up,
0x01 UUID, 0x03 DTMF, 0x10 8 kHz slin audio, 0xff error) over TCP on 127.0.0.1. The peer is a
phone line: it sends 20 ms frames at real-time pace all the time (recorded prompts, else
silence) and records every frame it receives with its arrival time."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import struct
import uuid

import numpy as np
import soundfile as sf

from voice.api.audiosocket import AudioSocketServer
from voice.service import VoiceService
from voice.service import types as t
from voice.testing.prompts import SOUNDS

QUESTION = SOUNDS / "en" / "queue-callswaiting.wav"  # "Waiting to speak with a representative"
BARGE = SOUNDS / "en" / "vm-reachoper.wav"  # "press 0 to reach an operator"
HEADER = struct.Struct(">BH")
FRAME_BYTES = 320  # 20 ms of 8 kHz 16-bit mono
FRAME_S = 0.02
SILENT_RMS = 100.0  # int16 RMS below this is silence (about -50 dBFS)
LOGGER = "voice.api.audiosocket"


def pcm(path) -> bytes:
    data, rate = sf.read(path, dtype="int16")
    assert rate == 8000 and data.ndim == 1
    return data.astype("<i2").tobytes()


def frame(kind: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


def rms(payload: bytes) -> float:
    samples = np.frombuffer(payload, "<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples ** 2))) if samples.size else 0.0


class Peer:
    """Asterisk's side of one AudioSocket connection."""

    def __init__(self, port: int):
        self.port = port
        self.call_id = uuid.uuid4()
        self.received: list[tuple[float, int, bytes]] = []  # (loop time, kind, payload)
        self.closed = asyncio.Event()
        self.truncated = b""  # bytes of a frame cut off when the server closed
        self._speech = bytearray()
        self._spoken = asyncio.Event()
        self._sender: asyncio.Task | None = None
        self._receiver: asyncio.Task | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self._receiver = asyncio.create_task(self._receive())

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def start_call(self) -> None:
        """UUID, then the line: 20 ms frames at real-time pace, speech when given, else silence."""
        await self.connect()
        self.send(frame(0x01, self.call_id.bytes))
        self._sender = asyncio.create_task(self._line())

    async def _line(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        with contextlib.suppress(ConnectionError):
            while not self.closed.is_set():
                piece = bytes(self._speech[:FRAME_BYTES])
                del self._speech[:FRAME_BYTES]
                if piece and not self._speech:
                    self._spoken.set()
                self.send(frame(0x10, piece + bytes(FRAME_BYTES - len(piece))))
                await self.writer.drain()
                due += FRAME_S
                await asyncio.sleep(max(0.0, due - loop.time()))

    async def say(self, audio: bytes) -> tuple[float, float]:
        """Speak ``audio`` on the line; returns (start, end) loop times."""
        loop = asyncio.get_running_loop()
        self._spoken = asyncio.Event()
        start = loop.time()
        self._speech += audio
        await self._spoken.wait()
        return start, loop.time()

    async def _receive(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                header = await self.reader.readexactly(HEADER.size)
                kind, length = HEADER.unpack(header)
                payload = await self.reader.readexactly(length)
                self.received.append((loop.time(), kind, payload))
        except asyncio.IncompleteReadError as exc:
            self.truncated = exc.partial
        except ConnectionError:
            pass
        finally:
            self.closed.set()

    async def hang_up(self) -> None:
        self.send(frame(0x00))
        await self.writer.drain()

    async def close(self) -> None:
        for task in (self._sender, self._receiver):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()

    # -- what arrived ---------------------------------------------------------------------
    def audio(self, after: float = 0.0) -> list[tuple[float, bytes]]:
        return [(at, p) for at, kind, p in self.received if kind == 0x10 and at > after]

    def voiced(self, after: float = 0.0) -> list[float]:
        """Arrival times of the non-silent audio frames."""
        return [at for at, p in self.audio(after) if rms(p) > SILENT_RMS]

    def kinds(self) -> list[int]:
        return [kind for _, kind, _ in self.received]

    async def quiet(self, seconds: float, timeout: float = 30.0) -> float:
        """Wait until audio has arrived and then none for ``seconds``; returns the last arrival."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frames = self.audio()
            if frames and loop.time() - frames[-1][0] >= seconds:
                return frames[-1][0]
            assert loop.time() < deadline, "no reply audio (or it never stopped)"
            await asyncio.sleep(0.02)

    async def voiced_after(self, after: float, timeout: float = 30.0) -> float:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (times := self.voiced(after)):
            assert loop.time() < deadline, "no reply audio arrived"
            await asyncio.sleep(0.01)
        return times[0]


async def poll_freed(service: VoiceService, engine, server: AudioSocketServer) -> None:
    def freed():
        return (service.admission.active("conversation") == 0 and service.admission.active("synthesis") == 0
                and engine.scheduler.waiting == 0 and engine.synthesizer(engine.catalogue.default).in_use == 0
                and server.active_calls == 0)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5.0
    while not freed() and loop.time() < deadline:
        await asyncio.sleep(0.05)
    assert service.admission.active("conversation") == 0
    assert service.admission.active("synthesis") == 0
    assert engine.scheduler.waiting == 0
    assert engine.synthesizer(engine.catalogue.default).in_use == 0
    assert server.active_calls == 0


def spy_events(service: VoiceService) -> list[tuple[float, object]]:
    """Record every conversation event the door gets from the service (with the loop time)."""
    events: list[tuple[float, object]] = []
    open_call = service.conversation.open

    def opened():
        call = open_call()
        run = call.run

        async def recorded(config, inputs):
            events.append((asyncio.get_running_loop().time(), config))
            async for event in run(config, inputs):
                events.append((asyncio.get_running_loop().time(), event))
                yield event

        call.run = recorded
        return call

    service.conversation.open = opened
    return events


def bridge_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(LOGGER)]


def assert_no_traceback(caplog) -> None:
    for record in caplog.records:
        assert record.exc_info is None and "Traceback" not in record.getMessage(), record.getMessage()


def test_call_greeting_question_reply_barge_in_dtmf_hang_up(engine, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    question, barge = pcm(QUESTION), pcm(BARGE)

    async def main():
        service = VoiceService(engine)
        events = spy_events(service)
        server = AudioSocketServer(service, "127.0.0.1", 0)
        port = await server.start()
        peer = Peer(port)
        loop = asyncio.get_running_loop()
        try:
            t0 = loop.time()
            await peer.start_call()
            # the greeting plays: 320-byte frames, about 50 a second, mostly voiced
            greeting_end = await peer.quiet(0.5)
            greeting = peer.audio()
            assert server.active_calls == 1
            first_greeting = greeting[0][0] - t0
            rate = (len(greeting) - 1) / (greeting[-1][0] - greeting[0][0])
            voiced_share = len(peer.voiced()) / len(greeting)
            assert {len(p) for _, p in greeting} == {FRAME_BYTES}
            assert 40 <= rate <= 60, rate
            assert voiced_share > 0.5, voiced_share
            # the question; the reply (talk_to_agent) comes after it
            _, q_end = await peer.say(question)
            reply_first = await peer.voiced_after(q_end)
            await asyncio.sleep(1.2)  # the reply plays (into its second sentence)...
            b_start, b_end = await peer.say(barge)  # ...and the caller speaks over it
            await asyncio.sleep(1.5)
            peer.send(frame(0x03, b"5"))
            await asyncio.sleep(0.3)
            hang_up_at = loop.time()
            await peer.hang_up()
            await asyncio.wait_for(peer.closed.wait(), 5)
            closed_after = loop.time() - hang_up_at
            await poll_freed(service, engine, server)
        finally:
            await peer.close()
            await server.stop()
            await service.close()
        return peer, events, {"first_greeting": first_greeting, "rate": rate, "voiced_share": voiced_share,
                              "greeting_end": greeting_end, "q_end": q_end, "reply_first": reply_first,
                              "b_start": b_start, "b_end": b_end, "hang_up_at": hang_up_at,
                              "closed_after": closed_after}

    peer, events, m = asyncio.run(main())
    # every audio frame from the server is exactly 20 ms; the server ended with nothing else
    assert {len(p) for _, p in peer.audio()} == {FRAME_BYTES}
    assert set(peer.kinds()) == {0x10} and not peer.truncated
    # the door ran the phone's config
    (config,) = [e for _, e in events if isinstance(e, t.ConversationConfig)]
    assert config.call_id == str(peer.call_id) and config.pacing is t.Pacing.REALTIME
    assert (config.input_encoding, config.input_sample_rate_hertz) == ("LINEAR16", 8000)
    assert (config.output_encoding, config.output_sample_rate_hertz, config.output_chunk_ms) == ("LINEAR16", 8000, 20)
    assert config.reply_source == "intents" and config.language_code == ""
    # the service's view: the question's intent, its reply, the barge-in on it, the digit
    finals = [e for _, e in events if isinstance(e, t.RecognitionResult) and e.is_final]
    assert finals[0].intent.intent == "talk_to_agent"
    started = {e.reply_id: e for _, e in events if isinstance(e, t.ReplyStarted)}
    # language "" (the default): the service picks the greeting's language itself
    assert started[1].text in engine.dialogue.greeting.values()
    assert started[2].text in engine.dialogue.intents["talk_to_agent"].responses["en"]
    (barge_event,) = [(at, e) for at, e in events if isinstance(e, t.BargeIn)]
    assert barge_event[1].reply_id == 2
    assert not [at for at, e in events if isinstance(e, t.ReplyAudio) and e.reply_id == 2 and at > barge_event[0]]
    assert [e.digit for _, e in events if isinstance(e, t.DtmfEvent)] == ["5"]
    # the reply came after the question
    assert m["reply_first"] > m["q_end"]
    # the wire's view: after the barge-in speech began, the reply's frames stop, and a gap of
    # at least 600 ms without voiced audio follows before any later reply
    voiced = peer.voiced(m["b_start"]) + [m["hang_up_at"]]
    times = [m["b_start"]] + voiced
    gaps = [(b - a, a) for a, b in itertools.pairwise(times)]
    gap, stopped_at = next((g, a) for g, a in gaps if g >= 0.6)
    assert stopped_at < m["b_end"]  # the reply stopped while the caller was still speaking
    sent_after = [at for at, _ in peer.audio(m["b_start"])]  # any frame, voiced or not
    last_frame = max((at for at in sent_after if at < stopped_at + gap), default=m["b_start"])
    print(f"\nfirst greeting frame {m['first_greeting'] * 1000:.0f} ms after connect; "
          f"{m['rate']:.1f} frames/s, {m['voiced_share']:.0%} voiced")
    print(f"question end -> first reply frame: {(m['reply_first'] - m['q_end']) * 1000:.0f} ms")
    print(f"barge-in speech began -> last voiced reply frame {(stopped_at - m['b_start']) * 1000:.0f} ms, "
          f"last reply frame {(last_frame - m['b_start']) * 1000:.0f} ms "
          f"(service BargeIn event after {(barge_event[0] - m['b_start']) * 1000:.0f} ms, "
          f"played {barge_event[1].played_s:.2f} s, heard {barge_event[1].spoken_text!r}); "
          f"then {gap * 1000:.0f} ms without reply audio")
    print(f"hang-up -> connection closed: {m['closed_after'] * 1000:.0f} ms")
    records = bridge_records(caplog)
    ends = [r for r in records if "ended" in r.getMessage()]
    assert len(ends) == 1 and ends[0].levelno == logging.INFO and "hang-up" in ends[0].getMessage()
    assert str(peer.call_id) in ends[0].getMessage()
    assert_no_traceback(caplog)


MALFORMED = [
    # (name, bytes after connecting, half-close after, the reason the log line names)
    ("unknown kind", "uuid", frame(0x42, b"xy"), False, "unknown frame kind 0x42"),
    ("truncated then EOF", "uuid", HEADER.pack(0x10, FRAME_BYTES) + bytes(100), True, "truncated"),
    ("short UUID", "", frame(0x01, b"12345"), False, "UUID frame of 5 bytes"),
    ("DTMF of 2 bytes", "uuid", frame(0x03, b"12"), False, "DTMF frame of 2 bytes"),
    ("odd-length audio", "uuid", frame(0x10, bytes(321)), False, "audio frame of 321 bytes"),
    ("audio before UUID", "", frame(0x10, bytes(FRAME_BYTES)), False, "before the call UUID"),
    # well-formed, but the service refuses the digit: a service error, handled the same way
    ("DTMF digit x", "uuid", frame(0x03, b"x") + frame(0x10, bytes(FRAME_BYTES)), False,
     "InvalidArgument: dtmf: 'x' is not a DTMF digit"),
]


def test_malformed_frames_end_only_their_call(engine, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)

    async def bad_call(port: int, first: str, data: bytes, half_close: bool) -> Peer:
        peer = Peer(port)
        await peer.connect()
        if first == "uuid":
            peer.send(frame(0x01, peer.call_id.bytes) + frame(0x10, bytes(FRAME_BYTES)))
        peer.send(data)
        if half_close:
            peer.writer.write_eof()
        await peer.writer.drain()
        await asyncio.wait_for(peer.closed.wait(), 5)
        await peer.close()
        return peer

    async def main():
        service = VoiceService(engine)
        server = AudioSocketServer(service, "127.0.0.1", 0)
        port = await server.start()
        good = Peer(port)
        results = []
        try:
            await good.start_call()
            await good.voiced_after(0.0)  # the good call's greeting has begun
            for name, first, data, half_close, reason in MALFORMED:
                before = len(bridge_records(caplog))
                peer = await bad_call(port, first, data, half_close)
                await asyncio.sleep(0.05)
                results.append((name, first, peer, reason, bridge_records(caplog)[before:]))
            assert not good.closed.is_set()
            await good.quiet(0.5)  # the greeting played to its end
            greeting = good.audio()
            await good.hang_up()
            await asyncio.wait_for(good.closed.wait(), 5)
            await poll_freed(service, engine, server)
        finally:
            await good.close()
            await server.stop()
            await service.close()
        return good, greeting, results

    _, greeting, results = asyncio.run(main())
    duration = greeting[-1][0] - greeting[0][0]
    print(f"\ngood call: greeting of {len(greeting)} frames over {duration:.2f} s while {len(results)} bad calls came and went")
    assert len(greeting) > 50 and {len(p) for _, p in greeting} == {FRAME_BYTES}
    assert (len(greeting) - 1) / duration > 40
    for name, first, peer, reason, records in results:
        # the server sent an error frame last, then closed the connection
        assert peer.kinds() and peer.kinds()[-1] == 0xFF, (name, peer.kinds())
        assert len(peer.received[-1][2]) == 1 and not peer.truncated, name
        # one log line: which call, and what was wrong
        assert len(records) == 1, (name, [r.getMessage() for r in records])
        (record,) = records
        message = record.getMessage()
        print(f"{name}: {message}")
        assert record.levelno == logging.WARNING and reason in message, (name, message)
        if first == "uuid":
            assert str(peer.call_id) in message, message
    assert_no_traceback(caplog)


def test_a_caller_who_vanishes_mid_reply_frees_everything(engine, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)

    async def main():
        service = VoiceService(engine)
        server = AudioSocketServer(service, "127.0.0.1", 0)
        port = await server.start()
        peer = Peer(port)
        try:
            await peer.start_call()
            await peer.voiced_after(0.0)
            await asyncio.sleep(0.5)  # mid-greeting, while the caller also starts to speak
            peer._speech += pcm(BARGE)[:4000]
            await asyncio.sleep(0.1)
            assert server.active_calls == 1
            await peer.close()  # the line drops: no hang-up frame
            await poll_freed(service, engine, server)
        finally:
            await server.stop()
            await service.close()
        return peer

    peer = asyncio.run(main())
    records = [r for r in bridge_records(caplog) if str(peer.call_id) in r.getMessage()]
    assert len(records) == 1 and records[0].levelno == logging.INFO, [r.getMessage() for r in records]
    print(f"\n{records[0].getMessage()}")
    assert_no_traceback(caplog)


def test_at_the_call_limit_a_call_is_refused_alone_and_stop_hangs_up(engine, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)

    async def main():
        service = VoiceService(engine, engine.config.replace("server", max_sessions=1))
        server = AudioSocketServer(service, "127.0.0.1", 0)
        port = await server.start()
        first, second = Peer(port), Peer(port)
        try:
            await first.start_call()
            await first.voiced_after(0.0)
            await second.start_call()
            await asyncio.wait_for(second.closed.wait(), 5)
            assert not first.closed.is_set() and server.active_calls == 1
            loop = asyncio.get_running_loop()
            stop_at = loop.time()
            await server.stop(grace_s=0.3)  # ends the call in progress after the grace: a hang-up frame
            await asyncio.wait_for(first.closed.wait(), 5)
            assert loop.time() - stop_at >= 0.3
            await poll_freed(service, engine, server)
        finally:
            await first.close()
            await second.close()
            await server.stop()
            await service.close()
        return first, second

    first, second = asyncio.run(main())
    assert second.kinds() == [0xFF] and second.received[0][2] == bytes([0x11])  # busy
    assert first.kinds()[-1] == 0x00 and not first.truncated
    stopped = [r for r in bridge_records(caplog) if str(first.call_id) in r.getMessage()]
    assert len(stopped) == 1 and "server stopping" in stopped[0].getMessage()
    refused = [r for r in bridge_records(caplog) if str(second.call_id) in r.getMessage()]
    assert len(refused) == 1 and refused[0].levelno == logging.WARNING
    assert "ResourceExhausted" in refused[0].getMessage()
    assert_no_traceback(caplog)


def test_an_error_frame_from_the_peer_ends_the_call(engine, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)

    async def main():
        service = VoiceService(engine)
        server = AudioSocketServer(service, "127.0.0.1", 0)
        port = await server.start()
        peer = Peer(port)
        try:
            await peer.connect()
            peer.send(frame(0x01, peer.call_id.bytes) + frame(0x10, bytes(FRAME_BYTES)) + frame(0xFF, b"\x07"))
            await asyncio.wait_for(peer.closed.wait(), 5)
            await poll_freed(service, engine, server)
        finally:
            await peer.close()
            await server.stop()
            await service.close()
        return peer

    peer = asyncio.run(main())
    assert 0xFF not in peer.kinds()  # no error answered with an error
    (record,) = [r for r in bridge_records(caplog) if str(peer.call_id) in r.getMessage()]
    assert record.levelno == logging.WARNING and "error frame (code 0x07)" in record.getMessage()
