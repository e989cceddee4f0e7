"""A simulated phone caller for conversation tests and benchmarks.

The caller sends 20 ms frames of 8 kHz audio at real-time pace (what it says, or silence),
plays the reply audio it receives the way a phone does (back to back from when it arrives;
it stops at a barge-in), and can hear its own loudspeaker: an echo of the reply, delayed,
attenuated and band-limited like a phone line, mixed into what it sends. Its script is a
list of steps run in order; :class:`WaitFor` keeps sending silence (plus echo) until an
event arrives.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import numpy as np

from voice.core.audio import AudioDecoder, Encoding, resample
from voice.service import types as t

FRAME_S = 0.02


@dataclass(frozen=True)
class Say:
    audio: np.ndarray  # float32 at the caller's rate
    gain_db: float = 0.0


@dataclass(frozen=True)
class Silence:
    seconds: float


@dataclass(frozen=True)
class WaitFor:
    """Send silence until ``match(event)`` is true for a received event (then go on)."""

    match: Callable[[object], bool]
    timeout_s: float = 60.0


@dataclass(frozen=True)
class Send:
    """A control input (reply text, DTMF, cancel, flush)."""

    item: object


@dataclass(frozen=True)
class Echo:
    delay_ms: float = 120.0
    gain_db: float = -10.0
    line_filter: bool = True  # 300-3400 Hz band-pass


@dataclass
class Received:
    time: float  # caller stream seconds when it arrived
    event: object


@dataclass
class Caller:
    script: list
    rate: int = 8000
    echo: Echo | None = None
    realtime: bool = True
    events: list[Received] = field(default_factory=list)
    said: list[tuple[float, float]] = field(default_factory=list)  # (start, end) stream seconds of each Say
    sent: list[tuple[float, object]] = field(default_factory=list)  # (stream seconds, item) of each Send

    def __post_init__(self) -> None:
        self._frame = int(self.rate * FRAME_S)
        self._sent = 0  # samples sent
        self._speaker = np.zeros(0, np.float32)  # reply audio by caller sample (what plays when)
        self._play_end = 0
        self._decoders: dict[tuple[str, int], AudioDecoder] = {}
        self._arrived = asyncio.Event()
        self._sos = self._zi = None
        if self.echo is not None and self.echo.line_filter:
            from scipy.signal import butter, sosfilt_zi

            self._sos = butter(4, [300, 3400], btype="bandpass", fs=self.rate, output="sos")
            self._zi = sosfilt_zi(self._sos) * 0.0

    @property
    def now(self) -> float:
        return self._sent / self.rate

    # -- what the caller hears -------------------------------------------------------------
    def hear(self, event: object) -> None:
        self.events.append(Received(self.now, event))
        if isinstance(event, t.ReplyAudio):
            self._play(event.chunk)
        elif isinstance(event, t.BargeIn) or (isinstance(event, t.ReplyEnded) and event.interrupted):
            self._speaker = self._speaker[: self._sent]  # a phone stops playing what it still holds
            self._play_end = min(self._play_end, self._sent)
        self._arrived.set()
        self._arrived = asyncio.Event()

    def _play(self, chunk: t.AudioChunk) -> None:
        key = (chunk.encoding, chunk.sample_rate_hertz)
        decoder = self._decoders.setdefault(key, AudioDecoder(Encoding(chunk.encoding), chunk.sample_rate_hertz))
        audio = resample(decoder.decode(chunk.audio).audio, 16000, self.rate)
        start = max(self._play_end, self._sent)
        end = start + audio.size
        if end > self._speaker.size:
            self._speaker = np.concatenate([self._speaker, np.zeros(end - self._speaker.size, np.float32)])
        self._speaker[start:end] = audio
        self._play_end = end

    def _echo(self, n: int) -> np.ndarray:
        if self.echo is None:
            return np.zeros(n, np.float32)
        delay = int(self.echo.delay_ms * self.rate / 1000)
        lo = self._sent - delay
        out = np.zeros(n, np.float32)
        src_lo, src_hi = max(lo, 0), min(lo + n, self._speaker.size)
        if src_hi > src_lo:
            out[src_lo - lo:src_hi - lo] = self._speaker[src_lo:src_hi]
        out *= np.float32(10 ** (self.echo.gain_db / 20))
        if self._sos is not None:
            from scipy.signal import sosfilt

            out, self._zi = sosfilt(self._sos, out, zi=self._zi)
        return out.astype(np.float32)

    # -- what the caller sends -------------------------------------------------------------
    async def _frame_out(self, speech: np.ndarray | None, clock: list) -> t.AudioInput:
        n = self._frame
        mic = self._echo(n)
        if speech is not None:
            mic[: speech.size] += speech
        pcm = np.clip(mic * 32767, -32768, 32767).astype("<i2").tobytes()
        self._sent += n
        if self.realtime:
            clock[0] += FRAME_S
            delay = clock[0] - asyncio.get_running_loop().time()
            await asyncio.sleep(max(0.0, delay))
        else:
            await asyncio.sleep(0)
        return t.AudioInput(pcm)

    async def inputs(self) -> AsyncIterator[t.ConversationInput]:
        clock = [asyncio.get_running_loop().time()]
        for step in self.script:
            if isinstance(step, Say):
                audio = step.audio * np.float32(10 ** (step.gain_db / 20))
                start = self.now
                for i in range(0, audio.size, self._frame):
                    yield await self._frame_out(audio[i:i + self._frame], clock)
                self.said.append((start, self.now))
            elif isinstance(step, Silence):
                for _ in range(int(round(step.seconds / FRAME_S))):
                    yield await self._frame_out(None, clock)
            elif isinstance(step, Send):
                self.sent.append((self.now, step.item))
                yield step.item
            elif isinstance(step, WaitFor):
                deadline = self.now + step.timeout_s
                while not any(step.match(r.event) for r in self.events):
                    if self.now > deadline:
                        raise TimeoutError(f"caller waited {step.timeout_s} s for an event")
                    yield await self._frame_out(None, clock)
        # done: the line goes quiet for a moment, then the caller hangs up

    def of(self, kind: type) -> list[Received]:
        return [r for r in self.events if isinstance(r.event, kind)]


async def converse(service, config: t.ConversationConfig, caller: Caller) -> Caller:
    """Run one call through ``service.conversation`` with ``caller``; returns the caller."""
    async with service.conversation.open() as call:
        async for event in call.run(config, caller.inputs()):
            caller.hear(event)
    return caller
