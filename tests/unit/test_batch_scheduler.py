"""Cross-stream batching without models: the scheduler groups waiting jobs of one batch key
(finals first, bounded batches, per-item errors), and what goes into a batch key."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace

from voice.core.transcripts import DecodeOptions
from voice.engines.batching import batch_key
from voice.runtime.scheduler import DecodeScheduler, Priority

# -- scheduler (fake work) --------------------------------------------------------------

class Recorder:
    """A blocking job function and its batch form; the first call waits for ``gate``."""

    def __init__(self):
        self.gate = threading.Event()
        self.calls: list[list] = []

    def one(self, x):
        self.gate.wait(10)
        self.calls.append([x])
        if x == "bad":
            raise ValueError("bad item")
        return x.upper()

    def many(self, items):
        self.calls.append([args[0] for args in items])
        return [ValueError("bad item") if x == "bad" else x.upper() for (x,) in items]


def run_jobs(sched: DecodeScheduler, rec: Recorder, jobs):
    """Submit a blocker, then ``jobs`` [(priority, stream, arg, key)] while it runs."""

    async def main():
        blocker = sched.submit(Priority.FINAL, "blocker", rec.one, "first", batch=rec.many, key="other")
        await asyncio.sleep(0.05)  # the worker is now busy with the blocker
        futures = [sched.submit(p, s, rec.one, x, batch=rec.many, key=k) for p, s, x, k in jobs]
        rec.gate.set()
        await blocker
        return await asyncio.gather(*futures, return_exceptions=True)

    return asyncio.run(main())


def test_scheduler_batches_waiting_jobs_of_one_key_finals_first():
    sched = DecodeScheduler(1, max_batch=3)
    rec = Recorder()
    try:
        out = run_jobs(sched, rec, [(Priority.INTERIM, 1, "i1", "k"), (Priority.FINAL, 2, "f2", "k"), (Priority.FINAL, 3, "f3", "k"),
                                    (Priority.FINAL, 4, "f4", "k"), (Priority.FINAL, 5, "x5", "k2")])
    finally:
        sched.close()
    assert out == ["I1", "F2", "F3", "F4", "X5"]
    assert rec.calls[0] == ["first"]
    # finals first, at most 3 per batch, never mixing keys; the interim runs last with its key
    assert rec.calls[1:] == [["f2", "f3", "f4"], ["x5"], ["i1"]]
    assert sched.batches == 1 and sched.batched_jobs == 3
    assert sched.completed == {Priority.FINAL: 5, Priority.INTERIM: 1}


def test_scheduler_batch_item_error_fails_only_that_job():
    sched = DecodeScheduler(1, max_batch=4)
    rec = Recorder()
    try:
        out = run_jobs(sched, rec, [(Priority.FINAL, 1, "a", "k"), (Priority.FINAL, 2, "bad", "k"), (Priority.FINAL, 3, "c", "k")])
    finally:
        sched.close()
    assert out[0] == "A" and out[2] == "C"
    assert isinstance(out[1], ValueError)


def test_scheduler_without_batching_runs_jobs_one_by_one():
    sched = DecodeScheduler(1, max_batch=1)
    rec = Recorder()
    try:
        out = run_jobs(sched, rec, [(Priority.FINAL, 1, "a", "k"), (Priority.FINAL, 2, "b", "k")])
    finally:
        sched.close()
    assert out == ["A", "B"]
    assert rec.calls == [["first"], ["a"], ["b"]] and sched.batches == 0


def test_scheduler_close_waits_for_the_running_job():
    """No worker may still be inside a model once close() returns (exit-time crashes)."""
    sched = DecodeScheduler(2)
    started, finished = threading.Event(), threading.Event()

    def job():
        started.set()
        time.sleep(0.3)
        finished.set()

    async def main():
        sched.submit(Priority.FINAL, 1, job)
        while not started.is_set():
            await asyncio.sleep(0.01)

    asyncio.run(main())
    sched.close()
    assert finished.is_set()


def test_batch_key_separates_search_settings_and_hints():
    base = DecodeOptions(language="en", beam_size=5)
    assert batch_key("base", base) == batch_key("base", replace(base, language="fr", prefix="Bonjour"))
    assert batch_key("base", base) != batch_key("base", replace(base, interim=True))
    assert batch_key("base", base) != batch_key("base", replace(base, hints=("pound key",)))
    assert batch_key("base", base) != batch_key("tiny.en", base)
