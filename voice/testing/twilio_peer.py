"""Twilio's side of a Media Streams WebSocket, for the Twilio door's tests.

Written from Twilio's published message format, not from the door's code (nothing here
imports :mod:`voice.api`): JSON text messages (``connected``, ``start``, ``media`` with base64
8 kHz mu-law, ``dtmf``, ``stop``), media every 20 ms at real-time pace. :class:`Peer` keeps
everything it receives with the stream time it arrived at.
"""

from __future__ import annotations

import asyncio
import base64
import json

import aiohttp
import numpy as np
import soundfile as sf

import kernels

FRAME = 160  # 20 ms of 8 kHz mu-law
FRAME_S = 0.02
SILENCE = kernels.mulaw_encode(np.zeros(FRAME, np.int16)).tobytes()


def mulaw(path) -> bytes:
    data, rate = sf.read(path, dtype="int16")
    assert rate == 8000
    return kernels.mulaw_encode(data).tobytes()


class Peer:
    """The far end of a Media Stream (Twilio's side): JSON text messages, media every 20 ms at
    real-time pace; everything it receives is kept with the stream time it arrived at."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, stream_sid: str, call_sid: str):
        self.ws = ws
        self.stream_sid = stream_sid
        self.call_sid = call_sid
        self.frames = 0  # media messages sent
        self.received: list[tuple[float, dict]] = []  # (stream seconds, message)
        self.said: list[tuple[float, float]] = []  # (start, end) stream seconds of each say()
        self.closed = asyncio.Event()
        self._seq = 0
        self._clock: float | None = None
        self._reader = asyncio.create_task(self._receive())

    @property
    def now(self) -> float:
        return self.frames * FRAME_S

    async def _receive(self) -> None:
        async for msg in self.ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                self.received.append((self.now, json.loads(msg.data)))
        self.closed.set()

    async def send(self, message: dict) -> None:
        self._seq += 1
        await self.ws.send_str(json.dumps({"sequenceNumber": str(self._seq), **message}))

    async def begin(self, parameters: dict | None = None) -> None:
        await self.ws.send_str(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        await self.send({"event": "start", "streamSid": self.stream_sid, "start": {
            "streamSid": self.stream_sid, "accountSid": "AC0123", "callSid": self.call_sid, "tracks": ["inbound"],
            "customParameters": parameters or {},
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})

    async def _frame(self, payload: bytes) -> None:
        loop = asyncio.get_running_loop()
        if self._clock is None:
            self._clock = loop.time()
        await self.send({"event": "media", "streamSid": self.stream_sid, "media": {
            "track": "inbound", "chunk": str(self.frames + 1), "timestamp": str(self.frames * 20),
            "payload": base64.b64encode(payload).decode()}})
        self.frames += 1
        self._clock += FRAME_S
        await asyncio.sleep(max(0.0, self._clock - loop.time()))

    async def say(self, audio: bytes) -> None:
        start = self.now
        for i in range(0, len(audio), FRAME):
            await self._frame(audio[i:i + FRAME].ljust(FRAME, SILENCE[:1]))
        self.said.append((start, self.now))

    async def silence(self, seconds: float) -> None:
        for _ in range(round(seconds / FRAME_S)):
            await self._frame(SILENCE)

    async def silence_until(self, ready, timeout_s: float = 20.0) -> None:
        deadline = self.now + timeout_s
        while not ready():
            assert not self.closed.is_set(), f"the socket closed ({self.ws.close_code}) while waiting"
            assert self.now < deadline, f"waited {timeout_s} s of stream time"
            await self._frame(SILENCE)

    async def dtmf(self, digit: str) -> None:
        await self.send({"event": "dtmf", "streamSid": self.stream_sid, "dtmf": {"track": "inbound_track", "digit": digit}})

    async def stop(self) -> None:
        await self.send({"event": "stop", "streamSid": self.stream_sid,
                         "stop": {"accountSid": "AC0123", "callSid": self.call_sid}})

    async def wait_closed(self, timeout_s: float = 15.0) -> int | None:
        await asyncio.wait_for(self.closed.wait(), timeout_s)
        return self.ws.close_code

    # -- what came back --------------------------------------------------------------------
    def of(self, event: str, since: float = -1.0) -> list[tuple[float, dict]]:
        return [(at, m) for at, m in self.received if m.get("event") == event and at >= since]

    def marks(self) -> list[tuple[float, str]]:
        return [(at, m["mark"]["name"]) for at, m in self.of("mark")]

    def mark_at(self, name: str) -> float | None:
        return next((at for at, n in self.marks() if n == name), None)

    def audio(self, since: float = -1.0, until: float = float("inf")) -> bytes:
        return b"".join(base64.b64decode(m["media"]["payload"]) for at, m in self.of("media", since) if at < until)
