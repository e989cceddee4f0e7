"""The conversation's clock and turn logic, no I/O: what has played, what the caller heard,
and when the caller's speech interrupts the reply.

Time is the **input stream's** time (seconds of caller audio received): a caller's device or
phone line delivers audio in real time, so its sample count is the call's clock. That keeps
the logic exact in tests that send faster than real time, and needs no wall clock.

* :class:`PlayoutClock`: reply audio handed out vs played. Audio plays in real time from when
  it is handed out, back to back; a gap in the supply (the synthesizer was late) pauses
  playback. A client's playback mark overrides the estimate.
* :class:`SpokenText`: the reply's sentences on the playout timeline, so a cut at ``t``
  gives the words the caller heard (whole sentences, then the share of the current one).
* :class:`BargeInDetector`: caller speech that lasts ``min_speech_s`` while an interruptible
  reply plays is a barge-in; shorter noises are not.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np


class TurnState(str, enum.Enum):
    LISTENING = "listening"  # no reply playing
    REPLYING = "replying"  # reply audio is being handed out or still playing


class PlayoutClock:
    """When the audio handed out plays, in input-stream seconds."""

    def __init__(self) -> None:
        self.sent_s = 0.0  # reply audio handed out so far
        self._play_end = None  # stream time when all of it will have played
        self._mark: tuple[float, float] | None = None  # (stream time, played) from the client

    @property
    def started(self) -> bool:
        return self._play_end is not None

    def send(self, seconds: float, now: float) -> float:
        """``seconds`` of audio handed out at stream time ``now``; returns when it starts playing."""
        start = now if self._play_end is None else max(self._play_end, now)
        self._play_end = start + seconds
        self.sent_s += seconds
        return start

    def mark(self, played_s: float, now: float) -> None:
        """The client says it has played ``played_s`` (at stream time ``now``)."""
        self._mark = (now, min(max(0.0, played_s), self.sent_s))

    def played_s(self, now: float) -> float:
        if self._play_end is None:
            return 0.0
        estimate = max(0.0, self.sent_s - max(0.0, self._play_end - now))
        if self._mark is not None:
            at, played = self._mark
            return min(self.sent_s, played + max(0.0, now - at))
        return estimate

    def buffered_s(self, now: float) -> float:
        """Audio handed out that has not played yet."""
        return self.sent_s - self.played_s(now)

    def done(self, now: float) -> bool:
        return self.started and self.buffered_s(now) <= 1e-9


@dataclass
class _Sentence:
    start: float  # reply seconds
    text: str
    end: float | None = None


@dataclass
class SpokenText:
    """The reply's sentences by where they start in its audio.

    A sentence's end is known once the next one starts (or the reply is complete); for the one
    still being handed out, its length is estimated from its characters at this reply's pace
    so far (or a typical voice's), since only part of its audio may have been handed out.
    """

    _sentences: list[_Sentence] = field(default_factory=list)
    total_s: float = 0.0
    complete: bool = False  # all of the reply's audio has been handed out
    TYPICAL_S_PER_CHAR = 0.065

    def add(self, text: str, at_s: float) -> None:
        """A sentence whose audio starts ``at_s`` seconds into the reply."""
        if self._sentences and self._sentences[-1].end is None:
            self._sentences[-1].end = at_s
        self._sentences.append(_Sentence(at_s, " ".join(text.split())))

    def extend(self, seconds: float) -> None:
        self.total_s += seconds

    def _pace(self) -> float:
        done = [s for s in self._sentences if s.end is not None and s.text]
        chars = sum(len(s.text) for s in done)
        return sum(s.end - s.start for s in done) / chars if chars else self.TYPICAL_S_PER_CHAR

    def heard(self, played_s: float) -> str:
        """The words a caller heard when the reply was cut after ``played_s`` seconds."""
        out = []
        for s in self._sentences:
            if played_s <= s.start:
                break
            if s.end is not None:
                end = s.end
            elif self.complete:
                end = self.total_s
            else:
                end = max(self.total_s, s.start + len(s.text) * self._pace())
            if played_s >= end:
                out.append(s.text)
                continue
            words = s.text.split()
            share = (played_s - s.start) / max(end - s.start, 1e-6)
            out.extend(words[: int(len(words) * share)])
            break
        return " ".join(out)


class BargeInDetector:
    """Decides when caller speech over a playing reply is a barge-in (stream seconds).

    Speech must last ``min_speech_s``, and most of its frames must not be the reply's own
    echo (:class:`EchoGate`), so a loud echo the canceller has not yet learnt never cuts the
    reply, while a caller talking over it does.
    """

    def __init__(self, min_speech_s: float, enabled: bool = True, caller_share: float = 0.5):
        self.min_speech_s = min_speech_s
        self.enabled = enabled
        self.caller_share = caller_share
        self._onset: float | None = None
        self._frames = 0
        self._echo_frames = 0

    @property
    def onset(self) -> float | None:
        return self._onset

    def speech_started(self, time: float) -> None:
        self._onset = time
        self._frames = self._echo_frames = 0

    def speech_ended(self) -> None:
        self._onset = None

    def frame(self, echo: bool) -> None:
        """One input frame heard since the onset; ``echo``: the gate called it the reply's echo."""
        if self._onset is not None:
            self._frames += 1
            self._echo_frames += echo

    def check(self, now: float, replying: bool, interruptible: bool) -> float | None:
        """The onset of the speech that interrupts the reply now, or None."""
        if not (self.enabled and replying and interruptible) or self._onset is None:
            return None
        if now - self._onset < self.min_speech_s:
            return None
        if self._frames and (self._frames - self._echo_frames) / self._frames < self.caller_share:
            return None  # so far mostly the reply's echo
        onset, self._onset = self._onset, None
        return onset


class ReferenceTrack:
    """The reply audio as it plays, addressed by input-stream sample, so the echo canceller
    gets exactly what was playing while each input sample was captured (zeros elsewhere).
    Memory is bounded by what is still to be read: older samples are dropped on read."""

    def __init__(self) -> None:
        self._buf = np.zeros(0, np.float32)
        self._base = 0  # input-stream sample of _buf[0]

    def write(self, audio: np.ndarray, start: int) -> None:
        """``audio`` plays from input-stream sample ``start`` on."""
        if audio.size == 0:
            return
        if start < self._base:  # the part that should already have played is gone
            audio = audio[self._base - start:]
            start = self._base
        end = start + audio.size
        if end - self._base > self._buf.size:
            grown = np.zeros(end - self._base, np.float32)
            grown[: self._buf.size] = self._buf
            self._buf = grown
        self._buf[start - self._base:end - self._base] = audio

    def read(self, start: int, n: int) -> np.ndarray:
        """The reference for input samples ``start`` .. ``start + n``; forgets what is before."""
        out = np.zeros(n, np.float32)
        lo, hi = max(start, self._base), min(start + n, self._base + self._buf.size)
        if hi > lo:
            out[lo - start:hi - start] = self._buf[lo - self._base:hi - self._base]
        drop = min(max(0, start + n - self._base), self._buf.size)
        if drop:
            self._buf = self._buf[drop:]
            self._base += drop
        return out

    def clear(self) -> None:
        """Nothing more will play (the reply was cut)."""
        self._buf = np.zeros(0, np.float32)


class EchoGate:
    """Is what the caller's channel carries right now just the reply coming back?

    The echo canceller removes most of the reply's echo, but it needs a moment to converge and
    never removes all of it. The gate looks at the raw input: when, over the last
    ``window_s``, it correlates strongly (normalised cross-correlation >= ``threshold``) with
    the reference at some delay up to ``max_delay_s``, the input is the reply's echo; a caller
    talking over it breaks the correlation within a few tens of milliseconds.
    """

    def __init__(self, sample_rate: int = 16000, window_s: float = 0.1, max_delay_s: float = 0.3,
                 threshold: float = 0.5):
        self._w = int(window_s * sample_rate)
        self._d = int(max_delay_s * sample_rate)
        self._mic = np.zeros(self._w, np.float32)
        self._ref = np.zeros(self._w + self._d, np.float32)
        self._n = 1 << int(np.ceil(np.log2(self._w + self._ref.size)))
        self.threshold = threshold
        self.last = 0.0  # the latest correlation found

    def push(self, mic: np.ndarray, ref: np.ndarray) -> bool:
        """Feed equal-length ``mic`` / ``ref`` chunks; True when the latest window is echo."""
        self._mic = np.concatenate([self._mic, mic])[-self._w:]
        self._ref = np.concatenate([self._ref, ref])[-(self._w + self._d):]
        mic_energy = float(np.dot(self._mic, self._mic))
        if mic_energy < 1e-7 or float(np.dot(self._ref, self._ref)) < 1e-7:
            self.last = 0.0
            return False
        # c[k] = sum_t mic[t] * ref[t + k]: ref[k:k+w] is the reference heard with delay d - k
        spectrum = np.fft.rfft(self._mic, self._n).conj() * np.fft.rfft(self._ref, self._n)
        corr = np.fft.irfft(spectrum, self._n)[: self._d + 1]
        squares = np.concatenate([[0.0], np.cumsum(self._ref.astype(np.float64) ** 2)])
        energy = squares[self._w:self._w + self._d + 1] - squares[: self._d + 1]
        ncc = np.abs(corr) / np.sqrt(mic_energy * np.maximum(energy, 1e-12))
        self.last = float(ncc.max())
        return self.last >= self.threshold
