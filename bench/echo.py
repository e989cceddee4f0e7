"""Benchmark the echo canceller (kernels.echo) against plain numpy/scipy references, one run.

    .venv/bin/python bench/echo.py [--quick] [--seconds 4]

One call (one EchoCanceller) at 16 kHz fed 20 ms chunks of mic + reference, as the service
will. Every row times the reference and ours alternately (median over repeats of the time
per second of audio), so machine load hits both alike; ratio = reference time / ours.
References, measured in the same run:

* a plain numpy NLMS loop (per-sample ``w @ x`` and update, same 16 ms filter, the true
  delay given, no delay search, no double-talk detector): the straightforward Python way;
* ``scipy.signal.lfilter`` running a *fixed* 16 ms FIR over each chunk (with carried state):
  the cost of the filtering step alone in C, the floor for anything that filters per chunk
  (ours also adapts the filter every sample, so a ratio below 1x is expected there).

The goal is the per-call CPU cost: well under 5 % of one core (real-time factor < 0.05).
The ERLE table shows what each variant removes on the same signal (after the first second).
"""

from __future__ import annotations

import os

# single thread everywhere, before numpy / numba are imported
for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import statistics
import sys
import time

import numpy as np
from scipy import signal

import kernels
from kernels import EchoCanceller
from voice.testing.signals import talker

FS = 16000
CHUNK = 320  # 20 ms


def phone_line(ref, delay_ms=120, gain_db=-10):
    """Echo over a G.711 line: delay, gain, 300-3400 Hz band-pass, -65 dBFS noise, mu-law."""
    d = delay_ms * FS // 1000
    y = np.zeros(ref.size)
    y[d:] = ref[:ref.size - d]
    sos = signal.butter(2, [300, 3400], btype="bandpass", fs=FS, output="sos")
    y = signal.sosfilt(sos, y) * 10 ** (gain_db / 20)
    y += np.random.default_rng(5).standard_normal(y.size) * 10 ** (-65 / 20)
    pcm = np.clip(np.round(y * 32768), -32768, 32767).astype(np.int16)
    return kernels.int16_to_float32(kernels.mulaw_decode(kernels.mulaw_encode(pcm))), d


class NumpyNLMS:
    """Reference: textbook NLMS in numpy, per sample, streaming (known bulk delay)."""

    def __init__(self, delay, taps, mu=0.5):
        self.delay, self.taps, self.mu = delay, taps, mu
        self.w = np.zeros(taps)
        self.hist = np.zeros(delay + taps)

    def process(self, mic, ref):
        work = np.concatenate((self.hist, ref.astype(np.float64)))
        out = np.empty(mic.size, np.float32)
        T, D, base = self.taps, self.delay, self.hist.size
        w = self.w
        for i in range(mic.size):
            s = base + i - D
            x = work[s - T + 1:s + 1][::-1]  # x[k] = ref[n - D - k]
            e = mic[i] - w @ x
            w += (self.mu * e / (x @ x + 1e-6)) * x
            out[i] = e
        self.hist = work[-base:]
        return out


class LfilterFIR:
    """Reference: the filtering step alone, a fixed FIR via scipy.signal.lfilter with state."""

    def __init__(self, h):
        self.h = h
        self.zi = np.zeros(h.size - 1)

    def process(self, mic, ref):
        yhat, self.zi = signal.lfilter(self.h, [1.0], ref, zi=self.zi)
        return (mic - yhat).astype(np.float32)


def run_stream(make, mic, ref):
    obj = make()
    return np.concatenate([obj.process(mic[k:k + CHUNK], ref[k:k + CHUNK]) for k in range(0, mic.size, CHUNK)])


def compare(ref_fn, ours_fn, repeats):
    ref_fn(), ours_fn()  # warm
    r, o = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ref_fn()
        r.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ours_fn()
        o.append(time.perf_counter() - t0)
    return statistics.median(r), statistics.median(o)


def erle(mic, res):
    m, r = mic[FS:].astype(np.float64), res[FS:].astype(np.float64)
    return 10 * np.log10(np.sum(m * m) / np.sum(r * r))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats (smoke run)")
    ap.add_argument("--seconds", type=float, default=4.0, help="audio per timed run")
    args = ap.parse_args()
    import numba

    numba.set_num_threads(1)
    print("warming up (compiles on the first run, then loads from the numba cache)...", file=sys.stderr)
    kernels.warmup()
    reps = 3 if args.quick else 7
    secs = args.seconds
    far = talker(secs, seed=1)
    mic, delay = phone_line(far)
    taps = 16 * FS // 1000

    rows = []

    def row(what, reference, t_ref, t_ours, audio_s):
        per_ours = t_ours / audio_s
        per_ref = None if t_ref is None else t_ref / audio_s
        rows.append((what, reference, "-" if per_ref is None else f"{per_ref * 1e3:.2f} ms",
                     f"{per_ours * 1e3:.2f} ms", "-" if per_ref is None else f"{per_ref / per_ours:.1f}x",
                     f"{per_ours * 100:.2f} %", "yes" if per_ours < 0.05 else "**no**"))
        print(f"  {what} vs {reference}: {'-' if per_ref is None else f'{per_ref * 1e3:.2f}'} / "
              f"{per_ours * 1e3:.2f} ms per s of audio", file=sys.stderr)

    ours = lambda: run_stream(EchoCanceller, mic, far)
    # the numpy loop is slow: time it on the first second only, per second of audio
    n1 = FS
    t_np, t_ours1 = compare(lambda: run_stream(lambda: NumpyNLMS(delay, taps), mic[:n1], far[:n1]),
                            lambda: run_stream(EchoCanceller, mic[:n1], far[:n1]), max(reps // 2, 2))
    row("EchoCanceller (16 ms filter, delay search, DTD), 20 ms chunks", "numpy NLMS loop, known delay",
        t_np, t_ours1, 1.0)
    h = np.zeros(taps)
    h[:8] = [0.05, 0.2, 0.1, -0.05, 0.02, 0.01, -0.01, 0.005]
    t_lf, t_ours = compare(lambda: run_stream(lambda: LfilterFIR(h), mic, far), ours, reps)
    row("EchoCanceller (16 ms filter, delay search, DTD), 20 ms chunks",
        "scipy lfilter, fixed 16 ms FIR (filtering only)", t_lf, t_ours, secs)
    for fms in (32.0, 64.0):
        t_lf2, t_big = compare(lambda f=fms: run_stream(lambda: LfilterFIR(np.resize(h, int(f * 16))), mic, far),
                               lambda f=fms: run_stream(lambda: EchoCanceller(filter_ms=f), mic, far), reps)
        row(f"EchoCanceller, filter_ms={fms:g}", f"scipy lfilter, fixed {fms:g} ms FIR", t_lf2, t_big, secs)
    quiet = np.zeros_like(mic)  # reference playing, no echo: delay search + wrapper, no NLMS
    _, t_est = compare(lambda: None, lambda: run_stream(EchoCanceller, quiet, far), reps)
    row("of which: delay search + wrapper (no echo found, NLMS idle)", "-", None, t_est, secs)

    print(f"\nOne call, 16 kHz, 20 ms chunks, {secs:g} s of speech-like audio, single thread "
          f"(numba threads = {numba.get_num_threads()}), warm, median of {reps} repeats; "
          f"times per second of audio; ratio = reference / ours.\n")
    print("| ours | reference | reference time | our time | ratio | our CPU (1 core) | < 5 % |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")

    res_ours = run_stream(EchoCanceller, mic, far)
    res_np = run_stream(lambda: NumpyNLMS(delay, taps), mic, far)
    print("\n| variant (same signal: 120 ms, -10 dB, G.711) | ERLE after 1 s |")
    print("|---|---|")
    print(f"| EchoCanceller (delay found: {_delay(mic, far)} samples, true {delay}) "
          f"| {erle(mic, res_ours):.1f} dB |")
    print(f"| numpy NLMS loop, mu 0.5, true delay | {erle(mic, res_np):.1f} dB |")


def _delay(mic, far):
    ec = EchoCanceller()
    ec.process(mic, far)
    return ec.delay_samples


if __name__ == "__main__":
    main()
