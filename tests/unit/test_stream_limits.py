"""The stream clock every door's limits use (voice.api.ops.limits), on a fake clock."""

from __future__ import annotations

import asyncio

from voice.api.ops.limits import IDLE, LONGEST, MIN_WAIT_S, LimitHit, StreamClock, StreamLimits
from voice.config import Config


class Now:
    def __init__(self):
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_idle_and_longest_deadlines():
    now = Now()
    clock = StreamClock(StreamLimits(idle_timeout_s=2.0, max_stream_seconds=5.0), clock=now)
    assert clock.wait_s() == 2.0 and clock.hit() is None
    now.t += 1.5
    clock.heard()  # audio resets the idle deadline, not the stream's
    assert clock.wait_s() == 2.0
    now.t += 1.9
    assert clock.hit() is None
    now.t += 0.1
    assert clock.hit() == LimitHit(IDLE, 2.0) and clock.hit().idle
    clock.heard()
    now.t += 1.0  # 4.5 s in: 0.5 s to the stream's limit, sooner than the idle one
    assert abs(clock.wait_s() - 0.5) < 1e-9
    now.t += 0.5
    hit = clock.hit()
    assert hit == LimitHit(LONGEST, 5.0) and not hit.idle
    assert str(hit) == "the stream ran longer than 5 s (server.max_stream_seconds)"
    assert str(LimitHit(IDLE, 2.0)) == "no audio for 2 s (server.idle_timeout_s)"
    assert clock.wait_s() == MIN_WAIT_S  # never 0: aiohttp reads a 0 timeout as none


def test_no_limits_and_the_config_keys():
    clock = StreamClock(StreamLimits())
    assert clock.wait_s() is None and clock.hit() is None
    server = Config().replace("server", idle_timeout_s=3.0, max_stream_seconds=60.0).server
    assert StreamLimits.of(server) == StreamLimits(3.0, 60.0)


def test_a_timer_that_fires_a_little_early_still_sees_the_limit():
    async def main():
        clock = StreamClock(StreamLimits(idle_timeout_s=0.05))
        try:
            async with asyncio.timeout(clock.wait_s()):
                await asyncio.Event().wait()
        except TimeoutError:
            return clock.hit()
    assert asyncio.run(main()) == LimitHit(IDLE, 0.05)
