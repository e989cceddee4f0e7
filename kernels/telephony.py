"""Fused telephony front end: G.711 8 kHz bytes -> 16 kHz float32 + VAD frames + frame energy.

One kernel call per chunk decodes mu-law / A-law through a float table straight into the
resampler's work buffer, upsamples 8 -> 16 kHz with the polyphase filter of
:mod:`kernels.resample` (same coefficients, same state layout, so the audio equals
``StreamingResampler(8000, 16000).process(int16_to_float32(mulaw_decode(data)))``), and cuts
the result into int16 frames of ``frame_len`` samples (default 320 = 20 ms, what webrtcvad
takes) with each frame's RMS level in dBFS (full scale 1.0 = 32768; floor -100 dB). Frames
straddle chunk boundaries: a partial frame is carried to the next call.

:class:`TelephonyBatch` advances many such streams (each with its own law and state) in one
call per tick, ``prange`` over streams, so Python and dispatch overhead is paid once per
tick instead of once per stream.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
from numba import njit, prange

from .g711 import _ADEC, _UDEC
from .level import FLOOR_DB
from .resample import _design, _n_ready, _ready, _rs_core

IN_RATE = 8000
OUT_RATE = 16000
#: Default VAD frame: 20 ms at 16 kHz.
FRAME_LEN = 320

MULAW, ALAW = 0, 1
_LAWS = {"mulaw": MULAW, "ulaw": MULAW, "mu-law": MULAW, "pcmu": MULAW,
         "alaw": ALAW, "a-law": ALAW, "pcma": ALAW}
#: Decode tables, float32 in [-1, 1): row 0 mu-law, row 1 A-law (exact: int16 / 32768).
_DEC_F32 = (np.stack([_UDEC, _ADEC]).astype(np.float32) / np.float32(32768.0))
_DEC_F32.setflags(write=False)


def _law(law) -> int:
    if isinstance(law, str) and law.lower() in _LAWS:
        return _LAWS[law.lower()]
    raise ValueError(f"law must be 'mulaw' or 'alaw', got {law!r}")


class FrontEndOutput(NamedTuple):
    """One stream's output for one chunk."""
    audio: np.ndarray      #: float32, 16 kHz, full scale 1.0
    frames: np.ndarray     #: int16, shape (k, frame_len): VAD frames completed by this chunk
    energy_db: np.ndarray  #: float32, shape (k,): RMS of each frame in dBFS


@njit(cache=True, nogil=True)
def _frame_energy(frame, floor_db):
    acc = 0.0
    for i in range(frame.size):
        v = np.float64(frame[i])
        acc += v * v
    ms = acc / (frame.size * 1073741824.0)  # 32768 ** 2
    if ms <= 10.0 ** (floor_db / 10.0):
        return floor_db
    return 10.0 * np.log10(ms)


@njit(cache=True, nogil=True)
def _tel_core(data, n_zero, table, hist, bank, D, n_in0, n_out0, n_out, audio, a0,
              pend, pc, frames, f0, energy, floor_db):
    """Decode ``data`` (+ ``n_zero`` zero samples), resample, frame. Returns the new
    pending-frame count; updates ``hist`` and ``pend`` in place."""
    T1 = hist.size
    nx = data.size + n_zero
    work = np.empty(T1 + nx, np.float32)
    work[:T1] = hist
    for i in range(data.size):
        work[T1 + i] = table[data[i]]
    for i in range(T1 + data.size, T1 + nx):
        work[i] = 0.0
    _rs_core(work, n_in0 - T1, bank, 2, 1, D, n_out0, n_out0 + n_out, audio, a0)
    hist[:] = work[nx:]
    F = pend.size
    k = f0
    for i in range(n_out):
        v = np.rint(audio[a0 + i] * np.float32(32768.0))
        if v > 32767.0:
            v = 32767.0
        elif v < -32768.0:
            v = -32768.0
        pend[pc] = np.int16(v)
        pc += 1
        if pc == F:
            frames[k, :] = pend
            energy[k] = _frame_energy(pend, floor_db)
            k += 1
            pc = 0
    return pc


def _as_bytes_u8(data, name="data"):
    if isinstance(data, (bytes, bytearray, memoryview)):
        return np.frombuffer(data, np.uint8)
    if isinstance(data, np.ndarray) and data.dtype == np.uint8:
        if data.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {data.shape}")
        return np.ascontiguousarray(data)
    raise TypeError(f"{name} must be bytes or a uint8 array, got {getattr(data, 'dtype', type(data).__name__)}")


class TelephonyFrontEnd:
    """One 8 kHz G.711 stream -> 16 kHz float32 audio, int16 VAD frames, frame energy.

    ``process(data)`` takes raw mu-law / A-law bytes (any length) and returns a
    :class:`FrontEndOutput`. The audio lags the input by the resampler's group delay
    (``delay_s``, ~7 ms); ``flush()`` emits the held-back tail and the last partial frame
    zero-padded to ``frame_len``, then resets.
    """

    def __init__(self, law: str = "mulaw", frame_len: int = FRAME_LEN, floor_db: float = FLOOR_DB):
        if not isinstance(frame_len, (int, np.integer)) or frame_len <= 0:
            raise ValueError(f"frame_len must be a positive integer, got {frame_len!r}")
        self.law = _law(law)
        self.frame_len = int(frame_len)
        self.floor_db = float(floor_db)
        self._bank, self._D = _design(2, 1)
        self._hist = np.zeros(self._bank.shape[1] - 1, np.float32)
        self._pend = np.zeros(self.frame_len, np.int16)
        self.reset()

    @property
    def delay_s(self) -> float:
        return self._D / 2 / IN_RATE

    def reset(self) -> None:
        self._hist[:] = 0.0
        self._pend[:] = 0
        self._n_in = self._n_out = self._pc = 0

    def _run(self, x, n_zero, limit=None):
        n_in = self._n_in + x.size + n_zero
        n_end = _ready(n_in, 2, 1, self._D)
        if limit is not None:
            n_end = min(n_end, limit)
        n_out = max(n_end - self._n_out, 0)
        nf = (self._pc + n_out) // self.frame_len
        audio = np.empty(n_out, np.float32)
        frames = np.empty((nf, self.frame_len), np.int16)
        energy = np.empty(nf, np.float32)
        if x.size or n_zero:
            self._pc = _tel_core(x, n_zero, _DEC_F32[self.law], self._hist, self._bank, self._D,
                                 self._n_in, self._n_out, n_out, audio, 0, self._pend, self._pc,
                                 frames, 0, energy, self.floor_db)
        self._n_in, self._n_out = n_in, self._n_out + n_out
        return FrontEndOutput(audio, frames, energy)

    def process(self, data) -> FrontEndOutput:
        """Advance by one chunk of G.711 bytes (bytes, bytearray, memoryview or uint8 array)."""
        return self._run(_as_bytes_u8(data), 0)

    def flush(self) -> FrontEndOutput:
        """The held-back audio and remaining frames (last one zero-padded); then reset."""
        n_total = self._n_in * 2
        need = max((n_total - 1 + self._D) // 2 + 1 - self._n_in, 0) if n_total > self._n_out else 0
        out = self._run(np.zeros(0, np.uint8), need, n_total)
        if self._pc:
            last = self._pend.copy()
            last[self._pc:] = 0
            frames = np.concatenate([out.frames, last[None, :]])
            energy = np.append(out.energy_db, np.float32(_frame_energy(last, self.floor_db)))
            out = FrontEndOutput(out.audio, frames, energy)
        self.reset()
        return out


class BatchOutput(NamedTuple):
    """All streams' output for one tick; stream ``s`` owns ``audio[audio_offsets[s]:
    audio_offsets[s+1]]`` and rows ``frame_offsets[s]:frame_offsets[s+1]`` of ``frames`` and
    ``energy_db``."""
    audio: np.ndarray
    audio_offsets: np.ndarray
    frames: np.ndarray
    frame_offsets: np.ndarray
    energy_db: np.ndarray

    def stream(self, s: int) -> FrontEndOutput:
        """Stream ``s``'s share as a :class:`FrontEndOutput` (views, no copies)."""
        a0, a1 = self.audio_offsets[s], self.audio_offsets[s + 1]
        f0, f1 = self.frame_offsets[s], self.frame_offsets[s + 1]
        return FrontEndOutput(self.audio[a0:a1], self.frames[f0:f1], self.energy_db[f0:f1])


@njit(cache=True, nogil=True, parallel=True)
def _tel_batch(data, doff, laws, tables, hists, bank, D, counts, pends, floor_db):
    S = hists.shape[0]
    F = pends.shape[1]
    aoff = np.zeros(S + 1, np.int64)
    foff = np.zeros(S + 1, np.int64)
    for s in range(S):
        n_in = counts[s, 0] + (doff[s + 1] - doff[s])
        n_out = max(_n_ready(n_in, 2, 1, D) - counts[s, 1], 0)
        aoff[s + 1] = aoff[s] + n_out
        foff[s + 1] = foff[s] + (counts[s, 2] + n_out) // F
    audio = np.empty(aoff[S], np.float32)
    frames = np.empty((foff[S], F), np.int16)
    energy = np.empty(foff[S], np.float32)
    for s in prange(S):
        nx = doff[s + 1] - doff[s]
        n_out = aoff[s + 1] - aoff[s]
        if nx:
            counts[s, 2] = _tel_core(data[doff[s]:doff[s + 1]], 0, tables[laws[s]], hists[s], bank, D,
                                     counts[s, 0], counts[s, 1], n_out, audio, aoff[s], pends[s],
                                     counts[s, 2], frames, foff[s], energy, floor_db)
        counts[s, 0] += nx
        counts[s, 1] += n_out
    return audio, aoff, frames, foff, energy


class TelephonyBatch:
    """``n_streams`` :class:`TelephonyFrontEnd` streams advanced by one call per tick.

    Slots are fixed; give a new call a free slot with :meth:`reset` (which also sets its
    law) and end it with :meth:`flush`. ``process(chunks)`` takes one bytes object per slot
    (``b""`` or ``None`` when a slot has nothing this tick) and returns a
    :class:`BatchOutput`; stream ``s``'s part equals what ``TelephonyFrontEnd.process``
    would have returned for the same chunks.
    """

    def __init__(self, n_streams: int, law: str = "mulaw", frame_len: int = FRAME_LEN,
                 floor_db: float = FLOOR_DB):
        if not isinstance(n_streams, (int, np.integer)) or n_streams <= 0:
            raise ValueError(f"n_streams must be a positive integer, got {n_streams!r}")
        if not isinstance(frame_len, (int, np.integer)) or frame_len <= 0:
            raise ValueError(f"frame_len must be a positive integer, got {frame_len!r}")
        self.n_streams = int(n_streams)
        self.frame_len = int(frame_len)
        self.floor_db = float(floor_db)
        self._bank, self._D = _design(2, 1)
        self._laws = np.full(self.n_streams, _law(law), np.int64)
        self._hists = np.zeros((self.n_streams, self._bank.shape[1] - 1), np.float32)
        self._counts = np.zeros((self.n_streams, 3), np.int64)  # n_in, n_out, pending
        self._pends = np.zeros((self.n_streams, self.frame_len), np.int16)

    def _slot(self, slot):
        if not isinstance(slot, (int, np.integer)) or not 0 <= slot < self.n_streams:
            raise ValueError(f"slot must be an integer in [0, {self.n_streams}), got {slot!r}")
        return int(slot)

    def reset(self, slot: int, law: str | None = None) -> None:
        """Clear one slot (and optionally change its law) for a new stream."""
        s = self._slot(slot)
        if law is not None:
            self._laws[s] = _law(law)
        self._hists[s] = 0.0
        self._counts[s] = 0
        self._pends[s] = 0

    def process(self, chunks: Sequence[bytes | None]) -> BatchOutput:
        """Advance every slot by its chunk of G.711 bytes."""
        if len(chunks) != self.n_streams:
            raise ValueError(f"chunks must hold one entry per slot ({self.n_streams}), got {len(chunks)}")
        try:
            chunks = [b"" if c is None else c for c in chunks] if None in chunks else chunks
            joined = b"".join(chunks)
        except TypeError:
            for i, c in enumerate(chunks):
                if not isinstance(c, (bytes, bytearray, memoryview)):
                    raise TypeError(f"chunks[{i}] must be bytes, got {type(c).__name__}") from None
            raise
        doff = np.zeros(self.n_streams + 1, np.int64)
        np.cumsum(np.fromiter(map(len, chunks), np.int64, self.n_streams), out=doff[1:])
        if doff[-1] != len(joined):
            raise TypeError("chunks must be bytes-like with 1-byte items")
        data = np.frombuffer(joined, np.uint8)
        return BatchOutput(*_tel_batch(data, doff, self._laws, _DEC_F32, self._hists, self._bank,
                                       self._D, self._counts, self._pends, self.floor_db))

    def flush(self, slot: int) -> FrontEndOutput:
        """End the stream in ``slot``: its held-back audio and remaining frames (last one
        zero-padded); the slot is then reset."""
        s = self._slot(slot)
        one = TelephonyFrontEnd.__new__(TelephonyFrontEnd)
        one.law, one.frame_len, one.floor_db = int(self._laws[s]), self.frame_len, self.floor_db
        one._bank, one._D = self._bank, self._D
        one._hist, one._pend = self._hists[s], self._pends[s]
        one._n_in, one._n_out, one._pc = (int(v) for v in self._counts[s])
        out = one.flush()
        self.reset(s)
        return out
