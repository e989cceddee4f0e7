"""The Asterisk AudioSocket door with the real models when calls go wrong, driven by the
protocol-level peer :class:`voice.testing.audiosocket_peer.Peer` over TCP on 127.0.0.1:
malformed frames end only their own call, a caller who vanishes mid-reply frees everything,
the call limit refuses one call alone, server stop hangs up, an error frame from the peer
ends the call. The whole call flow: tests/integration/test_audiosocket.py."""

from __future__ import annotations

import asyncio
import logging

from voice.api.audiosocket import AudioSocketServer
from voice.service import VoiceService
from voice.testing.audiosocket_peer import (
    FRAME_BYTES,
    HEADER,
    LOGGER,
    Peer,
    assert_no_traceback,
    bridge_records,
    frame,
    pcm,
    poll_freed,
)
from voice.testing.prompts import SOUNDS

BARGE = SOUNDS / "en" / "vm-reachoper.wav"  # "press 0 to reach an operator"


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
