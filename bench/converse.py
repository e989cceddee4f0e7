"""Full-duplex phone calls through the Asterisk AudioSocket bridge: voice-to-voice latency,
barge-in reaction, and what semantic turn-taking saves and costs.

    .venv/bin/python bench/converse.py [--calls 1,4] [--turns 30] [--modes semantic,silence]

``--turns`` caller turns per level in all (4 calls: 8 turns each).

Starts ``voice serve --audiosocket`` on loopback (default models, intents reply source, the
call-centre domain) and plays callers at real-time pace in 20 ms frames, each caller a
protocol-level AudioSocket peer written here from the protocol description. A caller speaks
real recorded telephone prompts (asterisk-core-sounds, 8 kHz) one turn after another:

* every turn: **voice-to-voice** = the caller's last speech frame sent -> the first voiced
  reply frame received;
* every second turn the caller speaks again 0.8 s into the reply: **barge-in reaction** =
  the first frame of that speech sent -> the last voiced reply frame received before the
  reply stops;
* every fifth turn the prompt has a 500 ms pause inserted mid-sentence (at its quietest point
  near the middle): **cut off** = a reply started during that pause.

Budgets voice-agent frameworks publish, for comparison: pipecat 500-800 ms voice-to-voice
(cloud services on GPUs), Vapi ~1 s; a lag is noticed near 700 ms. Goals here (2-core CPU,
default models): voice-to-voice p50 <= 800 ms, barge-in reaction p95 <= 250 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import struct
import time
import uuid
from dataclasses import dataclass, field

import numpy as np
import soundfile as sf

from voice.testing.harness import free_port, pct, start_server
from voice.testing.prompts import pick_prompts

FRAME = 160  # samples of 20 ms at 8 kHz
KIND_HANGUP, KIND_UUID, KIND_AUDIO = 0x00, 0x01, 0x10
VOICED_DBFS = -40.0
QUIET_S = 0.6  # a reply is over after this long without a voiced frame
PAUSE_S = 0.5
BARGE_AFTER_S = 0.8


def frame(kind: int, payload: bytes = b"") -> bytes:
    return struct.pack(">BH", kind, len(payload)) + payload


def with_pause(audio: np.ndarray) -> tuple[np.ndarray, int]:
    """``audio`` with PAUSE_S of silence at its quietest 20 ms in the middle third."""
    third = audio.size // 3
    energy = [float(np.mean(audio[i:i + FRAME] ** 2)) for i in range(third, 2 * third, FRAME)]
    cut = third + int(np.argmin(energy)) * FRAME
    return np.concatenate([audio[:cut], np.zeros(int(PAUSE_S * 8000), np.float32), audio[cut:]]), cut


def trailing_silence(audio: np.ndarray) -> float:
    """Seconds of unvoiced 20 ms frames at the end of a recording (speech ended before them)."""
    n = 0
    for i in range(audio.size - FRAME, 0, -FRAME):
        if 10 * np.log10(float(np.mean(audio[i:i + FRAME] ** 2)) + 1e-12) > VOICED_DBFS:
            break
        n += 1
    return n * FRAME / 8000


@dataclass
class Results:
    v2v: list[float] = field(default_factory=list)
    barge: list[float] = field(default_factory=list)
    paused: int = 0
    cut_off: int = 0
    missed: int = 0  # turns that got no reply


class CallerPeer:
    """One AudioSocket call: sends frames at real-time pace, timestamps voiced frames received."""

    def __init__(self, port: int):
        self.port = port
        self.voiced: list[float] = []  # arrival times of voiced reply frames
        self._next = 0.0

    async def __aenter__(self):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(frame(KIND_UUID, uuid.uuid4().bytes))
        self._reading = asyncio.create_task(self._read())
        self._next = time.monotonic()
        return self

    async def __aexit__(self, *exc):
        self.writer.write(frame(KIND_HANGUP))
        await self.writer.drain()
        self.writer.close()
        self._reading.cancel()

    async def _read(self) -> None:
        while True:
            head = await self.reader.readexactly(3)
            kind, length = struct.unpack(">BH", head)
            payload = await self.reader.readexactly(length)
            if kind == KIND_AUDIO:
                pcm = np.frombuffer(payload, "<i2").astype(np.float32) / 32768
                if 10 * np.log10(float(np.mean(pcm ** 2)) + 1e-12) > VOICED_DBFS:
                    self.voiced.append(time.monotonic())
            elif kind == KIND_HANGUP:
                return

    async def send(self, audio: np.ndarray) -> float:
        """Send ``audio`` (float32, 8 kHz) in real time; returns when its last frame went out."""
        pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
        sent = 0.0
        for i in range(0, pcm.size, FRAME):
            chunk = pcm[i:i + FRAME]
            if chunk.size < FRAME:
                chunk = np.concatenate([chunk, np.zeros(FRAME - chunk.size, "<i2")])
            self._next += FRAME / 8000
            await asyncio.sleep(max(0.0, self._next - time.monotonic()))
            self.writer.write(frame(KIND_AUDIO, chunk.tobytes()))
            sent = time.monotonic()
        await self.writer.drain()
        return sent

    async def silence(self, seconds: float) -> None:
        await self.send(np.zeros(int(seconds * 8000), np.float32))

    async def until(self, ready, limit_s: float) -> bool:
        """Send silence until ``ready()`` (20 ms steps) or ``limit_s`` passes."""
        deadline = time.monotonic() + limit_s
        while not ready():
            if time.monotonic() > deadline:
                return False
            await self.silence(FRAME / 8000)
        return True

    def first_voiced_after(self, t: float) -> float | None:
        return next((v for v in self.voiced if v > t), None)

    def quiet_since(self, t: float) -> bool:
        last = max([v for v in self.voiced if v > t] or [t])
        return time.monotonic() - last > QUIET_S


async def call(port: int, turns: list[np.ndarray], results: Results) -> None:
    async with CallerPeer(port) as peer:
        start = time.monotonic()
        await peer.until(lambda: peer.first_voiced_after(start) is not None, 20)  # the greeting
        await peer.until(lambda: peer.quiet_since(start), 30)
        for i, audio in enumerate(turns):
            paused = i % 5 == 4
            if paused:
                audio, cut = with_pause(audio)
                first_part = audio[:cut + int(PAUSE_S * 8000)]
                t_pause = await peer.send(first_part[: cut])
                await peer.send(first_part[cut:])
                results.paused += 1
                if peer.first_voiced_after(t_pause) is not None:
                    results.cut_off += 1
                end = await peer.send(audio[cut + int(PAUSE_S * 8000):])
            else:
                end = await peer.send(audio)
            if not await peer.until(lambda end=end: peer.first_voiced_after(end) is not None, 15):
                results.missed += 1
                continue
            first = peer.first_voiced_after(end)
            results.v2v.append(first - (end - trailing_silence(audio)))
            if i % 2 == 1:  # talk over the reply
                await peer.silence(BARGE_AFTER_S)
                onset = time.monotonic()
                playing = any(onset - 0.1 < v <= onset for v in peer.voiced)
                barge = turns[(i + 1) % len(turns)]
                await peer.send(barge[: int(1.5 * 8000)])
                if playing:  # else the reply had already ended: nothing to interrupt
                    stopped = max(v for v in peer.voiced if v <= onset + 1.5)
                    results.barge.append(stopped - onset)
            await peer.until(lambda end=end: peer.quiet_since(end), 30)


async def level(port: int, calls: int, turns: int, prompts) -> Results:
    results = Results()
    audio = [sf.read(p.path, dtype="float32")[0] for p in prompts]
    scripts = [[audio[(c * 7 + k) % len(audio)] for k in range(turns)] for c in range(calls)]
    await asyncio.gather(*(call(port, s, results) for s in scripts))
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", default="1,4")
    parser.add_argument("--turns", type=int, default=30, help="caller turns per level, shared by its calls")
    parser.add_argument("--modes", default="semantic,silence", help="turn detection modes to compare")
    parser.add_argument("--asr-workers", type=int, default=0, help="asr.num_workers (0: the server default, 2)")
    args = parser.parse_args(argv)
    prompts = pick_prompts("en", 40)
    rows = []
    for mode in args.modes.split(","):
        grpc_port, socket_port = free_port(), free_port()
        proc = start_server(grpc_port, asr_settings={"num_workers": args.asr_workers} if args.asr_workers else None,
                            sections={"conversation": {"turn_detection": mode, "language": "en"}},
                            args=["--audiosocket", f"127.0.0.1:{socket_port}"])
        try:
            for calls in (int(c) for c in args.calls.split(",")):
                r = asyncio.run(level(socket_port, calls, -(-args.turns // calls), prompts))
                rows.append((mode, calls, len(r.v2v), pct(r.v2v, 50), pct(r.v2v, 95), len(r.barge), pct(r.barge, 50),
                             pct(r.barge, 95), f"{r.cut_off}/{r.paused}", r.missed))
                print(rows[-1], flush=True)
        finally:
            proc.terminate()
            proc.wait(30)
    print("\n| turn detection | calls | turns | voice-to-voice p50 | p95 | barge-ins | reaction p50 | p95 "
          "| cut off (paused turns) | no reply |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(f"{v * 1000:.0f} ms" if isinstance(v, float) else str(v) for v in row) + " |")
    print("\nfor comparison: pipecat quotes 500-800 ms voice-to-voice (cloud services, GPUs); "
          "goals here: p50 <= 800 ms, barge-in reaction p95 <= 250 ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
