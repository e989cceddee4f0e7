"""What n-best (``max_alternatives``) costs a final decode: N alternatives against one, same run.

    .venv/bin/python bench/nbest.py [--utterances 8] [--alternatives 3] [--repeats 2] [--words]

Decodes the tests' English telephone prompts with the server's default Whisper model, one
alternative and N alternatives alternately (so machine load hits both alike), and prints the
total time of each, the ratio N / 1 (target: at most 1.1), how many utterances got more than
one distinct alternative, how often the best transcript differs from the one-alternative
decode (n-best decodes without timestamp tokens) and the WER of both bests.
"""

from __future__ import annotations

import argparse
import os
import time

import soundfile as sf

from voice.config import load_config
from voice.core.audio import SAMPLE_RATE, resample
from voice.core.transcripts import DecodeOptions
from voice.runtime.engine import SpeechEngine
from voice.testing.paths import CACHE_DIR
from voice.testing.prompts import pick_prompts, wer

TARGET_RATIO = 1.1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=8)
    parser.add_argument("--alternatives", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--words", action="store_true", help="with word timings (enable_word_time_offsets)")
    args = parser.parse_args()

    engine = SpeechEngine(load_config(env={"VOICE_CACHE_DIR": str(CACHE_DIR)}))
    rec = engine.recognizer(None)
    audios, refs = [], []
    for prompt in pick_prompts("en", args.utterances, min_words=4):
        audio, rate = sf.read(prompt.path, dtype="float32")
        audios.append(resample(audio, rate, SAMPLE_RATE))
        refs.append(prompt.text)
    one = DecodeOptions(language="en", beam_size=engine.config.asr.beam_size, word_timestamps=args.words)
    many = DecodeOptions(language="en", beam_size=engine.config.asr.beam_size, word_timestamps=args.words,
                         alternatives=args.alternatives)
    rec.transcribe(audios[0], one)  # warm
    totals = {1: 0.0, args.alternatives: 0.0}
    with_alternatives = changed = 0
    hyps: dict[int, list[str]] = {1: [], args.alternatives: []}
    for _ in range(args.repeats):
        for audio in audios:
            t0 = time.perf_counter()
            best = rec.transcribe(audio, one)
            t1 = time.perf_counter()
            nbest = rec.transcribe(audio, many)
            t2 = time.perf_counter()
            totals[1] += t1 - t0
            totals[args.alternatives] += t2 - t1
            with_alternatives += bool(nbest.alternatives)
            changed += nbest.text != best.text
            hyps[1].append(best.text)
            hyps[args.alternatives].append(nbest.text)
    n = args.repeats * len(audios)
    ratio = totals[args.alternatives] / totals[1]
    print(f"load average {os.getloadavg()[0]:.1f}; {len(audios)} utterances x {args.repeats}, "
          f"beam {engine.config.asr.beam_size}, words {args.words}")
    print("| alternatives | total s | ratio to 1 | target | met |")
    print("|---|---|---|---|---|")
    print(f"| 1 | {totals[1]:.2f} | 1.00 | | |")
    print(f"| {args.alternatives} | {totals[args.alternatives]:.2f} | {ratio:.2f} | <= {TARGET_RATIO} | "
          f"{'yes' if ratio <= TARGET_RATIO else 'no'} |")
    print(f"decodes with more than one distinct alternative: {with_alternatives}/{n}; "
          f"best transcript differs from the 1-alternative decode: {changed}/{n}")
    print(f"WER of the best: 1 alternative {wer(refs * args.repeats, hyps[1]):.3f}, "
          f"{args.alternatives} alternatives {wer(refs * args.repeats, hyps[args.alternatives]):.3f}")
    engine.close()


if __name__ == "__main__":
    main()
