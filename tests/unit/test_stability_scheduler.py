"""LocalAgreement and the decode scheduler: pure logic, no models."""

from __future__ import annotations

import asyncio
import threading

import pytest

from voice.core.stability import LocalAgreement
from voice.runtime.scheduler import DecodeScheduler, Priority


def test_local_agreement_commits_what_two_hypotheses_share():
    la = LocalAgreement()
    assert la.update(["please", "enter"]) == ([], ["please", "enter"])
    # "please enter" confirmed, but the newest two words are never committed
    assert la.update(["please", "enter", "your"]) == (["please"], ["enter", "your"])
    assert la.update(["please", "enter", "your", "agent"]) == (["please", "enter"], ["your", "agent"])
    assert la.update(["please", "enter", "your", "agent", "number"]) == (["please", "enter", "your"], ["agent", "number"])
    assert la.committed_text() == "please enter your"
    one = LocalAgreement(holdback=1)
    one.update(["a", "b"])
    assert one.update(["a", "b", "c"]) == (["a", "b"], ["c"])


def test_local_agreement_ignores_case_and_punctuation():
    la = LocalAgreement()
    la.update(["Logged", "on.", "Please", "enter"])
    committed, tail = la.update(["logged", "on", "please", "enter", "your"])
    assert committed == ["logged", "on", "please"] and tail == ["enter", "your"]


def test_committed_never_changes_even_when_contradicted():
    la = LocalAgreement()
    la.update(["the", "agent", "is", "already"])
    la.update(["the", "agent", "is", "already", "logged"])
    assert la.committed == ["the", "agent", "is"]
    committed, tail = la.update(["that", "agent", "is", "already", "logged"])
    assert committed == ["the", "agent", "is"]
    assert tail == ["already", "logged"]  # aligned after the last committed word
    for hyp in ["x y z", "the agent is already logged on", "the agent is already logged on now"]:
        before = list(la.committed)
        committed, _ = la.update(hyp.split())
        assert committed[: len(before)] == before


def test_local_agreement_reset():
    la = LocalAgreement()
    la.update(["a", "b", "c"])
    la.update(["a", "b", "c", "d"])
    assert la.committed == ["a", "b"]
    la.reset()
    assert la.committed == [] and la.update(["x"]) == ([], ["x"])


def run_async(coro):
    return asyncio.run(coro)


def test_scheduler_runs_finals_before_interims_and_drops_stale_interims():
    gate = threading.Event()
    order = []

    def job(name):
        if name == "block":
            gate.wait(10)
        order.append(name)
        return name

    async def scenario():
        s = DecodeScheduler(1)
        try:
            blocker = s.submit(Priority.FINAL, "a", job, "block")
            await asyncio.sleep(0.05)  # the worker is now busy
            i1 = s.submit(Priority.INTERIM, "a", job, "interim-a1")
            i2 = s.submit(Priority.INTERIM, "a", job, "interim-a2")  # replaces a1
            ib = s.submit(Priority.INTERIM, "b", job, "interim-b")
            f1 = s.submit(Priority.FINAL, "b", job, "final-b")
            f2 = s.submit(Priority.FINAL, "a", job, "final-a")
            assert s.waiting == 4 and s.waiting_finals == 2 and s.load == 5.0
            gate.set()
            results = await asyncio.gather(blocker, i1, i2, ib, f1, f2)
            return s, results
        finally:
            s.close()

    s, results = run_async(scenario())
    assert results == ["block", None, "interim-a2", "interim-b", "final-b", "final-a"]
    assert order == ["block", "final-b", "final-a", "interim-a2", "interim-b"]
    assert s.dropped_interims == 1 and s.completed == {Priority.FINAL: 3, Priority.INTERIM: 2}


def test_scheduler_forget_and_errors():
    gate = threading.Event()

    def block():
        gate.wait(10)

    def boom():
        raise ValueError("bad audio")

    async def scenario():
        s = DecodeScheduler(1)
        try:
            running = s.submit(Priority.FINAL, "x", block)
            await asyncio.sleep(0.05)
            gone = s.submit(Priority.FINAL, "gone", block)
            s.forget("gone")
            failing = s.submit(Priority.FINAL, "y", boom)
            gate.set()
            await running
            with pytest.raises(ValueError, match="bad audio"):
                await failing
            assert gone.cancelled()
        finally:
            s.close()

    run_async(scenario())
