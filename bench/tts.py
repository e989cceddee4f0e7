"""Time to first audio and real-time factor: our streaming synthesis vs piper's own synthesize().

    .venv/bin/python bench/tts.py [--runs 5] [--texts ivr|wyoming] [--voice PATH.onnx] [--server HOST:PORT]

Baseline: ``PiperVoice.load(...).synthesize(text)`` from piper-tts with its default settings
(what wyoming-piper runs), sentence by sentence (its first audio is the whole first sentence).
Ours: :class:`voice.core.synthesis.SynthesisJob` on a ``VoicePool`` with the server's defaults
(first audio is the first clause, 50 ms chunks; the next pieces render ahead on the pool's
other sessions), same voice, same text, same machine, in-process; with ``--server`` also
through gRPC (``Synthesize``, 8 kHz mu-law). ``--texts wyoming``: wyoming-bench's 4 built-in
texts (1-4 sentences). Runs are interleaved, the order swapped every run, after a warm-up; TTFA
is the median, total the mean whole-text time, RTF = synthesis wall time / audio duration.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

TEXTS = [
    "Thank you for calling the city library, where you can renew books, pay fines and reserve study rooms. "
    "Please listen carefully, as our menu options have recently changed. For opening hours, press one.",
    "Your appointment with doctor Miller is confirmed for Tuesday morning at nine thirty, in the east building "
    "on the second floor. If you need to reschedule, please call us at least one day in advance.",
    "We are sorry, all of our agents are currently busy helping other customers and the expected waiting "
    "time is about five minutes. You can also visit our website to track your order.",
]
# wyoming-bench 2026.10's DEFAULT_TEXTS (wyoming_bench/tts/texts.py), what bench/wyoming.py sends
WYOMING_TEXTS = [
    "The weather today is sunny and warm with a light breeze.",
    "The quick brown fox jumps over the lazy dog. This sentence tests two-sentence synthesis.",
    "Text to speech is a fascinating field. Modern neural models produce remarkably natural audio. "
    "We benchmark them to compare performance.",
    "Welcome to the Wyoming protocol benchmark. We measure latency, streaming behavior, and throughput. "
    "Each sample is between one and four sentences long. Results help us choose the best engine for real-time use.",
]


def bench_piper(voice, text):
    from piper import SynthesisConfig

    t0 = time.perf_counter()
    first = None
    samples = 0
    for chunk in voice.synthesize(text, syn_config=SynthesisConfig()):
        if first is None:
            first = time.perf_counter() - t0
        samples += chunk.audio_int16_array.size
    return first, time.perf_counter() - t0, samples / voice.config.sample_rate


def bench_job(pool, text, language):
    from voice.core.planning import plan_pieces
    from voice.core.synthesis import SynthesisJob, SynthesisOptions

    t0 = time.perf_counter()
    job = SynthesisJob(pool, plan_pieces(text, language), SynthesisOptions())
    first = None
    samples = 0
    while (chunks := job.step()) is not None:
        if first is None and chunks:
            first = time.perf_counter() - t0
        samples += sum(c.samples for c in chunks)
    return first, time.perf_counter() - t0, samples / job.out_rate


def bench_grpc(address, text):
    import grpc
    from voice_api.v1 import audio_pb2, synthesizer_pb2, synthesizer_pb2_grpc

    with grpc.insecure_channel(address) as ch:
        stub = synthesizer_pb2_grpc.SynthesizerStub(ch)
        t0 = time.perf_counter()
        first = None
        samples = 0
        for r in stub.Synthesize(synthesizer_pb2.SynthesizeRequest(text=text, encoding=audio_pb2.MULAW,
                                                                   sample_rate_hertz=8000)):
            if first is None:
                first = time.perf_counter() - t0
            samples += len(r.audio_content)
        return first, time.perf_counter() - t0, samples / 8000


def report(name, results):
    ttfa = statistics.median(r[0] for r in results)
    rtf = sum(r[1] for r in results) / sum(r[2] for r in results)
    audio = statistics.median(r[2] for r in results)
    total = statistics.fmean(r[1] for r in results)
    print(f"{name:<34} TTFA {ttfa * 1000:7.1f} ms   total {total * 1000:7.1f} ms   RTF {rtf:.3f}   "
          f"(median audio {audio:.2f} s)")
    return ttfa, rtf, total


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--texts", choices=("ivr", "wyoming"), default="ivr",
                        help="ivr: three long IVR prompts; wyoming: wyoming-bench's 4 texts (1-4 sentences)")
    parser.add_argument("--voice", default="", help="Piper .onnx (default: the embedded en_US-joe-medium)")
    parser.add_argument("--server", default="", help="also measure gRPC Synthesize on HOST:PORT")
    args = parser.parse_args(argv)

    import os

    from piper import PiperVoice

    import kernels
    from voice.engines.piper import VoicePool
    from voice.engines.voices import read_voice_info
    from voice.runtime.models import embedded_voice_path

    texts = WYOMING_TEXTS if args.texts == "wyoming" else TEXTS
    onnx = Path(args.voice) if args.voice else embedded_voice_path()
    info = read_voice_info(onnx)
    kernels.warmup()
    baseline = PiperVoice.load(str(onnx))
    pool = VoicePool(info)
    for text in texts:  # warm-up (every session of the pool: a text of several pieces uses them all)
        bench_piper(baseline, text)
        bench_job(pool, text, info.language)
    print(f"voice {info.name}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, {args.runs} runs x "
          f"{len(texts)} texts, pool of {pool.size} sessions x {pool.threads} threads\n")
    print("per text:")
    all_p, all_o = [], []
    for i, text in enumerate(texts):
        p, o = [], []
        for run in range(args.runs):  # interleaved, order swapped, so load changes hit both alike
            if run % 2:
                o.append(bench_job(pool, text, info.language))
                p.append(bench_piper(baseline, text))
            else:
                p.append(bench_piper(baseline, text))
                o.append(bench_job(pool, text, info.language))
        all_p += p
        all_o += o
        tp, _, sp = report(f"  text {i + 1}: piper synthesize()", p)
        to, _, so = report(f"  text {i + 1}: voice SynthesisJob", o)
        print(f"  text {i + 1}: TTFA ratio {to / tp:.2f}   total ratio {so / sp:.2f}")
    print("\nall texts:")
    tp, rp, sp = report("piper synthesize() (sentences)", all_p)
    to, ro, so = report("voice SynthesisJob (clauses)", all_o)
    print(f"TTFA ratio (ours / piper): {to / tp:.2f}   total ratio: {so / sp:.2f}   RTF ratio: {ro / rp:.2f}   "
          f"(load average {os.getloadavg()[0]:.1f})")
    if args.server:
        g = [bench_grpc(args.server, t) for t in texts for _ in range(args.runs)]
        report("gRPC Synthesize, 8 kHz mu-law", g)
    return 0


if __name__ == "__main__":
    sys.exit(main())
