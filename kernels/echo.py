"""Line / acoustic echo canceller for barge-in on full-duplex calls (one call, mono float32).

While the service plays a reply, the caller's channel carries an echo of it (hybrid echo on
phone lines, speakerphone pick-up). The server knows what it played (the *reference*), so
the echo can be modelled and subtracted from what came in (the *mic* signal), leaving the
caller's own speech in the *residual*.

Design
------
* **Bulk delay** (``0 .. max_delay_ms``): GCC-PHAT between the last 128 ms of mic and the
  matching ``128 ms + max_delay_ms`` of reference, every 128 ms of stream while both carry
  signal. The cross-spectra of successive windows are averaged (forgetting factor 0.7 per
  window) before the phase transform, which is restricted to 200 - 3800 Hz (telephone band
  plus margin), so the estimate sharpens over time and survives double talk. An estimate
  counts when the PHAT peak stands out of the correlation floor (peak / RMS >= 10); a
  *changed* delay must be seen twice in a row before the filter moves. The transforms are
  numpy's FFT, run from the wrapper at fixed stream positions, so the result does not
  depend on how the stream is chunked.
* **Echo path**: an NLMS adaptive FIR of ``filter_ms`` taps covering reference lags
  ``delay - lead .. delay - lead + taps - 1`` (``lead_ms`` before the bulk delay absorb the
  estimate's error and a non-causal part). When the delay estimate moves, the coefficients
  move with it (same physical lags); a move by half the filter or more starts over.
  The update runs on *pre-emphasised* reference and error (``1 - 0.9 z^-1`` on both; the
  echo path commutes with it, so the optimum is the same filter): speech is whitened and
  convergence is much faster than plain NLMS (ERLE after 1 s: ~25 dB vs ~5 dB). Step
  ``step_size``, scaled by the share of the residual above the line's noise floor (at least
  0.1 of it) and regularised by ``2 x taps x noise floor``; the whitened error is clipped
  at 2x its running RMS (Huber, 20 ms scale), so a noisy line neither stalls nor blows up
  the filter and an undetected talker onset can only nudge it. Adaptation runs only while
  the reference over the filter's span is within 20 dB of its recent peak.
* **Noise floor**: minimum of the 10 ms residual power over the last ten 100 ms blocks.
* **Double talk** freezes adaptation while the caller talks over the reply. Converging stage
  (until ERLE, noise removed, >= 10 dB after >= 0.5 s of adaptation): a power Geigel test,
  mic power above ``-3 dB`` of the reference power over the filter's span (louder than an
  echo path with 6 dB loss or more, G.168's assumption). Converged stage: mic above the
  reference (0 dB), or a residual test: residual power above the echo estimate's power
  times ``max(-10 dB, 6 dB over this filter's usual residual-to-echo ratio)`` (plus the
  noise floor) *and* mic power 1 dB over what this echo path usually returns for the
  current reference power. The second condition tells a talker (who adds power) from sound
  the filter has not learnt yet (which does not), so a half-converged long filter is not
  frozen for good. 10 ms power averages, 60 ms hang-over. Detection lags the caller's onset by a few ms, so
  coefficient snapshots are kept every 8 ms (clean blocks only) and on an onset the filter
  is rolled back to the one taken 24 - 32 ms earlier. "Double talk" lasting over 4 s of
  reference activity is taken for an echo path change: back to the converging stage.

The residual is ``mic - echo estimate``; with no reference in the filter's span (or before
the delay is known) the echo estimate is exactly 0 and the residual is the mic signal, bit
for bit. No non-linear processing or comfort noise: the caller's speech is not touched.

Units: float32 samples, full scale 1.0; delays in samples at ``sample_rate``. Streaming
state (reference history, coefficients and snapshots, power averages, detector state, the
delay estimator's buffers and cross-spectrum) is carried explicitly, so any chunking gives
the same output as one call (bit for bit in practice; 1e-5 is asserted).

Measured (tests/unit/test_echo.py: synthetic speech, G.711 line at -65 dBFS noise): ERLE
25 - 33 dB after the first second for delays 40 - 250 ms and echo gains -6 .. -15 dB; the
delay is found after 0.1 - 0.4 s of reply (1 sample off) and ERLE passes 20 dB about
0.2 - 0.4 s later. Cost (bench/echo.py): well under 1 % of one core per call at 16 kHz
with the 16 ms filter.

Code: the bulk-delay estimate and the stream bookkeeping are here; the per-sample NLMS /
double-talk kernel, its tuning constants and state layout are in :mod:`kernels._echo_nlms`.
"""

from __future__ import annotations

import math

import numpy as np

from ._echo_nlms import (
    _ADAPT,
    _CLEAN,
    _CONV,
    _EE,
    _EY,
    _FLOOR_MS,
    _HOLD,
    _N,
    _N_SNAPS,
    _NF,
    _NFC,
    _NI,
    _NOISE_BLOCKS,
    _SC,
    _UNSET,
    _aec_run,
    _params,
)
from ._validate import as_f32_1d as _as_f32_1d

#: Delay-estimation window (mic side) in ms; the estimate is refreshed this often.
_EST_MS = 128.0
#: Forgetting factor of the averaged cross-spectrum, per active estimation window.
_EST_FORGET = 0.7
#: PHAT peak over correlation RMS needed to accept a delay estimate.
_EST_CONFIDENCE = 10.0
#: Band (Hz) used by the phase transform.
_EST_BAND = (200.0, 3800.0)


class EchoCanceller:
    """Streaming echo canceller for one call, float32 mono at ``sample_rate`` (16000 in the service).

    ``max_delay_ms``: largest bulk delay searched (echo of ``ref[i]`` may reach the mic up to
    this late). ``filter_ms``: span of the adaptive filter (echo path dispersion it can
    model); ``lead_ms`` of it sit before the bulk delay. ``step_size``: NLMS step (0, 2).

    :meth:`process` takes equal-length ``mic`` and ``ref`` chunks (any length, including 0)
    and returns the residual. :attr:`delay_samples` is the current bulk-delay estimate
    (``None`` until known), :attr:`erle_db` the recent echo return loss enhancement.
    """

    def __init__(self, sample_rate: int = 16000, max_delay_ms: float = 300.0, filter_ms: float = 16.0,
                 step_size: float = 0.5, lead_ms: float = 2.0):
        if not isinstance(sample_rate, (int, np.integer)) or isinstance(sample_rate, bool) or sample_rate < 8000:
            raise ValueError(f"sample_rate must be an integer >= 8000 (Hz), got {sample_rate!r}")
        if not 0.0 <= max_delay_ms <= 2000.0:
            raise ValueError(f"max_delay_ms must be in [0, 2000], got {max_delay_ms!r}")
        if not 1.0 <= filter_ms <= 500.0:
            raise ValueError(f"filter_ms must be in [1, 500], got {filter_ms!r}")
        if not 0.0 < step_size < 2.0:
            raise ValueError(f"step_size must be in (0, 2), got {step_size!r}")
        if not 0.0 <= lead_ms < filter_ms:
            raise ValueError(f"lead_ms must be in [0, filter_ms), got {lead_ms!r}")
        fs = int(sample_rate)
        max_delay_ms, filter_ms, lead_ms = float(max_delay_ms), float(filter_ms), float(lead_ms)
        self.sample_rate = fs
        self.max_delay = round(max_delay_ms * fs / 1000.0)
        self.taps = max(round(filter_ms * fs / 1000.0), 1)
        self.lead = round(lead_ms * fs / 1000.0)
        self.step_size = float(step_size)
        # delay estimator geometry
        self._win = round(_EST_MS * fs / 1000.0)
        self._nfft = 1 << math.ceil(math.log2(self._win + self.max_delay))
        f = np.fft.rfftfreq(self._nfft, 1.0 / fs)
        self._band = (f >= _EST_BAND[0]) & (f <= _EST_BAND[1])
        # reference history: the filter's span plus one (pre-emphasis), and the estimator's
        self._hist_len = max(self._win, self.taps + 1) + self.max_delay
        L = self.taps
        self._prm = _params(fs, L, self.step_size)
        self._wr = np.zeros(L, np.float64)
        self._snaps = np.zeros((_N_SNAPS, L), np.float64)
        self._nfr = np.zeros(_NOISE_BLOCKS, np.float64)
        self._st = np.zeros(_NF, np.float64)
        self._ist = np.zeros(_NI, np.int64)
        self._xspec = np.zeros(self._nfft // 2 + 1, np.complex128)
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget everything (a new call): no delay, zero filter, no history."""
        self._ref = np.zeros(self._hist_len, np.float32)
        self._mic = np.zeros(self._win, np.float32)
        self._since_est = 0
        self._wr[:] = 0.0
        self._snaps[:] = 0.0
        self._st[:] = 0.0
        self._st[_NFC] = _UNSET
        self._st[_SC] = 1.0  # robust scale: starts wide open, tracks the error down
        self._nfr[:] = _UNSET
        self._ist[:] = 0
        self._ist[_CLEAN] = 1
        self._xspec[:] = 0.0
        self._delay: int | None = None
        self._pending: int | None = None
        self._confidence = 0.0

    @property
    def delay_samples(self) -> int | None:
        """Current bulk-delay estimate in samples (``None`` until known)."""
        return self._delay

    @property
    def delay_ms(self) -> float | None:
        """:attr:`delay_samples` in milliseconds."""
        return None if self._delay is None else 1000.0 * self._delay / self.sample_rate

    @property
    def delay_confidence(self) -> float:
        """PHAT peak / correlation RMS of the latest delay estimate (>= 10 is accepted)."""
        return self._confidence

    @property
    def erle_db(self) -> float:
        """Echo return loss enhancement, ``10 log10(mic power / residual power)``, averaged
        (0.5 s time constant) over samples with reference in the filter's span; 0.0 until
        the delay is known. Double talk lowers it (the caller's speech is in both)."""
        ey, ee = self._st[_EY], self._st[_EE]
        if ey <= 0.0 or ee <= 0.0:
            return 0.0
        return 10.0 * math.log10(ey / ee)

    @property
    def double_talk(self) -> bool:
        """Whether adaptation is currently frozen by the double-talk detector."""
        return bool(self._ist[_HOLD] > 0)

    @property
    def converged(self) -> bool:
        """Whether the filter is in its converged stage (ERLE >= 10 dB on echo-only activity)."""
        return bool(self._ist[_CONV])

    @property
    def _offset(self) -> int:
        return max(self._delay - self.lead, 0)

    # ------------------------------------------------------------------ processing
    def process(self, mic: np.ndarray, ref: np.ndarray) -> np.ndarray:
        """``mic``: what came in from the caller; ``ref``: what the server played during the
        same samples (same length, aligned: ``ref[i]`` was played when ``mic[i]`` was
        captured, zeros when nothing played). Returns the residual (mic with the echo
        removed), float32, same length."""
        mic = _as_f32_1d(mic, "mic", " (full scale 1.0)")
        ref = _as_f32_1d(ref, "ref", " (full scale 1.0)")
        if mic.size != ref.size:
            raise ValueError(f"mic and ref must have the same length, got {mic.size} and {ref.size}")
        for name, x in (("mic", mic), ("ref", ref)):
            if not np.isfinite(x).all():
                raise ValueError(f"{name} must be finite (no NaN or inf)")
        n = mic.size
        out = np.empty(n, np.float32)
        i = 0
        while i < n:
            m = min(n - i, self._win - self._since_est)
            mseg, rseg = mic[i:i + m], ref[i:i + m]
            work = np.concatenate((self._ref, rseg))
            if self._delay is None:
                out[i:i + m] = mseg
                self._ist[_N] += m
            else:
                _aec_run(mseg, work, self._hist_len, self._offset, self._wr, self._snaps,
                         self._nfr, self._st, self._ist, self._prm, out[i:i + m])
            self._ref = work[m:]
            self._mic = np.concatenate((self._mic[m:], mseg)) if m < self._win else mseg.copy()
            self._since_est += m
            if self._since_est == self._win:
                self._since_est = 0
                self._estimate()
            i += m
        return out

    def _estimate(self) -> None:
        """GCC-PHAT over the last window; may set or move the bulk delay."""
        D, W = self.max_delay, self._win
        mic = self._mic
        ref = self._ref[self._hist_len - W - D:]
        if float(np.dot(ref, ref)) <= (W + D) * _FLOOR_MS * 0.01 or float(np.dot(mic, mic)) <= W * _FLOOR_MS * 0.01:
            return
        M = np.fft.rfft(mic, self._nfft)
        R = np.fft.rfft(ref, self._nfft)
        self._xspec *= _EST_FORGET
        self._xspec += np.conj(M) * R
        S = self._xspec
        G = np.zeros_like(S)
        Sb = S[self._band]
        mag = np.abs(Sb)
        G[self._band] = Sb / (mag + 1e-3 * mag.mean() + 1e-30)
        g = np.abs(np.fft.irfft(G, self._nfft))
        j = int(np.argmax(g[:D + 1]))  # index j <-> delay D - j
        conf = float(g[j] / (math.sqrt(float(np.mean(g * g))) + 1e-30))
        self._confidence = conf
        if conf < _EST_CONFIDENCE:
            return
        d = D - j
        if self._delay is None:
            self._delay = d
            self._pending = None
            return
        if abs(d - self._delay) <= max(self.sample_rate // 2000, 1):  # within 0.5 ms: keep
            self._pending = None
            return
        if self._pending is None or abs(d - self._pending) > max(self.sample_rate // 2000, 1):
            self._pending = d
            return
        self._move(d)

    def _move(self, d: int) -> None:
        """Move the filter to bulk delay ``d``, keeping its coefficients at the same lags."""
        old = self._offset
        self._delay = d
        self._pending = None
        shift = self._offset - old
        L = self.taps
        # wr[j] weighs lag off + L - 1 - j: the same lag sits at j + shift after the move
        for arr in (self._wr, *self._snaps):
            moved = np.zeros(L, np.float64)
            if abs(shift) < L:
                if shift >= 0:
                    moved[shift:] = arr[:L - shift]
                else:
                    moved[:L + shift] = arr[-shift:]
            arr[:] = moved
        if abs(shift) >= L // 2:
            self._ist[_CONV] = 0
            self._ist[_ADAPT] = 0
            self._st[_SC] = 1.0


def _warmup() -> None:
    """Compile (or load) the kernel: a canceller only calls it once it knows the delay."""
    ec = EchoCanceller()
    ec._delay = 0
    x = np.zeros(160, np.float32)
    ec.process(x, x)
