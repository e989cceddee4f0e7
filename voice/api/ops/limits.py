"""The stream limits every door applies: the longest wait for audio and the longest stream.

``server.idle_timeout_s`` (no audio for this long) and ``server.max_stream_seconds`` (a stream
this long), 0 = no limit. One clock per stream (:class:`StreamClock`), no I/O: the door notes
each audio message (:meth:`~StreamClock.heard`), waits for the next one at most
:meth:`~StreamClock.wait_s` (a receive timeout), and asks :meth:`~StreamClock.hit` which limit,
if any, is reached. Each door only says it in its protocol's words: gRPC ``DEADLINE_EXCEEDED``,
an AudioSocket hang-up, a Wyoming ``error``, a Twilio close, an OpenAI realtime ``error`` event
and close.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...config import ServerConfig

IDLE = "server.idle_timeout_s"
LONGEST = "server.max_stream_seconds"
SLACK_S = 0.005  # a deadline this close counts as reached (timers may fire a little early)
MIN_WAIT_S = 0.001  # the shortest wait: never 0, which aiohttp's receive(timeout) reads as "no timeout"


@dataclass(frozen=True)
class StreamLimits:
    idle_timeout_s: float = 0.0  # no audio for this long ends the stream (0: never)
    max_stream_seconds: float = 0.0  # a stream this long is ended (0: never)

    @classmethod
    def of(cls, server: ServerConfig) -> StreamLimits:
        return cls(server.idle_timeout_s, server.max_stream_seconds)


@dataclass(frozen=True)
class LimitHit:
    """A limit a stream reached: its config key and value."""

    key: str  # IDLE or LONGEST
    seconds: float

    @property
    def idle(self) -> bool:
        return self.key == IDLE

    def __str__(self) -> str:
        if self.idle:
            return f"no audio for {self.seconds:g} s ({self.key})"
        return f"the stream ran longer than {self.seconds:g} s ({self.key})"


class StreamClock:
    """One stream's time: since it began and since its latest audio."""

    def __init__(self, limits: StreamLimits, started: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        """``started``: when the stream began, on ``clock`` (default: now)."""
        self.limits = limits
        self._clock = clock
        self.started = clock() if started is None else started
        self.last = self._clock()

    def heard(self) -> None:
        """Audio came in now."""
        self.last = self._clock()

    def _deadlines(self) -> list[tuple[float, str, float]]:
        out = []
        if self.limits.max_stream_seconds:
            out.append((self.started + self.limits.max_stream_seconds, LONGEST, self.limits.max_stream_seconds))
        if self.limits.idle_timeout_s:
            out.append((self.last + self.limits.idle_timeout_s, IDLE, self.limits.idle_timeout_s))
        return out

    def wait_s(self) -> float | None:
        """How long the stream may wait for its next audio before a limit is reached (None: no
        limit; at least :data:`MIN_WAIT_S`)."""
        deadlines = self._deadlines()
        if not deadlines:
            return None
        return max(MIN_WAIT_S, min(d for d, _, _ in deadlines) - self._clock())

    def hit(self) -> LimitHit | None:
        """The limit reached now (the stream's length first), else None."""
        now = self._clock() + SLACK_S
        for deadline, key, seconds in self._deadlines():
            if now >= deadline:
                return LimitHit(key, seconds)
        return None
