"""Benchmark the numba kernels against their references, in one run, single thread, warm.

    .venv/bin/python bench/dsp.py [--quick] [--streams 256]

Every row times the reference and our kernel alternately (median over repeats of the
per-call time), so machine load hits both alike; the ratio is reference time / our time.
Prints a markdown table with the target and whether it is met. References (faster-whisper's
FeatureExtractor, soxr, scipy, audioop) are bench/test dependencies only.
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
import warnings

import numpy as np

import kernels

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop  # Python <= 3.12 stdlib; audioop-lts on 3.13+
    except ImportError:  # pragma: no cover
        audioop = None


def timed(fn, number):
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def compare(ref, ours, number, repeats):
    """Median per-call seconds of ``ref`` and ``ours``, measured alternately."""
    ref(), ours()  # warm
    r, o = [], []
    for _ in range(repeats):
        r.append(timed(ref, number))
        o.append(timed(ours, number))
    return statistics.median(r), statistics.median(o)


def fmt(s):
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.2f} us"


ROWS = []


def row(kernel, reference, t_ref, t_ours, target):
    ratio = t_ref / t_ours
    met = "yes" if target is None or ratio >= target else "**no**"
    ROWS.append((kernel, reference, fmt(t_ref), fmt(t_ours), f"{ratio:.1f}x",
                 "-" if target is None else f">= {target:g}x", met if target is not None else "-"))
    print(f"  {kernel} vs {reference}: {fmt(t_ref)} / {fmt(t_ours)} = {ratio:.2f}x", file=sys.stderr)


def speech(n, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    return (rng.standard_normal(n) * 0.1 * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def bench_logmel(q):
    from faster_whisper.feature_extractor import FeatureExtractor

    fe = FeatureExtractor(80)
    x = speech(16000 * 30)
    t_ref, t_ours = compare(lambda: fe(x), lambda: kernels.log_mel_spectrogram(x), 1 if q else 3, 3 if q else 7)
    row("log-mel, 30 s (80 mels)", "faster-whisper FeatureExtractor", t_ref, t_ours, 3)

    secs = 5 if q else 10
    audio = speech(16000 * secs, seed=1)
    chunks = [audio[i:i + 1600] for i in range(0, audio.size, 1600)]

    def ref():
        for i in range(len(chunks)):
            fe(audio[:(i + 1) * 1600])

    def ours():
        st = kernels.LogMelStream(80)
        for c in chunks:
            st.push(c)

    t_ref, t_ours = compare(ref, ours, 1, 3 if q else 5)
    row(f"incremental log-mel, per 100 ms chunk ({secs} s stream)", "FeatureExtractor on the growing buffer",
        t_ref / len(chunks), t_ours / len(chunks), 10)


def bench_resample(q):
    import soxr
    from scipy.signal import resample_poly

    x = speech(8000 * 2)
    chunks = [x[i:i + 160] for i in range(0, x.size, 160)]  # 20 ms at 8 kHz

    def ours():
        rs = kernels.StreamingResampler(8000, 16000)
        for c in chunks:
            rs.process(c)

    def ref_soxr():
        rs = soxr.ResampleStream(8000, 16000, 1, dtype="float32", quality="HQ")
        for c in chunks:
            rs.resample_chunk(c)

    def ref_scipy():
        for c in chunks:
            resample_poly(c, 2, 1)

    n = len(chunks)
    t_ref, t_ours = compare(ref_soxr, ours, 3 if q else 10, 5 if q else 9)
    row("resample 8->16 kHz, 20 ms chunks, streaming", "soxr ResampleStream (HQ)", t_ref / n, t_ours / n, 1)
    t_ref, t_ours = compare(ref_scipy, ours, 1, 3 if q else 5)
    row("resample 8->16 kHz, 20 ms chunks, streaming", "scipy resample_poly", t_ref / n, t_ours / n, 30)

    x = speech(22050 * 2)
    chunks = [x[i:i + 2205] for i in range(0, x.size, 2205)]  # 100 ms TTS chunks

    def ours2():
        rs = kernels.StreamingResampler(22050, 8000)
        for c in chunks:
            rs.process(c)

    def soxr2():
        rs = soxr.ResampleStream(22050, 8000, 1, dtype="float32", quality="HQ")
        for c in chunks:
            rs.resample_chunk(c)

    t_ref, t_ours = compare(soxr2, ours2, 2 if q else 5, 5 if q else 7)
    row("resample 22.05->8 kHz (TTS to phone), 100 ms chunks", "soxr ResampleStream (HQ)",
        t_ref / len(chunks), t_ours / len(chunks), None)


def bench_g711(q):
    if audioop is None:
        print("audioop not available: G.711 rows skipped", file=sys.stderr)
        return
    rng = np.random.default_rng(0)
    for label, n, number in (("20 ms", 160, 2000 if q else 20000), ("60 s", 8000 * 60, 5 if q else 20)):
        pcm = (rng.standard_normal(n) * 4000).astype(np.int16)
        pcm_bytes = pcm.tobytes()
        ulaw = audioop.lin2ulaw(pcm_bytes, 2)
        alaw = audioop.lin2alaw(pcm_bytes, 2)
        reps = 5 if q else 9
        for name, ref, ours in (
            ("mu-law decode", lambda: audioop.ulaw2lin(ulaw, 2), lambda: kernels.mulaw_decode(ulaw)),
            ("mu-law encode", lambda: audioop.lin2ulaw(pcm_bytes, 2), lambda: kernels.mulaw_encode(pcm)),
            ("A-law decode", lambda: audioop.alaw2lin(alaw, 2), lambda: kernels.alaw_decode(alaw)),
            ("A-law encode", lambda: audioop.lin2alaw(pcm_bytes, 2), lambda: kernels.alaw_encode(pcm)),
        ):
            t_ref, t_ours = compare(ref, ours, number, reps)
            row(f"G.711 {name}, {label}", "audioop (C)", t_ref, t_ours, 2)


def bench_telephony(q, n_streams):
    rng = np.random.default_rng(0)
    ticks = 10 if q else 25
    data = [[kernels.mulaw_encode((rng.standard_normal(160) * 3000).astype(np.int16)).tobytes()
             for _ in range(n_streams)] for _ in range(ticks)]

    def batched():
        b = kernels.TelephonyBatch(n_streams)
        for tick in data:
            b.process(tick)

    def per_stream_fused():
        fes = [kernels.TelephonyFrontEnd() for _ in range(n_streams)]
        for tick in data:
            for fe, chunk in zip(fes, tick):
                fe.process(chunk)

    def per_stream_separate():
        rss = [kernels.StreamingResampler(8000, 16000) for _ in range(n_streams)]
        pend = [np.zeros(0, np.int16) for _ in range(n_streams)]
        for tick in data:
            for s, chunk in enumerate(tick):
                audio = rss[s].process(kernels.int16_to_float32(kernels.mulaw_decode(chunk)))
                p = np.concatenate([pend[s], kernels.float32_to_int16(audio)])
                k = p.size // 320 * 320
                kernels.frame_rms_dbfs(p[:k], 320)
                pend[s] = p[k:]

    reps = 3 if q else 7
    t_ref, t_ours = compare(per_stream_fused, batched, 1, reps)
    row(f"batched telephony front end, {n_streams} streams x 20 ms", "per-stream fused front end calls",
        t_ref / ticks, t_ours / ticks, 5)
    t_ref2, t_ours2 = compare(per_stream_separate, batched, 1, reps)
    row(f"batched telephony front end, {n_streams} streams x 20 ms",
        "per-stream separate kernels (decode, convert, resample, frame, energy)", t_ref2 / ticks, t_ours2 / ticks, 5)
    per_tick = min(t_ours, t_ours2) / ticks
    streams_per_core = n_streams * 0.020 / per_tick
    ROWS.append(("batched telephony front end: real-time streams per core", "goal", "-",
                 f"{per_tick * 1e6 / n_streams:.2f} us / stream / 20 ms", f"{streams_per_core:,.0f} streams",
                 ">= 2,000", "yes" if streams_per_core >= 2000 else "**no**"))

    x = [speech(160, seed=s) for s in range(n_streams)]

    def rs_batched():
        b = kernels.ResamplerBatch(n_streams, 8000, 16000)
        for _ in range(ticks):
            b.process(x)

    def rs_single():
        rss = [kernels.StreamingResampler(8000, 16000) for _ in range(n_streams)]
        for _ in range(ticks):
            for r, c in zip(rss, x):
                r.process(c)

    t_ref, t_ours = compare(rs_single, rs_batched, 1, reps)
    row(f"batched resampler 8->16 kHz, {n_streams} streams x 20 ms", "per-stream StreamingResampler calls",
        t_ref / ticks, t_ours / ticks, None)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats (smoke run)")
    ap.add_argument("--streams", type=int, default=256)
    args = ap.parse_args()
    import numba

    numba.set_num_threads(1)
    print("warming up (compiles on the first run, then loads from the numba cache)...", file=sys.stderr)
    kernels.warmup()
    bench_logmel(args.quick)
    bench_resample(args.quick)
    bench_g711(args.quick)
    bench_telephony(args.quick, args.streams)
    print(f"\nSingle thread (numba threads = {numba.get_num_threads()}), warm, median of repeats; "
          f"ratio = reference time / kernel time.\n")
    print("| kernel | reference | reference time | kernel time | ratio | target | met |")
    print("|---|---|---|---|---|---|---|")
    for r in ROWS:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
