"""Asterisk's side of an AudioSocket connection, for the AudioSocket door's tests.

Written from the protocol description, not from the door's code (nothing here imports
:mod:`voice.api`): a 3-byte header (kind, big-endian uint16 length), then the payload;
kinds 0x00 hang-up, 0x01 call UUID, 0x03 DTMF digit, 0x10 20 ms of 8 kHz 16-bit mono
audio, 0xff error. :class:`Peer` is a phone line over TCP on 127.0.0.1: it sends 20 ms
frames at real-time pace all the time (what it is told to say, else silence) and records
every frame it receives with its arrival time. Also the checks the tests share: everything
freed after a call (:func:`poll_freed`), the door's log lines and no tracebacks in them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import uuid
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf

if TYPE_CHECKING:
    from voice.service import VoiceService

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


async def poll_freed(service: VoiceService, engine, server) -> None:
    """Wait (5 s at most) until the call left nothing behind: no admitted conversation or
    synthesis, no queued recognition, no synthesizer in use, no call at ``server`` (the
    AudioSocket door); then assert it."""
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


def bridge_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(LOGGER)]


def assert_no_traceback(caplog) -> None:
    for record in caplog.records:
        assert record.exc_info is None and "Traceback" not in record.getMessage(), record.getMessage()
