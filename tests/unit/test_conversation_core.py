"""The conversation's pure parts: the playout clock, the heard text, the barge-in rule, the
reference track and the echo gate."""

from __future__ import annotations

import numpy as np

from voice.core.conversation import BargeInDetector, EchoGate, PlayoutClock, ReferenceTrack, SpokenText


def test_playout_clock_plays_back_to_back_and_pauses_on_underrun():
    clock = PlayoutClock()
    assert clock.played_s(5.0) == 0.0 and not clock.started
    assert clock.send(1.0, now=10.0) == 10.0
    assert clock.send(1.0, now=10.2) == 11.0  # queued behind the first second
    assert clock.played_s(10.5) == 0.5 and abs(clock.buffered_s(10.5) - 1.5) < 1e-9
    assert clock.played_s(13.0) == 2.0 and clock.done(13.0)
    assert clock.send(0.5, now=14.0) == 14.0  # the supply was late: playback paused, resumes now
    assert clock.played_s(14.25) == 2.25
    clock.mark(1.0, now=14.25)  # the client says it is behind
    assert clock.played_s(14.5) == 1.25


def test_spoken_text_cuts_inside_the_sentence_being_played():
    spoken = SpokenText()
    spoken.add("Your card is blocked.", 0.0)
    spoken.extend(1.5)
    spoken.add("A new one is on its way to you.", 1.5)
    spoken.extend(1.0)  # only part of the second sentence handed out so far
    assert spoken.heard(0.0) == "" and spoken.heard(1.6) == "Your card is blocked."
    # the unfinished sentence's length is estimated at this reply's pace, not at what was handed out
    assert spoken.heard(2.5) == "Your card is blocked. A new one is"
    spoken.extend(1.2)
    spoken.complete = True
    assert spoken.heard(9.0) == "Your card is blocked. A new one is on its way to you."


def test_barge_in_needs_enough_caller_speech_that_is_not_echo():
    detector = BargeInDetector(min_speech_s=0.15)
    detector.speech_started(1.0)
    assert detector.check(1.1, replying=True, interruptible=True) is None  # too short
    assert detector.check(1.2, replying=True, interruptible=False) is None  # a legal notice
    for _ in range(10):
        detector.frame(echo=True)
    assert detector.check(1.2, replying=True, interruptible=True) is None  # the reply's echo
    for _ in range(12):
        detector.frame(echo=False)
    assert detector.check(1.25, replying=True, interruptible=True) == 1.0
    assert detector.onset is None  # reported once
    detector.speech_started(2.0)
    detector.speech_ended()
    assert detector.check(3.0, True, True) is None
    off = BargeInDetector(0.15, enabled=False)
    off.speech_started(0.0)
    assert off.check(1.0, True, True) is None


def test_reference_track_aligns_by_input_sample_and_forgets():
    track = ReferenceTrack()
    track.write(np.ones(100, np.float32), start=50)
    out = track.read(0, 80)
    assert out[:50].sum() == 0 and out[50:].sum() == 30
    out = track.read(80, 100)
    assert out[:70].sum() == 70 and out[70:].sum() == 0
    track.write(np.ones(10, np.float32), start=0)  # already past: dropped
    assert track.read(180, 10).sum() == 0


def test_echo_gate_tells_the_echo_from_a_caller():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal(16000).astype(np.float32) * 0.1
    delay = 1920  # 120 ms
    echo = np.concatenate([np.zeros(delay, np.float32), ref[:-delay]]) * 0.3
    caller = rng.standard_normal(16000).astype(np.float32) * 0.1
    gate, both = EchoGate(), EchoGate()
    echo_flags, both_flags = [], []
    for i in range(0, 16000, 320):
        echo_flags.append(gate.push(echo[i:i + 320], ref[i:i + 320]))
        both_flags.append(both.push(echo[i:i + 320] + caller[i:i + 320], ref[i:i + 320]))
    assert all(echo_flags[10:]) and not any(both_flags[10:])
    assert not EchoGate().push(caller[:320], np.zeros(320, np.float32))  # nothing playing
