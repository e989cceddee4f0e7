"""One inference queue for all streams: finals first, stale interims dropped.

Sessions submit decode jobs; a fixed number of worker threads (the CPU thread budget, or one
per GPU batch slot) runs them in priority order: finals (never dropped) before interims.
A stream has at most one interim waiting: a newer one replaces it and the old one resolves
to ``None`` (counted in ``dropped_interims``). Results come back as asyncio futures on the
submitting loop. ``load`` (waiting jobs per worker) lets sessions adapt their interim cadence.

Batching (``max_batch`` > 1, e.g. on CUDA): a job submitted with ``batch=`` and ``key=`` may
run together with other waiting jobs of the same key, in priority order (a final never waits
for a batch to fill: a worker takes what is waiting when it becomes free). ``batch`` gets the
jobs' argument tuples and returns one result per job; a result that is an ``Exception`` fails
only its own job.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..core.telemetry import NO_TELEMETRY, Telemetry

_LOGGER = logging.getLogger(__name__)



class Priority(enum.IntEnum):
    """Lower runs first."""

    FINAL = 0  # never dropped
    INTERIM = 1  # a stream's newer interim replaces its waiting one




@dataclass(order=True)
class _Job:
    priority: Priority
    seq: int
    stream: Any = field(compare=False)
    fn: Callable = field(compare=False)
    args: tuple = field(compare=False)
    future: asyncio.Future = field(compare=False)
    loop: asyncio.AbstractEventLoop = field(compare=False)
    cancelled: bool = field(default=False, compare=False)
    batch: Callable | None = field(default=None, compare=False)
    key: Any = field(default=None, compare=False)
    audio_s: float = field(default=0.0, compare=False)  # audio the job decodes (real-time factor)
    submitted: float = field(default_factory=time.monotonic, compare=False)


class DecodeScheduler:
    def __init__(self, workers: int, name: str = "asr", max_batch: int = 1):
        self._heap: list[_Job] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._interims: dict[Any, _Job] = {}
        self._closed = False
        self.dropped_interims = 0
        self.completed = {Priority.FINAL: 0, Priority.INTERIM: 0}
        self.busy = 0
        self.workers = workers
        self.max_batch = max(1, max_batch)
        self.batches = 0  # batched runs (of 2 or more jobs)
        self.batched_jobs = 0  # jobs that ran in them
        self.telemetry: Telemetry = NO_TELEMETRY  # queue wait and run time of every job
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(workers)]
        for t in self._threads:
            t.start()

    # -- submitting (event loop side) -------------------------------------------------
    def submit(self, priority: Priority, stream: Any, fn: Callable, *args, batch: Callable | None = None,
               key: Any = None, audio_s: float = 0.0) -> asyncio.Future:
        """Queue ``fn(*args)``; with ``batch``, it may instead run as ``batch([args, ...])[i]``
        together with waiting jobs of the same ``key``. ``audio_s``: the audio it decodes
        (for the telemetry's real-time factor)."""
        loop = asyncio.get_running_loop()
        job = _Job(priority, next(self._seq), stream, fn, args, loop.create_future(), loop, batch=batch, key=key,
                   audio_s=audio_s)
        with self._cond:
            if self._closed:
                raise RuntimeError("scheduler is closed")
            if priority == Priority.INTERIM:
                old = self._interims.get(stream)
                if old is not None and not old.cancelled:
                    old.cancelled = True
                    self.dropped_interims += 1
                    loop.call_soon(_resolve, old.future, None, None)
                self._interims[stream] = job
            heapq.heappush(self._heap, job)
            self._cond.notify()
        return job.future

    def cancel(self, future: asyncio.Future) -> None:
        """Withdraw a job that has not started (a running one finishes; its result is ignored)."""
        with self._cond:
            for job in self._heap:
                if job.future is future and not job.cancelled:
                    job.cancelled = True
                    job.loop.call_soon_threadsafe(job.future.cancel)

    def forget(self, stream: Any) -> None:
        """Drop a departed stream's waiting jobs (its futures are cancelled)."""
        with self._cond:
            for job in self._heap:
                if job.stream == stream and not job.cancelled:
                    job.cancelled = True
                    job.loop.call_soon_threadsafe(job.future.cancel)
            self._interims.pop(stream, None)

    @property
    def waiting(self) -> int:
        with self._cond:
            return sum(1 for j in self._heap if not j.cancelled)

    @property
    def waiting_finals(self) -> int:
        with self._cond:
            return sum(1 for j in self._heap if not j.cancelled and j.priority == Priority.FINAL)

    @property
    def load(self) -> float:
        """Jobs running or waiting, per worker (1.0 = every worker busy, nothing queued)."""
        return (self.busy + self.waiting) / self.workers

    # -- workers ------------------------------------------------------------------------
    def _take(self, job: _Job) -> None:
        """Bookkeeping for a job leaving the heap to run (lock held)."""
        if job.priority == Priority.INTERIM and self._interims.get(job.stream) is job:
            del self._interims[job.stream]

    def _companions(self, job: _Job) -> list[_Job]:
        """Waiting jobs that can join ``job``'s batch, best first (lock held)."""
        if job.batch is None or self.max_batch < 2:
            return []
        same = sorted(j for j in self._heap if not j.cancelled and j.batch is not None and j.key == job.key)
        chosen = same[: self.max_batch - 1]
        if chosen:
            ids = {id(j) for j in chosen}
            self._heap = [j for j in self._heap if id(j) not in ids]
            heapq.heapify(self._heap)
        return chosen

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._closed and not self._heap:
                    self._cond.wait()
                if self._closed:
                    return
                job = heapq.heappop(self._heap)
                if job.cancelled:
                    continue
                group = [job, *self._companions(job)]
                for j in group:
                    self._take(j)
                self.busy += 1
            started = time.monotonic()
            if len(group) == 1:
                try:
                    outcomes = [(job.fn(*job.args), None)]
                except BaseException as exc:  # delivered to the awaiting coroutine
                    outcomes = [(None, exc)]
            else:
                try:
                    results = job.batch([j.args for j in group])
                    outcomes = [(None, r) if isinstance(r, BaseException) else (r, None) for r in results]
                except BaseException as exc:
                    outcomes = [(None, exc)] * len(group)
            with self._cond:
                self.busy -= 1
                for j in group:
                    self.completed[j.priority] += 1
                if len(group) > 1:
                    self.batches += 1
                    self.batched_jobs += len(group)
            ran = time.monotonic() - started
            for j in group:
                self.telemetry.decoded(j.priority.name.lower(), j.audio_s, started - j.submitted, ran)
            for j, (result, error) in zip(group, outcomes):
                with contextlib.suppress(RuntimeError):  # the submitter's loop is gone: nobody waits
                    j.loop.call_soon_threadsafe(_resolve, j.future, result, error)

    def close(self, timeout: float = 60.0) -> None:
        """Cancel waiting jobs and wait (up to ``timeout``) for running ones to finish, so no
        worker is inside a model when the caller frees it (or the interpreter exits)."""
        with self._cond:
            self._closed = True
            for job in self._heap:
                job.loop.call_soon_threadsafe(job.future.cancel)
            self._heap.clear()
            self._cond.notify_all()
        current = threading.current_thread()
        for t in self._threads:
            if t is not current:
                t.join(timeout)


def _resolve(future: asyncio.Future, result, error) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
