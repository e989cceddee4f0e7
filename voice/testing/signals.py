"""Synthetic speech-like signals for DSP tests and benchmarks (no recordings needed)."""

from __future__ import annotations

import numpy as np
from scipy import signal

FS = 16000


def talker(seconds: float, seed: int, f0: float = 120.0, formant_shift: float = 1.0,
            level_db: float = -20.0) -> np.ndarray:
    """Speech-like float32 signal: voiced/unvoiced syllables with formants, words, pauses."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    out = np.zeros(n)
    t = 0
    while t < n:
        for _ in range(int(rng.integers(2, 6))):  # syllables per word
            dur = min(int(rng.uniform(0.14, 0.28) * FS), n - t)
            if dur <= 16:
                break
            pitch = f0 * (1 + 0.15 * rng.standard_normal()) * np.linspace(1.05, 0.95, dur)
            phase = np.floor(np.cumsum(pitch / FS))
            pulses = np.diff(phase, prepend=phase[0])
            voiced = rng.random() < 0.75
            exc = pulses * (6.0 if voiced else 0.0) + 0.25 * rng.standard_normal(dur)
            seg = np.zeros(dur)
            for lo, hi, bw in ((300, 800, 90), (900, 2200, 120), (2300, 3200, 180)):
                fc = rng.uniform(lo, hi) * formant_shift
                r = np.exp(-np.pi * bw / FS)
                seg += signal.lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * fc / FS), r * r], exc)
            out[t:t + dur] = seg * np.sin(np.pi * np.arange(dur) / dur) ** 1.5
            t += dur
        t += int(rng.uniform(0.1, 0.45) * FS)  # pause between words
    out *= 10 ** (level_db / 20) / np.sqrt(np.mean(out[out != 0] ** 2))
    return out.astype(np.float32)
