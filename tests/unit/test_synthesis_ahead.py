"""Concurrent clause synthesis: a job renders its next pieces on the renderer's other sessions
(voice.core.synthesis look-ahead over voice.engines.sessions.SessionPool) and must still hand
audio out in order, render its first piece alone, never queue the piece it needs behind
look-ahead, and cancel cleanly. A fake renderer with the real session pool, no models."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from voice.core.planning import Piece, plan_pieces
from voice.core.synthesis import SynthesisJob, SynthesisOptions
from voice.engines.sessions import SessionPool, session_threads

RATE = 16000
TEXT = ("Welcome to the Wyoming protocol benchmark. We measure latency, streaming behavior, and throughput. "
        "Each sample is between one and four sentences long. Results help us choose the best engine for real-time use.")


def _audio(text: str) -> np.ndarray:
    """Deterministic audio of ``text``: 20 ms a character, a level and pitch of its own."""
    n = int(0.02 * RATE) * len(text)
    level = 0.1 + (sum(map(ord, text)) % 50) / 100
    return (level * np.sin(np.arange(n) * (0.05 + len(text) % 7 / 50))).astype(np.float32)


class Sequential:
    """The same voice without look-ahead (no ``prefetch``): the reference output."""

    def __init__(self):
        self.info = SimpleNamespace(sample_rate=RATE, name="fake", language="en-US")

    def render(self, text, rate=1.0, speaker_id=None, deterministic=False):
        return _audio(text)


class AheadVoice(Sequential):
    """Like VoicePool: ``size`` sessions in a SessionPool, ``render(..., urgent=)`` and ``prefetch``.

    ``delay(text)`` seconds a render; ``gate`` (when set) holds renders of texts it names until
    released. Records each render's start (text, urgent, renders running then) and end."""

    def __init__(self, size=2, delay=lambda text: 0.0):
        super().__init__()
        self.size = size
        self.sessions = SessionPool(object, size, name="fake")
        self.delay = delay
        self.gates: dict[str, threading.Event] = {}
        self.started: list[tuple[str, bool, int]] = []
        self.finished: list[str] = []
        self.running = 0
        self.max_running = 0
        self._lock = threading.Lock()

    def render(self, text, rate=1.0, speaker_id=None, deterministic=False, *, urgent=True):
        with self.sessions.session(urgent=urgent):
            with self._lock:
                self.running += 1
                self.max_running = max(self.max_running, self.running)
                self.started.append((text, urgent, self.running))
            try:
                gate = self.gates.get(text)
                if gate is not None:
                    assert gate.wait(10), f"gate of {text!r} never opened"
                time.sleep(self.delay(text))
                return _audio(text)
            finally:
                with self._lock:
                    self.running -= 1
                    self.finished.append(text)

    def prefetch(self, text, rate=1.0, speaker_id=None, deterministic=False):
        return self.sessions.submit(self.render, text, rate, speaker_id, deterministic, urgent=False)


def _chunks(job: SynthesisJob):
    return list(job.run())


def _same_output(pieces, voice, options=SynthesisOptions(sample_rate=8000, chunk_ms=20)):
    ours = _chunks(SynthesisJob(voice, pieces, options))
    reference = _chunks(SynthesisJob(Sequential(), pieces, options))
    assert b"".join(c.audio for c in ours) == b"".join(c.audio for c in reference)
    assert [(c.sentence_index, c.text, c.samples) for c in ours] == \
        [(c.sentence_index, c.text, c.samples) for c in reference]


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def test_later_pieces_render_concurrently_and_audio_comes_out_in_order():
    pieces = plan_pieces(TEXT, "en")
    assert len(pieces) == 4
    # later pieces finish first: only the job's ordering keeps the audio right
    order = {p.text: i for i, p in enumerate(pieces)}
    voice = AheadVoice(size=2, delay=lambda text: 0.08 - 0.02 * order[text])
    _same_output(pieces, voice)
    assert voice.max_running == 2 and voice.sessions.in_use == 0 and voice.sessions.created == 2
    assert sorted(t for t, _, _ in voice.started) == sorted(order)  # each piece rendered once


def test_the_first_piece_renders_alone_then_the_look_ahead_starts():
    pieces = plan_pieces(TEXT, "en")
    voice = AheadVoice(size=3, delay=lambda text: 0.02)
    job = SynthesisJob(voice, pieces, SynthesisOptions())
    assert job.step()
    # the first piece was urgent and had the cores to itself; the next two (size - 1) follow it
    assert voice.started[0] == (pieces[0].text, True, 1)
    _wait(lambda: len(voice.started) == 3)
    assert {t for t, urgent, _ in voice.started[1:]} == {pieces[1].text, pieces[2].text}
    assert not any(urgent for _, urgent, _ in voice.started[1:])
    while job.step() is not None:
        pass
    assert voice.sessions.in_use == 0


def test_a_needed_piece_is_rendered_at_once_when_its_prefetch_has_not_started():
    """All look-ahead threads busy (other requests): the piece a step needs does not queue."""
    pieces = plan_pieces(TEXT, "en")
    voice = AheadVoice(size=2)
    release = threading.Event()
    blockers = [voice.sessions.submit(release.wait, 10) for _ in range(voice.size)]
    try:
        _same_output(pieces, voice)
        assert all(urgent for _, urgent, _ in voice.started)  # every prefetch was taken back
    finally:
        release.set()
        for b in blockers:
            b.result(10)


def test_cancel_drops_what_waits_and_the_next_step_waits_for_what_renders():
    pieces = plan_pieces(" ".join([TEXT] * 3), "en")
    voice = AheadVoice(size=2)
    voice.gates[pieces[1].text] = threading.Event()
    job = SynthesisJob(voice, pieces, SynthesisOptions())
    assert job.step()  # piece 0; piece 1 is prefetched, held at its gate
    _wait(lambda: voice.running == 1)
    t0 = time.monotonic()
    job.cancel()  # never blocks
    assert time.monotonic() - t0 < 0.5 and job.done and job.stats.cancelled
    threading.Timer(0.05, voice.gates[pieces[1].text].set).start()
    assert job.step() is None  # waits for the prefetch in flight: its session is back
    assert voice.sessions.in_use == 0 and voice.running == 0
    assert [t for t, _, _ in voice.started] == [pieces[0].text, pieces[1].text]
    assert job.stats.pieces_done == 1 < job.stats.pieces_total
    assert job.step() is None


def test_a_failed_prefetch_fails_its_own_step():
    pieces = plan_pieces(TEXT, "en")
    voice = AheadVoice(size=2)

    def delay(text):
        if text == pieces[2].text:
            raise RuntimeError("model failed")
        return 0.0

    voice.delay = delay
    job = SynthesisJob(voice, pieces, SynthesisOptions())
    assert job.step() and job.step()
    with pytest.raises(RuntimeError, match="model failed"):
        job.step()


def test_open_input_pieces_are_rendered_ahead_as_they_arrive():
    voice = AheadVoice(size=2, delay=lambda text: 0.01)
    job = SynthesisJob(voice, [], SynthesisOptions(), open_input=True)
    pieces = plan_pieces(TEXT, "en", final=False)
    job.extend(pieces[:1])
    out = list(job.step())
    job.extend(pieces[1:3])  # the first piece is out: these start at once, before any step
    _wait(lambda: len(voice.started) == 2)
    assert not voice.started[1][1]
    while job.ready:
        out += job.step()
    job.extend(pieces[3:])
    job.end_input()
    while (chunks := job.step()) is not None:
        out += chunks
    reference = _chunks(SynthesisJob(Sequential(), pieces, SynthesisOptions()))
    assert b"".join(c.audio for c in out) == b"".join(c.audio for c in reference)


def test_silence_pieces_and_a_renderer_of_one_session():
    pieces = [Piece("", 1.0, 0, "", 0.3, False), *plan_pieces(TEXT, "en")]
    _same_output(pieces, AheadVoice(size=2))
    one = AheadVoice(size=1)
    _same_output(pieces, one)
    assert all(urgent for _, urgent, _ in one.started)  # nothing to look ahead with


def test_an_urgent_taker_gets_the_next_free_session_before_an_ahead_one():
    pool = SessionPool(object, 1)
    got: list[str] = []

    def take(name, urgent):
        with pool.session(urgent=urgent):
            got.append(name)

    with pool.session():
        ahead = threading.Thread(target=take, args=("ahead", False))
        ahead.start()
        _wait(lambda: pool.waiting == 1)
        urgent = threading.Thread(target=take, args=("urgent", True))
        urgent.start()
        _wait(lambda: pool.waiting == 2)
    ahead.join(10)
    urgent.join(10)
    assert got == ["urgent", "ahead"] and pool.in_use == 0 and pool.created == 1


def test_a_session_that_fails_to_open_is_not_counted():
    calls = []

    def open_session():
        calls.append(1)
        if len(calls) == 1:
            raise OSError("no model")
        return object()

    pool = SessionPool(open_session, 2)
    with pytest.raises(OSError):
        with pool.session():
            pass
    assert pool.created == 0 and pool.in_use == 0
    with pool.session() as s:
        assert s is not None and pool.created == 1


@pytest.mark.parametrize("threads, size, cores, expected", [(0, 2, 2, 1), (0, 4, 16, 4), (0, 4, 2, 1), (3, 2, 2, 3)])
def test_session_threads_share_the_cores(threads, size, cores, expected):
    assert session_threads(threads, size, cores) == expected
