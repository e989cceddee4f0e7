"""Level conditioning: DC removal, pre-emphasis, frame RMS in dBFS, and a simple AGC.

Units: float32 samples with full scale 1.0 (int16 input to :func:`frame_rms_dbfs` is read
as ``x / 32768``). dBFS here is ``20 * log10(rms)`` relative to a full-scale *square*
wave (RMS 1.0), so a full-scale sine reads -3.01 dBFS; silence is clamped to ``floor_db``.

The streaming filters (:class:`DCBlocker`, :class:`PreEmphasis`, :class:`AGC`) carry their
state (previous samples, envelope, gain) in small float64 arrays, so chunked processing
gives the same result as one call.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._validate import as_f32_1d as _as_f32_1d

#: Level reported for digital silence.
FLOOR_DB = -100.0


@njit(cache=True, nogil=True)
def _dc_block(x, r, state, out):
    x1 = state[0]
    y1 = state[1]
    for i in range(x.size):
        xi = np.float64(x[i])
        y1 = xi - x1 + r * y1
        x1 = xi
        out[i] = y1
    state[0] = x1
    state[1] = y1


class DCBlocker:
    """One-pole DC-removal high-pass ``y[n] = x[n] - x[n-1] + r * y[n-1]``.

    ``r = exp(-2 pi cutoff_hz / sample_rate)``; the -3 dB corner is about ``cutoff_hz``.
    """

    def __init__(self, sample_rate: int, cutoff_hz: float = 20.0):
        if sample_rate <= 0 or not 0 < cutoff_hz < sample_rate / 2:
            raise ValueError(f"need sample_rate > 0 and 0 < cutoff_hz < sample_rate/2, got "
                             f"{sample_rate}, {cutoff_hz}")
        self.r = math.exp(-2 * math.pi * cutoff_hz / sample_rate)
        self._state = np.zeros(2, np.float64)

    def reset(self) -> None:
        self._state[:] = 0.0

    def process(self, x: np.ndarray) -> np.ndarray:
        """Filter one float32 chunk (any length)."""
        x = _as_f32_1d(x)
        out = np.empty(x.size, np.float32)
        if x.size:
            _dc_block(x, self.r, self._state, out)
        return out


@njit(cache=True, nogil=True)
def _pre_emph(x, coef, state, out):
    x1 = state[0]
    for i in range(x.size):
        xi = np.float64(x[i])
        out[i] = xi - coef * x1
        x1 = xi
    state[0] = x1


class PreEmphasis:
    """First-order pre-emphasis ``y[n] = x[n] - coef * x[n-1]`` (``coef`` in [0, 1))."""

    def __init__(self, coef: float = 0.97):
        if not 0.0 <= coef < 1.0:
            raise ValueError(f"coef must be in [0, 1), got {coef}")
        self.coef = float(coef)
        self._state = np.zeros(1, np.float64)

    def reset(self) -> None:
        self._state[:] = 0.0

    def process(self, x: np.ndarray) -> np.ndarray:
        """Filter one float32 chunk (any length)."""
        x = _as_f32_1d(x)
        out = np.empty(x.size, np.float32)
        if x.size:
            _pre_emph(x, self.coef, self._state, out)
        return out


@njit(cache=True, nogil=True)
def _frame_rms_db(x, frame_len, scale, floor_db, out):
    floor_ms = 10.0 ** (floor_db / 10.0)
    for f in range(out.size):
        acc = 0.0
        base = f * frame_len
        for i in range(frame_len):
            v = np.float64(x[base + i])
            acc += v * v
        ms = acc * scale * scale / frame_len
        out[f] = 10.0 * np.log10(ms) if ms > floor_ms else floor_db


def frame_rms_dbfs(x: np.ndarray, frame_len: int, floor_db: float = FLOOR_DB) -> np.ndarray:
    """RMS level of consecutive ``frame_len``-sample frames, in dBFS (float32).

    ``x`` is 1-D float32 (full scale 1.0) or int16 (full scale 32768). A trailing partial
    frame is ignored; levels below ``floor_db`` (e.g. digital silence) read ``floor_db``.
    """
    if not isinstance(x, np.ndarray) or x.dtype not in (np.float32, np.int16):
        raise TypeError(f"x must be a float32 or int16 array, got {getattr(x, 'dtype', type(x).__name__)}")
    if x.ndim != 1:
        raise ValueError(f"x must be 1-D, got shape {x.shape}")
    if not isinstance(frame_len, (int, np.integer)) or frame_len <= 0:
        raise ValueError(f"frame_len must be a positive integer, got {frame_len!r}")
    x = np.ascontiguousarray(x)
    out = np.empty(x.size // frame_len, np.float32)
    if out.size:
        _frame_rms_db(x, int(frame_len), 1.0 / 32768.0 if x.dtype == np.int16 else 1.0,
                      float(floor_db), out)
    return out


@njit(cache=True, nogil=True)
def _agc(x, target_ms, gmin, gmax, gate_ms, a_rms, a_att, a_rel, state, out):
    env = state[0]
    g = state[1]
    for i in range(x.size):
        v = np.float64(x[i])
        env += a_rms * (v * v - env)
        if env > gate_ms:
            gd = min(max(math.sqrt(target_ms / env), gmin), gmax)
            g += (a_att if gd < g else a_rel) * (gd - g)
        y = v * g
        out[i] = 1.0 if y > 1.0 else (-1.0 if y < -1.0 else y)
    state[0] = env
    state[1] = g


class AGC:
    """Automatic gain control for quiet (telephone) lines.

    The signal power is tracked with a ``window_ms`` one-pole average; the wanted gain
    ``target / rms`` (limited to ``[min_gain_db, max_gain_db]``) is approached with the
    ``attack_ms`` time constant when the gain must fall (a loud onset) and ``release_ms``
    when it may rise. While the level is below ``gate_dbfs`` (pauses, line noise) the gain
    is held, so noise is not pumped up. Output is clipped to [-1, 1]. Starts at 0 dB gain;
    ``gain_db`` reports the current gain.
    """

    def __init__(self, sample_rate: int, target_dbfs: float = -20.0, max_gain_db: float = 30.0,
                 min_gain_db: float = -10.0, attack_ms: float = 5.0, release_ms: float = 400.0,
                 gate_dbfs: float = -55.0, window_ms: float = 20.0):
        if sample_rate <= 0 or attack_ms <= 0 or release_ms <= 0 or window_ms <= 0:
            raise ValueError("sample_rate, attack_ms, release_ms and window_ms must be positive")
        if min_gain_db > max_gain_db:
            raise ValueError(f"min_gain_db ({min_gain_db}) > max_gain_db ({max_gain_db})")
        self.target_ms = 10.0 ** (target_dbfs / 10.0)
        self.gmin = 10.0 ** (min_gain_db / 20.0)
        self.gmax = 10.0 ** (max_gain_db / 20.0)
        self.gate_ms = 10.0 ** (gate_dbfs / 10.0)
        self.a_rms = 1.0 - math.exp(-1000.0 / (window_ms * sample_rate))
        self.a_att = 1.0 - math.exp(-1000.0 / (attack_ms * sample_rate))
        self.a_rel = 1.0 - math.exp(-1000.0 / (release_ms * sample_rate))
        self._state = np.zeros(2, np.float64)
        self.reset()

    def reset(self) -> None:
        self._state[0] = 0.0  # power average
        self._state[1] = 1.0  # gain

    @property
    def gain_db(self) -> float:
        return 20.0 * math.log10(self._state[1])

    def process(self, x: np.ndarray) -> np.ndarray:
        """Apply the AGC to one float32 chunk (any length)."""
        x = _as_f32_1d(x)
        out = np.empty(x.size, np.float32)
        if x.size:
            _agc(x, self.target_ms, self.gmin, self.gmax, self.gate_ms, self.a_rms, self.a_att,
                 self.a_rel, self._state, out)
        return out
