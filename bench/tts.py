"""Time to first audio and real-time factor: our streaming synthesis vs piper's own synthesize().

    .venv/bin/python bench/tts.py [--runs 5] [--voice PATH.onnx] [--server HOST:PORT]

Baseline: ``PiperVoice.synthesize(text)`` from piper-tts, sentence by sentence (its first
audio is the whole first sentence). Ours: :class:`voice.core.synthesis.SynthesisJob` (first audio is the
first clause, 50 ms chunks), same voice, same text, same machine, in-process; with
``--server`` also through gRPC (``Synthesize``, 8 kHz mu-law). Each figure is the median of
``--runs`` interleaved runs after a warm-up. RTF = synthesis wall time / audio duration.
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
    print(f"{name:<34} TTFA {ttfa * 1000:7.1f} ms   RTF {rtf:.3f}   (median audio {audio:.2f} s)")
    return ttfa, rtf


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--voice", default="", help="Piper .onnx (default: the embedded en_US-joe-medium)")
    parser.add_argument("--server", default="", help="also measure gRPC Synthesize on HOST:PORT")
    args = parser.parse_args(argv)

    import os

    from piper import PiperVoice

    import kernels
    from voice.engines.piper import VoicePool
    from voice.engines.voices import read_voice_info
    from voice.runtime.models import embedded_voice_path

    onnx = Path(args.voice) if args.voice else embedded_voice_path()
    info = read_voice_info(onnx)
    kernels.warmup()
    baseline = PiperVoice.load(str(onnx))
    pool = VoicePool(info)
    for text in TEXTS:  # warm-up
        bench_piper(baseline, text)
        bench_job(pool, text, info.language)
    print(f"voice {info.name}, {os.cpu_count()} CPUs, {args.runs} runs x {len(TEXTS)} texts, "
          f"pool of {pool.size} sessions\n")
    print("per text:")
    all_p, all_o = [], []
    for i, text in enumerate(TEXTS):
        p, o = [], []
        for _ in range(args.runs):  # interleaved, so load changes on a shared machine hit both alike
            p.append(bench_piper(baseline, text))
            o.append(bench_job(pool, text, info.language))
        all_p += p
        all_o += o
        tp, _ = report(f"  text {i + 1}: piper synthesize()", p)
        to, _ = report(f"  text {i + 1}: voice SynthesisJob", o)
        print(f"  text {i + 1}: TTFA ratio {to / tp:.2f}")
    print("\nall texts:")
    tp, rp = report("piper synthesize() (sentences)", all_p)
    to, ro = report("voice SynthesisJob (clauses)", all_o)
    print(f"TTFA ratio (ours / piper): {to / tp:.2f}   RTF ratio: {ro / rp:.2f}")
    if args.server:
        g = [bench_grpc(args.server, t) for t in TEXTS for _ in range(args.runs)]
        report("gRPC Synthesize, 8 kHz mu-law", g)
    return 0


if __name__ == "__main__":
    sys.exit(main())
