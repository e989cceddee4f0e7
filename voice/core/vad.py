"""webrtcvad endpointing: cuts a 16 kHz float32 stream into utterances.

:class:`Endpointer` is pure logic over 20 ms frames (no I/O, no models): feed it audio with
:meth:`Endpointer.push`, get :class:`SpeechStart` / :class:`SpeechEnd` boundaries back, in
frame units of the stream. Rules:

* speech starts after ``speech_start_ms`` of consecutive voiced frames; the start is
  placed at the first of them;
* speech ends after ``trailing_silence_ms`` of consecutive unvoiced frames; the end is placed
  after the last voiced frame;
* an utterance reaching ``max_utterance_seconds`` is cut (``forced=True``) in the middle of
  the latest pause (unvoiced frames) in its second half, or at the limit if it has none;
  the speech continues as a new utterance from the cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import webrtcvad

import kernels

from ..config import EndpointingDefaults
from .audio import SAMPLE_RATE

FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
SILENT_PEAK = 64  # int16 peak (-54 dBFS) below which a frame is silence, whatever webrtcvad says


@dataclass(frozen=True)
class SpeechStart:
    frame: int  # index of the first voiced frame


@dataclass(frozen=True)
class SpeechEnd:
    frame: int  # index one past the last frame of the utterance
    forced: bool = False  # cut by max_utterance_seconds, speech goes on


Boundary = SpeechStart | SpeechEnd


class Endpointer:
    def __init__(self, cfg: EndpointingDefaults):
        cfg.validate()
        self._vad = webrtcvad.Vad(cfg.vad_aggressiveness)
        self._start_frames = max(1, -(-cfg.speech_start_ms // FRAME_MS))
        self._end_frames = max(1, -(-cfg.trailing_silence_ms // FRAME_MS))
        self._max_frames = int(cfg.max_utterance_seconds * 1000 // FRAME_MS)
        self._pending = np.zeros(0, dtype=np.float32)  # < 1 frame of leftover audio
        self.frames = 0  # frames classified so far
        self.in_speech = False
        self._voiced_run = 0
        self._silence_run = 0
        self._utt_start = 0
        self._last_voiced_end = 0
        self._voiced: list[bool] = []  # decisions since _utt_start

    @property
    def silence_run(self) -> int:
        """Consecutive unvoiced frames at the end of the open utterance."""
        return self._silence_run

    @property
    def last_voiced_end(self) -> int:
        return self._last_voiced_end

    def is_speech(self, frame: np.ndarray) -> bool:
        """webrtcvad's decision on one int16 frame of FRAME_SAMPLES; a frame quieter than
        :data:`SILENT_PEAK` is silence. (webrtcvad repeats its last decision for frames below
        its energy floor: digital silence right after speech stayed "speech" for seconds and
        joined the next answer into the same utterance.)"""
        if int(np.abs(frame).max()) < SILENT_PEAK:
            return False
        return self._vad.is_speech(frame.tobytes(), SAMPLE_RATE)

    def push(self, audio: np.ndarray, frames: np.ndarray | None = None) -> list[Boundary]:
        """Classify every complete 20 ms frame of ``audio`` (float32, 16 kHz).

        ``frames``: the same audio's complete frames already as int16, shape (n, 320), from
        a fused front end (:class:`kernels.TelephonyFrontEnd`); then ``audio`` is not framed.
        """
        if frames is None:
            if self._pending.size:
                audio = np.concatenate([self._pending, audio])
            n = audio.size // FRAME_SAMPLES
            self._pending = audio[n * FRAME_SAMPLES:].copy()
            frames = kernels.float32_to_int16(audio[: n * FRAME_SAMPLES]).reshape(n, FRAME_SAMPLES)
        out: list[Boundary] = []
        for frame in frames:
            self._step(self.is_speech(frame), out)
        return out

    def _step(self, voiced: bool, out: list[Boundary]) -> None:
        frame = self.frames
        self.frames += 1
        if not self.in_speech:
            self._voiced_run = self._voiced_run + 1 if voiced else 0
            if self._voiced_run >= self._start_frames:
                self.in_speech = True
                self._utt_start = frame - self._voiced_run + 1
                self._last_voiced_end = frame + 1
                self._silence_run = 0
                self._voiced = [True] * self._voiced_run
                out.append(SpeechStart(self._utt_start))
            return
        self._voiced.append(voiced)
        if voiced:
            self._silence_run = 0
            self._last_voiced_end = frame + 1
        else:
            self._silence_run += 1
            if self._silence_run >= self._end_frames:
                self._close(self._last_voiced_end, out)
                return
        if self.frames - self._utt_start >= self._max_frames:
            cut = self._pause_cut()
            out.append(SpeechEnd(cut, forced=True))
            self._voiced = self._voiced[cut - self._utt_start:]
            self._utt_start = cut
            out.append(SpeechStart(cut))

    def _pause_cut(self) -> int:
        """Frame to cut a too-long utterance at: mid-point of its latest pause in the second half."""
        half = len(self._voiced) // 2
        j = len(self._voiced) - 1
        while j >= half and self._voiced[j]:
            j -= 1
        if j < half:
            return self.frames
        end = j + 1
        while j >= half and not self._voiced[j]:
            j -= 1
        return self._utt_start + (j + 1 + end) // 2

    def force_end(self, at_last_voice: bool = False) -> list[Boundary]:
        """Close the open utterance now (client-forced end of utterance); with
        ``at_last_voice``, where its speech ended (as the silence rule would have)."""
        out: list[Boundary] = []
        if self.in_speech:
            self._close(self._last_voiced_end if at_last_voice else self.frames, out)
        return out

    def _close(self, end: int, out: list[Boundary]) -> None:
        out.append(SpeechEnd(end))
        self.in_speech = False
        self._voiced_run = 0
        self._silence_run = 0

    def finish(self) -> list[Boundary]:
        """End of stream: close an open utterance at the last voiced frame."""
        out: list[Boundary] = []
        if self.in_speech:
            self._close(max(self._last_voiced_end, self._utt_start + 1), out)
        return out
