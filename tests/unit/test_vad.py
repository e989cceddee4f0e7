"""Endpointing rules, driven by a scripted voiced/unvoiced sequence (no audio needed)."""

from __future__ import annotations

import numpy as np

from voice.config import EndpointingDefaults
from voice.core.vad import FRAME_SAMPLES, Endpointer, SpeechEnd, SpeechStart


class ScriptedEndpointer(Endpointer):
    """The real state machine with webrtcvad replaced by a script of decisions."""

    def __init__(self, cfg, script: str):
        super().__init__(cfg)
        self._script = iter(script)

    def is_speech(self, frame) -> bool:
        return next(self._script) == "1"


def run(script: str, **cfg) -> list:
    ep = ScriptedEndpointer(EndpointingDefaults(**cfg), script)
    out = ep.push(np.zeros(len(script) * FRAME_SAMPLES, dtype=np.float32))
    return out + ep.finish()


def test_start_needs_consecutive_voiced_frames():
    # 60 ms = 3 frames; isolated voiced frames do not start speech
    assert run("0101010010" * 3, speech_start_ms=60) == []
    assert run("00111" + "0" * 40, speech_start_ms=60, trailing_silence_ms=200)[0] == SpeechStart(2)


def test_end_after_trailing_silence_at_last_voiced_frame():
    events = run("00" + "1" * 20 + "0" * 10 + "0" * 5, speech_start_ms=60, trailing_silence_ms=200)
    assert events == [SpeechStart(2), SpeechEnd(22)]


def test_short_pause_does_not_split():
    script = "1" * 10 + "0" * 5 + "1" * 10 + "0" * 12
    events = run(script, speech_start_ms=60, trailing_silence_ms=200)
    assert events == [SpeechStart(0), SpeechEnd(25)]


def test_two_utterances():
    script = "1" * 10 + "0" * 15 + "1" * 10 + "0" * 15
    events = run(script, speech_start_ms=60, trailing_silence_ms=200)
    assert events == [SpeechStart(0), SpeechEnd(10), SpeechStart(25), SpeechEnd(35)]


def test_max_utterance_cuts_and_continues():
    # 1 s max = 50 frames of continuous speech, 120 frames long
    events = run("1" * 120 + "0" * 20, max_utterance_seconds=1, trailing_silence_ms=200)
    assert events == [SpeechStart(0), SpeechEnd(50, forced=True), SpeechStart(50),
                      SpeechEnd(100, forced=True), SpeechStart(100), SpeechEnd(120)]


def test_finish_closes_open_utterance():
    events = run("1" * 30, trailing_silence_ms=600)
    assert events == [SpeechStart(0), SpeechEnd(30)]


def test_partial_frames_are_carried():
    ep = ScriptedEndpointer(EndpointingDefaults(speech_start_ms=20), "1" * 10)
    out = []
    for _ in range(10):  # 10 pushes of half a frame = 5 frames
        out += ep.push(np.zeros(FRAME_SAMPLES // 2, dtype=np.float32))
    assert ep.frames == 5 and out == [SpeechStart(0)]


def test_real_vad_on_silence_and_tone():
    ep = Endpointer(EndpointingDefaults(vad_aggressiveness=3))
    assert ep.push(np.zeros(16000, dtype=np.float32)) == []


def test_max_utterance_cuts_in_the_latest_pause():
    # 1 s max = 50 frames; a 4-frame pause at frames 35-38 is where the cut goes
    script = "1" * 35 + "0000" + "1" * 40 + "0" * 20
    events = run(script, max_utterance_seconds=1, trailing_silence_ms=200)
    assert events[:3] == [SpeechStart(0), SpeechEnd(37, forced=True), SpeechStart(37)]
    assert events[-1] == SpeechEnd(79)


def test_force_end():
    ep = ScriptedEndpointer(EndpointingDefaults(speech_start_ms=20), "1" * 10)
    assert ep.push(np.zeros(FRAME_SAMPLES * 10, np.float32)) == [SpeechStart(0)]
    assert ep.force_end() == [SpeechEnd(10)]
    assert ep.force_end() == [] and not ep.in_speech
