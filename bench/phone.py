"""Telephone answers benchmark: digits, numbers, amounts, dates, times and yes/no per language.

The clips are Debian asterisk-core-sounds ``digits/`` prompts joined into answers with their
text known by construction, plus yes/no words taken from prompts
(:mod:`voice.testing.phone` says which). Per language, one real-time stream through
`voice serve` (gRPC, 8 kHz LINEAR16, 100 ms chunks, interim results on, no declared
language, every tested language a candidate) first hears an ordinary prompt of its language,
then each clip followed by 1.2 s of silence; with ``--hints`` each clip is preceded by a
control message naming the answer it expects (``--lengths``: and, for digit strings, how
many digits, as an IVR asking for "your 6-digit PIN" would; ``--length-range 4-8``: the same
range for every digit string, as one asking for "your account number, 4 to 8 digits"). The same clips go through offline
faster-whisper base (beam 5, language detection, no hints) as the reference.

Per language and kind it prints:

* ``acc``: whole-string accuracy: the final, normalised (lower case, no accents or
  punctuation, spoken numbers as digits, digits one token each), equals the reference;
* ``val``: the structured answer equals the expected value (``--hints`` runs only; for the
  offline reference, its plain transcript read with the same grammar);
* ``wer``: word error rate over the same normalised tokens;
* ``lid``: language-ID accuracy on clips shorter than 2 s;
* ``p50``/``p95``: end of speech (the last chunk of the clip sent) -> final arrived, seconds.

Usage: .venv/bin/python bench/phone.py [--langs en,fr,es,it,ru] [--hints] [--digits 8] ...
Starts its own server on a free loopback port (or --server HOST:PORT).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import grpc
import numpy as np
import soxr
from voice_api.v1 import audio_pb2, recognizer_pb2, recognizer_pb2_grpc

from voice.core.answers import Expect, parse
from voice.core.itn import fold, normalize
from voice.testing.harness import free_port, pct, start_server
from voice.testing.paths import CACHE_DIR
from voice.testing.phone import KINDS, RATE, Clip, build_clips
from voice.testing.prompts import pick_prompts

CHUNK_MS = 100
GAP_S = 1.2
LEAD_S = 0.3
SHORT_S = 2.0


def tokens(text: str, lang: str) -> list[str]:
    """Scoring form: ITN'd, folded, no punctuation, each digit its own token."""
    out = []
    for word in fold(normalize(text, lang)).replace("'", " ").split():
        word = "".join(c for c in word if c.isalnum())
        if not word:
            continue
        if word[:1].isdigit():  # "3232", "15th", "1er"
            out += list(word.rstrip("abcdefghijklmnopqrstuvwxyzº"))
        else:
            out.append(word)
    return out


def edits(ref: list[str], hyp: list[str]) -> int:
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
    return d[len(hyp)]


# -- our server -----------------------------------------------------------------------------

def _expect_enum(kind: str):
    enum = getattr(recognizer_pb2, "ExpectedAnswer", None)
    return None if enum is None else enum.Value(f"EXPECT_{kind.upper()}")


def run_language(address: str, lang: str, clips: list[Clip], candidates: list[str], hints: bool,
                 lengths: bool = False, length_range: tuple[int, int] = (0, 0)) -> list[dict]:
    """One real-time stream: an intro prompt, then the clips; one row per clip."""
    intro = pick_prompts(lang, 1, min_words=6, max_words=14)
    pieces: list[tuple[np.ndarray, int | None]] = []  # (int16 audio, clip index or None)
    import soundfile as sf

    if intro:
        audio, _ = sf.read(intro[0].path, dtype="float32")
        pieces.append((audio, None))
    for i, clip in enumerate(clips):
        pieces.append((clip.audio, i))
    spans: dict[int, tuple[float, float]] = {}
    stream: list[tuple[np.ndarray, int | None]] = []
    pos = 0.0
    for audio, idx in pieces:
        lead = np.zeros(int(LEAD_S * RATE), np.float32)
        gap = np.zeros(int(GAP_S * RATE), np.float32)
        if idx is not None:
            spans[idx] = (pos + LEAD_S, pos + LEAD_S + len(audio) / RATE)
        stream.append((np.concatenate([lead, audio, gap]), idx))
        pos += (len(lead) + len(audio) + len(gap)) / RATE
    sent: dict[float, float] = {}
    step = RATE * CHUNK_MS // 1000

    def requests():
        cfg = recognizer_pb2.RecognitionConfig(encoding=audio_pb2.LINEAR16, sample_rate_hertz=RATE,
                                               alternative_language_codes=candidates)
        yield recognizer_pb2.StreamingRecognizeRequest(
            streaming_config=recognizer_pb2.StreamingRecognitionConfig(config=cfg, interim_results=True))
        start = time.monotonic()
        t = 0
        for audio, idx in stream:
            if hints:
                kind = clips[idx].kind if idx is not None else "free"
                size = len(clips[idx].value) if lengths and kind == "digits" else 0
                low, high = (size, size) if size or kind != "digits" else length_range
                yield recognizer_pb2.StreamingRecognizeRequest(
                    update=recognizer_pb2.RecognitionUpdate(expected_answer=_expect_enum(kind),
                                                            expected_length=recognizer_pb2.AnswerLength(
                                                                min=low, max=high)))
            pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
            for i in range(0, len(pcm), step):
                delay = start + t / RATE - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                chunk = pcm[i:i + step]
                yield recognizer_pb2.StreamingRecognizeRequest(audio_content=chunk.tobytes())
                t += len(chunk)
                sent[round(t / RATE, 3)] = time.monotonic()

    finals = []
    with grpc.insecure_channel(address) as ch:
        stub = recognizer_pb2_grpc.RecognizerStub(ch)
        for resp in stub.StreamingRecognize(requests()):
            now = time.monotonic()
            for r in resp.results:
                if r.is_final:
                    finals.append((now, r))
    rows = []
    for i, clip in enumerate(clips):
        s, e = spans[i]
        hits = [(now, r) for now, r in finals
                if r.result_start_time.ToTimedelta().total_seconds() < e + 0.3
                and r.result_end_time.ToTimedelta().total_seconds() > s - 0.3]
        text = " ".join(r.alternatives[0].transcript for _, r in hits)
        keys = [k for k in sent if k >= e - 1e-6]
        latency = (hits[-1][0] - sent[min(keys)]) if hits and keys else float("nan")
        language = hits[0][1].language_code if hits else ""
        answer = ""
        if hits and hasattr(hits[-1][1], "answer") and hits[-1][1].HasField("answer"):
            answer = hits[-1][1].answer.value
        row = _row(clip, text, language, latency, answer)
        row["span"] = (round(s, 2), round(e, 2))
        row["finals"] = [(round(r.result_start_time.ToTimedelta().total_seconds(), 2),
                          round(r.result_end_time.ToTimedelta().total_seconds(), 2), r.alternatives[0].transcript)
                         for _, r in hits]
        rows.append(row)
    return rows


def _row(clip: Clip, text: str, language: str, latency: float, answer: str | None) -> dict:
    ref, hyp = tokens(clip.reference, clip.lang), tokens(text, clip.lang)
    return {"lang": clip.lang, "kind": clip.kind, "value": clip.value, "text": text, "language": language,
            "ok": ref == hyp, "edits": edits(ref, hyp), "ref_words": len(ref), "latency": latency,
            "answer": answer, "answer_ok": answer == clip.value if answer is not None else None,
            "short": clip.duration < SHORT_S}


# -- offline faster-whisper base -------------------------------------------------------------

def run_offline(clips: list[Clip]) -> list[dict]:
    from faster_whisper import WhisperModel

    from voice.runtime.models import resolve_whisper_model

    model = WhisperModel(str(resolve_whisper_model("base", CACHE_DIR)), device="cpu", compute_type="int8",
                         cpu_threads=2, local_files_only=True)
    rows = []
    for clip in clips:
        audio = soxr.resample(clip.audio, RATE, 16000).astype(np.float32)
        t0 = time.monotonic()
        segments, info = model.transcribe(audio, beam_size=5)
        text = " ".join(s.text.strip() for s in segments)
        # its value read with the same grammar as ours (what parsing plain Whisper output gives)
        answer = parse(Expect(clip.kind), text, clip.lang)
        rows.append(_row(clip, text, info.language, time.monotonic() - t0, answer.value if answer else ""))
    return rows


# -- report ---------------------------------------------------------------------------------

def summarise(rows: list[dict]) -> dict:
    n = len(rows)
    short = [r for r in rows if r["short"]]
    lat = [r["latency"] for r in rows if r["latency"] == r["latency"]]
    answers = [r["answer_ok"] for r in rows if r["answer_ok"] is not None and r["answer"] is not None]
    return {
        "n": n,
        "acc": sum(r["ok"] for r in rows) / n if n else float("nan"),
        "wer": sum(r["edits"] for r in rows) / max(1, sum(r["ref_words"] for r in rows)),
        "lid": (sum(r["language"] == r["lang"] for r in short) / len(short)) if short else float("nan"),
        "short": len(short),
        "p50": pct(lat, 50), "p95": pct(lat, 95),
        "val": (sum(answers) / len(answers)) if answers else float("nan"),
    }


def table(ours: list[dict], offline: list[dict], hints: bool) -> str:
    def f(x, pctg=True):
        if x != x:
            return "-"
        return f"{x * 100:.0f} %" if pctg else f"{x:.2f}"

    head = ("| lang | kind | n | acc | " + ("val | " if hints else "") + "wer | lid (<2 s) | p50 s | p95 s "
            "| base acc | base val | base wer | base lid |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    groups = defaultdict(list)
    base = defaultdict(list)
    for r in ours:
        groups[(r["lang"], r["kind"])].append(r)
        groups[(r["lang"], "all")].append(r)
    for r in offline:
        base[(r["lang"], r["kind"])].append(r)
        base[(r["lang"], "all")].append(r)
    for (lang, kind) in sorted(groups, key=lambda k: (k[0], (KINDS + ("all",)).index(k[1]))):
        a, b = summarise(groups[(lang, kind)]), summarise(base[(lang, kind)])
        lid = f"{f(a['lid'])} ({a['short']})" if a["short"] else "-"
        blid = f"{f(b['lid'])}" if b["short"] else "-"
        cells = [lang, kind, str(a["n"]), f(a["acc"])] + ([f(a["val"])] if hints else []) + [
            f(a["wer"]), lid, f(a["p50"], False), f(a["p95"], False), f(b["acc"]), f(b["val"]), f(b["wer"]), blid]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", help="use a running server instead of starting one")
    ap.add_argument("--langs", default="en,fr,es,it,ru")
    ap.add_argument("--hints", action="store_true", help="send each clip's expected answer before it")
    ap.add_argument("--lengths", action="store_true",
                    help="with --hints: each digits clip's update also says how many digits it has")
    ap.add_argument("--length-range", default="", metavar="MIN-MAX",
                    help="with --hints: every digits clip's update says this many digits, e.g. 4-8")
    ap.add_argument("--no-offline", action="store_true", help="skip the offline faster-whisper reference")
    ap.add_argument("--asr", default="", help="server [asr] settings as JSON, e.g. '{\"model\": \"small\"}'")
    ap.add_argument("--json", help="write every row to this file")
    for kind, n in (("digits", 8), ("number", 2), ("amount", 2), ("date", 3), ("time", 2), ("yes_no", 5)):
        ap.add_argument(f"--{kind.replace('_', '-')}", type=int, default=n, help=f"{kind} clips per language")
    args = ap.parse_args()
    langs = [x for x in args.langs.split(",") if x]
    length_range = (0, 0)
    if args.length_range:
        try:
            length_range = tuple(int(x) for x in args.length_range.split("-"))
            if len(length_range) != 2 or not 0 < length_range[0] <= length_range[1]:
                raise ValueError
        except ValueError:
            ap.error(f"--length-range: expected MIN-MAX such as 4-8, got {args.length_range!r}")
    counts = {k: getattr(args, k) for k in KINDS}
    clips = {lang: build_clips(lang, counts) for lang in langs}
    proc = None
    if args.server:
        address = args.server
    else:
        port = free_port()
        proc = start_server(port, json.loads(args.asr) if args.asr else None)
        address = f"127.0.0.1:{port}"
    ours: list[dict] = []
    t0 = time.monotonic()
    try:
        for lang in langs:
            ours += run_language(address, lang, clips[lang], langs, args.hints, args.lengths, length_range)
            print(f"{lang}: streamed {len(clips[lang])} clips ({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
    offline = [] if args.no_offline else run_offline([c for lang in langs for c in clips[lang]])
    if args.json:
        Path(args.json).write_text(json.dumps({"ours": ours, "offline": offline}, ensure_ascii=False, indent=1))
    for r in ours:
        if not r["ok"]:
            print(f"  miss {r['lang']} {r['kind']} {r['value']!r}: {r['text']!r} [{r['language']}] "
                  f"answer={r['answer']!r}", file=sys.stderr)
    print(table(ours, offline, args.hints))


if __name__ == "__main__":
    main()
