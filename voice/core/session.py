"""The streaming recognition core: one object per stream, no I/O, no models.

Feed raw audio chunks with :meth:`RecognitionSession.push` and take events back; call
:meth:`RecognitionSession.finish` at the end of the stream. The driver (gRPC servicer, CLI,
tests) decodes :class:`Utterance` and :class:`InterimRequest` events with the engine and
turns the transcripts into results. Memory is bounded: outside speech only the pre-roll is
kept, inside it at most ``max_utterance_seconds`` plus pre-roll.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..config import EndpointingDefaults
from .audio import SAMPLE_RATE, AudioDecoder, Decoded, Encoding
from .vad import FRAME_SAMPLES, Endpointer, SpeechEnd, SpeechStart

# trailing audio kept after the end of speech (lets Whisper hear the last phoneme decay)
TAIL_MS = 200


@dataclass(frozen=True)
class StreamOptions:
    """Plain, validated recognition options of one stream (the servicer builds it)."""

    encoding: Encoding = Encoding.LINEAR16
    sample_rate: int = SAMPLE_RATE
    language: str | None = None
    interim_results: bool = False
    word_time_offsets: bool = False
    endpointing: EndpointingDefaults = field(default_factory=EndpointingDefaults)
    model: str | None = None
    interim_interval_s: float = 1.0
    intent: bool = False  # attach the intent to finals
    # silence kept after an utterance's speech in its final decode (a turn model that ends
    # turns early wants it short: the final's decode can start that much sooner)
    tail_ms: int = TAIL_MS


@dataclass(frozen=True)
class SpeechStarted:
    utterance_index: int
    time: float  # stream seconds


@dataclass(frozen=True)
class SpeechEnded:
    utterance_index: int
    time: float


@dataclass(frozen=True)
class AudioSpan:
    """A stretch of one utterance's audio, ready to decode."""

    index: int  # utterance index in the stream
    audio: np.ndarray = field(repr=False)  # float32, 16 kHz, includes pre-roll / tail
    start: float  # stream seconds of the speech onset
    end: float  # stream seconds of the end of speech (or of the audio so far)
    audio_offset: float  # stream seconds of audio[0]
    detected_at: float  # time.monotonic() when it was cut


class Utterance(AudioSpan):
    """A complete utterance to decode for a final result."""


class InterimRequest(AudioSpan):
    """The audio of the utterance in progress, due for an interim re-decode."""


class SpeculativeFinal(AudioSpan):
    """Trailing silence has begun: the utterance's final audio, if no speech resumes.

    If the :class:`Utterance` that follows has the same ``index`` and ``end``, its audio is
    identical, so a decode started now can be used as the final (hiding the endpoint wait).
    """


@dataclass(frozen=True)
class SpeechTimeout:
    time: float  # stream seconds when no speech had come for ``speech_timeout_ms``


SessionEvent = SpeechStarted | SpeechEnded | Utterance | InterimRequest | SpeculativeFinal | SpeechTimeout


class AudioBuffer:
    """Samples addressed by absolute stream position, with a bounded, compacting store."""

    def __init__(self, capacity: int):
        self._buf = np.zeros(max(capacity, FRAME_SAMPLES), dtype=np.float32)
        self.base = 0  # absolute index of _buf[0]
        self.size = 0

    @property
    def end(self) -> int:
        return self.base + self.size

    def append(self, audio: np.ndarray) -> None:
        n = audio.size
        if self.size + n > self._buf.size:
            grown = np.zeros(max(self._buf.size * 2, self.size + n), dtype=np.float32)
            grown[: self.size] = self._buf[: self.size]
            self._buf = grown
        self._buf[self.size:self.size + n] = audio
        self.size += n

    def discard_before(self, position: int) -> None:
        drop = min(max(0, position - self.base), self.size)
        if drop:
            self._buf[: self.size - drop] = self._buf[drop:self.size]
            self.size -= drop
            self.base += drop

    def slice(self, start: int, end: int) -> np.ndarray:
        start = max(start, self.base)
        end = min(end, self.end)
        return self._buf[start - self.base:end - self.base].copy()


class RecognitionSession:
    def __init__(self, options: StreamOptions):
        self.options = options
        ep = options.endpointing
        self._decoder = AudioDecoder(options.encoding, options.sample_rate)
        self._endpointer = Endpointer(ep)
        self._pre_roll = ep.pre_roll_ms * SAMPLE_RATE // 1000
        # kept outside speech: the pre-roll plus the frames the start decision looks back on
        self._keep = self._pre_roll + (ep.speech_start_ms + 2 * 20) * SAMPLE_RATE // 1000
        self._tail = min(options.tail_ms, ep.trailing_silence_ms) * SAMPLE_RATE // 1000
        capacity = int((ep.max_utterance_seconds + 2) * SAMPLE_RATE) + self._pre_roll
        self._buffer = AudioBuffer(capacity)
        self._interim_step = int(options.interim_interval_s * SAMPLE_RATE)
        self.utterance_index = 0  # index of the next / current utterance
        self._utt_audio_start: int | None = None  # absolute sample where the open utterance's audio starts
        self._utt_speech_start = 0
        self._pending_end: SpeechEnd | None = None  # waiting for its tail audio
        self._next_interim = 0
        self._speculated: tuple[int, int] | None = None  # (utterance, end frame) already offered
        # speculate once trailing silence is this long (and the tail audio exists)
        self._speculate_after = max(self._tail, ep.trailing_silence_ms // 2 * SAMPLE_RATE // 1000)
        self._timeout = ep.speech_timeout_ms * SAMPLE_RATE // 1000
        self._quiet_since = 0  # stream sample since which no utterance was open
        self._timed_out = False
        self.finished = False

    # -- public -------------------------------------------------------------------------
    @property
    def stream_seconds(self) -> float:
        return self._buffer.end / SAMPLE_RATE

    @property
    def trailing_silence(self) -> float:
        """Seconds of unvoiced frames at the end of the open utterance."""
        return self._endpointer.silence_run * FRAME_SAMPLES / SAMPLE_RATE

    @property
    def last_speech_end(self) -> float:
        """Stream seconds where the latest voiced frame ends."""
        return self._endpointer.last_voiced_end * FRAME_SAMPLES / SAMPLE_RATE

    @property
    def in_utterance(self) -> bool:
        return self._utt_audio_start is not None

    def push(self, data: bytes) -> list[SessionEvent]:
        if self.finished:
            raise RuntimeError("push() after finish()")
        return self._feed(self._decoder.decode(data))

    def flush(self) -> list[SessionEvent]:
        """Client-forced end of utterance: finalise the open utterance now."""
        if self.finished:
            return []
        events: list[SessionEvent] = []
        if self._pending_end is not None:
            return self._close(self._pending_end)
        for boundary in self._endpointer.force_end():
            events += self._boundary(boundary)
        if self._pending_end is not None:
            events += self._close(self._pending_end)
        return events

    def end_turn(self) -> list[SessionEvent]:
        """The speaker has finished (a turn model says so) though the silence rule has not
        fired yet: end the open utterance where its speech ended, exactly as the silence rule
        would have (so a speculative final already running for it is used)."""
        if self.finished or self._pending_end is not None or not self._endpointer.in_speech:
            return []
        events: list[SessionEvent] = []
        for boundary in self._endpointer.force_end(at_last_voice=True):
            events += self._boundary(boundary)
        if self._pending_end is not None and self._buffer.end >= self._pending_end.frame * FRAME_SAMPLES + self._tail:
            events += self._close(self._pending_end)
        return events

    def open_audio(self) -> np.ndarray:
        """The open utterance's audio so far (empty outside speech), 16 kHz float32."""
        if self._utt_audio_start is None:
            return np.zeros(0, np.float32)
        return self._buffer.slice(self._utt_audio_start, self._buffer.end)

    def set_interim_interval(self, seconds: float) -> None:
        """Adapt the interim cadence (the servicer slows it under load)."""
        self._interim_step = int(seconds * SAMPLE_RATE)

    def finish(self) -> list[SessionEvent]:
        """End of stream: flush the resampler and close an open utterance."""
        if self.finished:
            return []
        events = self._feed(self._decoder.flush())
        self.finished = True
        if self._pending_end is not None:
            events += self._close(self._pending_end)
        for boundary in self._endpointer.finish():
            events += self._boundary(boundary)
        if self._pending_end is not None:
            events += self._close(self._pending_end)
        return events

    # -- internals ----------------------------------------------------------------------
    def _feed(self, decoded: Decoded) -> list[SessionEvent]:
        self._buffer.append(decoded.audio)
        events: list[SessionEvent] = []
        for boundary in self._endpointer.push(decoded.audio, decoded.frames):
            events += self._boundary(boundary)
        if self._pending_end is not None and self._buffer.end >= self._pending_end.frame * FRAME_SAMPLES + self._tail:
            events += self._close(self._pending_end)
        if self.in_utterance and self._pending_end is None:
            events += self._maybe_speculate()
            events += self._maybe_interim()
        events += self._maybe_timeout()
        keep_from = self._buffer.end - self._keep
        if self._utt_audio_start is not None:
            keep_from = min(keep_from, self._utt_audio_start)
        self._buffer.discard_before(keep_from)
        return events

    def _boundary(self, boundary: SpeechStart | SpeechEnd) -> list[SessionEvent]:
        if isinstance(boundary, SpeechStart):
            start = boundary.frame * FRAME_SAMPLES
            if self._pending_end is not None:  # previous utterance's tail overlaps; close it now
                events = self._close(self._pending_end)
            else:
                events = []
            self._utt_speech_start = start
            self._utt_audio_start = start if self._forced_continuation else max(0, start - self._pre_roll)
            self._forced_continuation = False
            self._next_interim = start + self._interim_step
            self._timed_out = False
            return events + [SpeechStarted(self.utterance_index, start / SAMPLE_RATE)]
        if boundary.forced:
            self._forced_continuation = True
            return self._close(boundary)
        self._pending_end = boundary
        return [SpeechEnded(self.utterance_index, boundary.frame * FRAME_SAMPLES / SAMPLE_RATE)]

    _forced_continuation = False

    def _span(self, cls: type[AudioSpan], end: int, audio_end: int) -> AudioSpan:
        """The open utterance's audio up to ``audio_end`` (samples), speech ending at ``end``."""
        assert self._utt_audio_start is not None
        return cls(
            index=self.utterance_index,
            audio=self._buffer.slice(self._utt_audio_start, audio_end),
            start=self._utt_speech_start / SAMPLE_RATE,
            end=end / SAMPLE_RATE,
            audio_offset=self._utt_audio_start / SAMPLE_RATE,
            detected_at=time.monotonic(),
        )

    def _close(self, boundary: SpeechEnd) -> list[SessionEvent]:
        end = boundary.frame * FRAME_SAMPLES
        tail = 0 if boundary.forced else self._tail
        utt = self._span(Utterance, end, end + tail)
        events: list[SessionEvent] = []
        if boundary.forced:
            events.append(SpeechEnded(self.utterance_index, end / SAMPLE_RATE))
        events.append(utt)
        self.utterance_index += 1
        self._utt_audio_start = None
        self._pending_end = None
        self._quiet_since = end
        return events

    def speculate(self) -> list[SessionEvent]:
        """Offer the speculative final now (a turn model is about to decide), not only once
        half the trailing silence has passed; nothing when its tail audio is not here yet."""
        ep = self._endpointer
        if self._pending_end is not None or self._buffer.end < ep.last_voiced_end * FRAME_SAMPLES + self._tail:
            return []
        return self._maybe_speculate(now=True)

    def _maybe_speculate(self, now: bool = False) -> list[SessionEvent]:
        ep = self._endpointer
        if not ep.in_speech or (not now and ep.silence_run * FRAME_SAMPLES < self._speculate_after):
            return []
        key = (self.utterance_index, ep.last_voiced_end)
        if self._speculated == key:
            return []
        self._speculated = key
        end = ep.last_voiced_end * FRAME_SAMPLES
        return [self._span(SpeculativeFinal, end, end + self._tail)]

    def _maybe_timeout(self) -> list[SessionEvent]:
        if not self._timeout or self._timed_out or self.in_utterance or self._endpointer.in_speech:
            return []
        if self._buffer.end - self._quiet_since < self._timeout:
            return []
        self._timed_out = True
        return [SpeechTimeout((self._quiet_since + self._timeout) / SAMPLE_RATE)]

    def _maybe_interim(self) -> list[SessionEvent]:
        if not self.options.interim_results or self._buffer.end < self._next_interim:
            return []
        self._next_interim = self._buffer.end + self._interim_step
        return [self._span(InterimRequest, self._buffer.end, self._buffer.end)]
