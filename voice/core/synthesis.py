"""One synthesis request's streaming core, no I/O and no models of its own.

:class:`SynthesisJob` takes pieces (:mod:`voice.core.planning`) and a renderer (anything
with ``info.sample_rate`` and ``render(text, rate, speaker_id, deterministic)``, e.g. a
:class:`voice.engines.piper.VoicePool`); each blocking :meth:`~SynthesisJob.step`
synthesizes the next piece and returns fixed-size output chunks in the wanted encoding and
rate (one resampler carried across the whole request, a short fade at every joint: no gaps,
no clicks). :meth:`~SynthesisJob.cancel` stops it before the next piece.

A renderer with ``size`` sessions and a ``prefetch`` method (Piper's ``VoicePool``, Kokoro's
``KokoroPool``) synthesizes up to ``size - 1`` later pieces of the job concurrently on its other
sessions while :meth:`~SynthesisJob.step` renders the current one; audio still comes out piece
by piece in order. The first piece renders alone (time to first audio: nothing of the job
competes with it for the cores), the look-ahead starts when it is done; and the piece a step
needs is never left queued behind look-ahead: it is taken back and rendered at once if its
prefetch has not started.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import Protocol

import numpy as np

import kernels

from .audio import Encoding, int16_to_bytes
from .planning import Piece

DEFAULT_CHUNK_MS = 50
FADE_S = 0.004


class Renderer(Protocol):
    """What a job needs of a voice: its rate and blocking text -> float32 audio.

    Optional: ``size`` (pieces it can synthesize at once) and ``prefetch(text, rate,
    speaker_id, deterministic) -> Future`` (a render in the background, behind urgent ones),
    which let a job synthesize its next pieces while the current one renders.
    """

    info: object  # has ``sample_rate`` and ``name``

    def render(self, text: str, rate: float = 1.0, speaker_id: int | None = None,
               deterministic: bool = False) -> np.ndarray: ...


@dataclass(frozen=True)
class SynthesisOptions:
    encoding: Encoding = Encoding.LINEAR16
    sample_rate: int = 0  # 0: the voice's rate
    chunk_ms: int = DEFAULT_CHUNK_MS
    volume_gain_db: float = 0.0
    speaker_id: int | None = None
    deterministic: bool = False  # no sampling noise (tests: identical audio every time)


@dataclass(frozen=True)
class Chunk:
    audio: bytes  # in the job's encoding and rate
    samples: int
    sentence_index: int
    text: str  # the sentence's text on its first chunk, else ""


@dataclass
class JobStats:
    pieces_total: int = 0
    pieces_done: int = 0
    samples_out: int = 0
    chunks: int = 0
    cancelled: bool = False


class SynthesisJob:
    """One request, piece by piece: blocking :meth:`step` -> output chunks (or None at the end).

    With ``open_input``, more pieces may arrive (:meth:`extend`) until :meth:`end_input`;
    :attr:`ready` says whether a :meth:`step` has work now, :attr:`done` whether all is out.
    """

    def __init__(self, pool: Renderer, pieces: list[Piece], options: SynthesisOptions = SynthesisOptions(),
                 *, open_input: bool = False):
        self.pool = pool
        self.pieces = list(pieces)
        self._input_open = open_input
        self._flushed = False  # the last audio (and the resampler's tail) has been emitted
        self.options = options
        self.in_rate = pool.info.sample_rate
        self.out_rate = options.sample_rate or self.in_rate
        self._resampler = kernels.StreamingResampler(self.in_rate, self.out_rate) if self.out_rate != self.in_rate else None
        self._chunk = max(1, self.out_rate * options.chunk_ms // 1000)
        self._gain = np.float32(10 ** (options.volume_gain_db / 20))
        self._pending: list[np.ndarray] = []
        self._pending_n = 0
        self._pending_sentence = 0
        self._pending_text = ""
        self._next = 0
        self._cancel = threading.Event()
        self._step_lock = threading.Lock()
        # look-ahead: later pieces rendering on the renderer's other sessions, by piece index
        self._prefetch = getattr(pool, "prefetch", None)
        self._ahead_n = max(0, int(getattr(pool, "size", 1)) - 1) if self._prefetch is not None else 0
        self._ahead: dict[int, futures.Future] = {}
        self._queued = 0  # pieces before this index were prefetched or rendered already
        self._first_out = False  # the first piece with text is rendered: look-ahead may start
        self._ahead_lock = threading.Lock()
        self.stats = JobStats(pieces_total=len(pieces))
        fade = max(1, int(FADE_S * self.in_rate))
        self._fade_in = (0.5 - 0.5 * np.cos(np.linspace(0, math.pi, fade))).astype(np.float32)

    @property
    def done(self) -> bool:
        return self._flushed or self._cancel.is_set()

    @property
    def ready(self) -> bool:
        """A :meth:`step` would do something now (a piece waits, or the final flush)."""
        return not self.done and (self._next < len(self.pieces) or not self._input_open)

    def extend(self, pieces: list[Piece]) -> None:
        """More pieces of the same request (open input only; thread-safe with :meth:`step`)."""
        if not self._input_open:
            raise RuntimeError("extend() after end_input()")
        self.pieces.extend(pieces)
        self.stats.pieces_total = len(self.pieces)
        self._fill(self._next)

    def end_input(self) -> None:
        """No more pieces will come; the audio ends after the last one."""
        self._input_open = False

    def cancel(self) -> None:
        """Stop before the next piece (thread-safe, never blocks; a piece being synthesized is
        discarded, prefetches not started are dropped). The next :meth:`step` returns None once
        the pieces still rendering ahead are done, so their sessions are free again."""
        self._cancel.set()
        self.stats.cancelled = True
        with self._ahead_lock:
            for fut in self._ahead.values():
                fut.cancel()

    def _fill(self, start: int) -> None:
        """Prefetch the next ``size - 1`` pieces with text from ``start`` not yet under way."""
        if not self._ahead_n or not self._first_out:
            return
        with self._ahead_lock:
            if self._cancel.is_set():
                return
            i, n = start, 0
            while n < self._ahead_n and i < len(self.pieces):
                piece = self.pieces[i]
                if piece.text:
                    n += 1
                    if i >= self._queued:
                        self._ahead[i] = self._prefetch(piece.text, piece.rate, self.options.speaker_id,
                                                        self.options.deterministic)
                i += 1
            self._queued = max(self._queued, i)

    def _render(self, index: int, piece: Piece) -> np.ndarray:
        """Piece ``index``: its prefetch's audio when under way, else rendered here (urgent)."""
        with self._ahead_lock:
            fut = self._ahead.pop(index, None)
        if fut is not None and not fut.cancel():
            return fut.result()  # started (or done): wait for it
        if self._cancel.is_set():  # cancelled meanwhile (its prefetch was dropped)
            return np.zeros(0, np.float32)
        return self.pool.render(piece.text, piece.rate, self.options.speaker_id, self.options.deterministic)

    def _settle(self) -> None:
        """After a cancel: drop the prefetches not started, wait for those rendering."""
        with self._ahead_lock:
            pending = list(self._ahead.values())
            self._ahead.clear()
        running = [f for f in pending if not f.cancel()]
        futures.wait(running)
        for fut in running:
            fut.exception()  # retrieved: the job is cancelled, its failure does not matter

    def step(self) -> list[Chunk] | None:
        """Synthesize the next piece; its complete output chunks, or None when finished."""
        with self._step_lock:
            if self.done:
                if self._cancel.is_set():
                    self._settle()
                return None
            if self._next >= len(self.pieces):
                if self._input_open:
                    return None
                # the input ended after its last piece was synthesized: emit what is held back
                self._flushed = True
                tail = self._resampler.flush() if self._resampler is not None else np.zeros(0, np.float32)
                return self._emit(kernels.float32_to_int16(np.ascontiguousarray(tail, np.float32)), flush=True)
            index = self._next
            piece = self.pieces[index]
            self._next += 1
            self._fill(self._next)  # the next pieces start on the other sessions
            audio = np.zeros(0, np.float32)
            if piece.text:
                audio = self._render(index, piece)
                if self._cancel.is_set():
                    self._settle()
                    return None
                if not self._first_out:  # the first audio is ready: now the look-ahead
                    self._first_out = True
                    self._fill(self._next)
                audio = self._shape(audio)
            self.stats.pieces_done += 1
            silence = np.zeros(int(round(piece.pause_s * self.in_rate)), np.float32)
            pcm = np.concatenate([audio, silence]) if silence.size else audio
            last = not self._input_open and self._next >= len(self.pieces)
            if last:
                self._flushed = True
            if self._resampler is not None:
                pcm = self._resampler.process(np.ascontiguousarray(pcm, np.float32))
                if last:
                    pcm = np.concatenate([pcm, self._resampler.flush()])
            if piece.sentence_text:  # a new sentence: the chunks before it were flushed
                self._pending_sentence, self._pending_text = piece.sentence_index, piece.sentence_text
            return self._emit(kernels.float32_to_int16(np.ascontiguousarray(pcm, np.float32)),
                              flush=last or piece.sentence_end)

    def _shape(self, audio: np.ndarray) -> np.ndarray:
        audio = np.ascontiguousarray(audio, np.float32)
        if self._gain != 1:
            audio = audio * self._gain
        n = min(self._fade_in.size, audio.size // 2)
        if n:
            audio = audio.copy()
            audio[:n] *= self._fade_in[:n]
            audio[audio.size - n:] *= self._fade_in[:n][::-1]
        return np.clip(audio, -1.0, 1.0)

    def _emit(self, pcm: np.ndarray, flush: bool) -> list[Chunk]:
        if pcm.size:
            self._pending.append(pcm)
            self._pending_n += pcm.size
        chunks: list[Chunk] = []
        if not self._pending_n:
            return chunks
        data = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        cut = (data.size // self._chunk) * self._chunk if not flush else data.size
        for start in range(0, cut, self._chunk):
            part = data[start:start + self._chunk]
            chunks.append(Chunk(int16_to_bytes(part, self.options.encoding), part.size,
                                self._pending_sentence, self._pending_text))
            self._pending_text = ""
        rest = data[cut:]
        self._pending = [rest] if rest.size else []
        self._pending_n = rest.size
        self.stats.chunks += len(chunks)
        self.stats.samples_out += sum(c.samples for c in chunks)
        return chunks

    def run(self) -> Iterator[Chunk]:
        """Every chunk, blocking (CLI, tests, the unary call)."""
        while (chunks := self.step()) is not None:
            yield from chunks
