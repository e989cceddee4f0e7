"""Peer comparison: the same prompts, model and machine through two other Whisper servers.

Peers (installed by bench/setup_peers.sh into bench/.peers/<name>, each in its own venv):

* ``wyoming``: wyoming-faster-whisper 3.8 (Home Assistant's server). It decodes one
  utterance per connection when the client sends ``audio-stop``; it has no endpointer of its
  own in this setup, so the bench acts as an IDEAL client-side endpointer: it opens a
  connection at the 100 ms chunk where a prompt starts and sends ``audio-stop`` right after
  the chunk where the prompt ends (no trailing-silence wait at all). No interims.
* ``whisperlive``: WhisperLive 0.10 (websocket, faster-whisper backend, one shared model).
  It re-decodes the growing buffer and marks a segment ``completed`` only when Whisper
  returns a later segment after it, or when the same text came back more than
  ``same_output_threshold`` (10) times. "Final" = the arrival of the last completed segment
  assigned to the prompt; after the stream's audio ends the bench keeps sending silence
  (up to TAIL_S) so the last prompt can complete. ``stable_*`` is the (hindsight) time at
  which the prompt's text stopped changing, completed or not.

Both get the CTranslate2 Whisper base our server uses (.cache/whisper-base), CPU int8,
beam 5, the language given, and os.cpu_count() inference threads. Metrics and keys are those
of ``run_level`` in voice/testing/harness.py (the load generator bench/streaming.py runs
against our server); ``offline_wer`` is the accuracy reference.

Usage: .venv/bin/python bench/peers.py [--streams 1,2,4] [--utterances 20] [--lang en]
       [--peers wyoming,whisperlive] [--ours]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from peer_common import BEAM_SIZE, THREADS, model_dir
from peer_report import compare, markdown
from peer_whisperlive import run_whisperlive_stream, start_whisperlive
from peer_wyoming import run_wyoming_stream, start_wyoming

from voice.testing import harness
from voice.testing.prompts import pick_prompts, wer

PEER_NAMES = ("wyoming", "whisperlive")


# --------------------------------------------------------------------------- levels


def run_peer_level(peer: str, address: str, n: int, prompts, language: str, pid: int | None) -> dict:
    """``harness.run_level`` for a peer: same prompt split, same keys."""
    target = {"wyoming": run_wyoming_stream, "whisperlive": run_whisperlive_stream}[peer]
    stats, cpu = harness.drive_streams(target, address, n, prompts, language, pid)
    row = {
        "streams": n,
        "utterances": len(stats.refs),
        "final_p50_s": round(harness.pct(stats.latencies, 50), 3),
        "final_p95_s": round(harness.pct(stats.latencies, 95), 3),
        "server_p50_s": float("nan"),  # peers report no server-side processing time
        "first_interim_p50_s": round(harness.pct(stats.first_interim, 50), 3),
        "wer": round(wer(stats.refs, stats.hyps), 4) if stats.refs else float("nan"),
        "missing_finals": sum(1 for h in stats.hyps if not h),
        "errors": len(stats.errors),
        "server_cpu_pct": round(cpu, 1),
    }
    if peer == "whisperlive":
        row["stable_p50_s"] = round(harness.pct(stats.server_latencies, 50), 3)
        row["stable_p95_s"] = round(harness.pct(stats.server_latencies, 95), 3)
    if stats.errors:
        row["first_error"] = stats.errors[0][:200]
    return row


def warm_up(peer: str, address: str, prompts, language: str) -> None:
    """One short utterance, not measured: loads WhisperLive's model, primes both peers."""
    pcm, marks = harness.build_stream(prompts[:1])
    stats = harness.StreamStats()
    if peer == "wyoming":
        run_wyoming_stream(address, pcm, marks, language, stats)
    else:
        run_whisperlive_stream(address, pcm, marks, language, stats, tail_s=5.0)
    if stats.errors:
        raise RuntimeError(f"{peer} warm-up failed: {stats.errors[0]}")


def wait_idle(pid: int, timeout: float = 90.0, quiet_s: float = 1.0, max_cores: float = 0.1) -> float:
    """Wait until the server process has used under ``max_cores`` CPU for ``quiet_s``.

    A peer may still be decoding for a client that has gone (WhisperLive finishes the pass in
    flight, holding its one model), which would stall the next level. Returns seconds waited.
    """
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        c0 = harness.cpu_seconds(pid)
        time.sleep(quiet_s)
        if harness.cpu_seconds(pid) - c0 < max_cores * quiet_s:
            break
    return time.monotonic() - t0


def run_peer(peer: str, levels, prompts, language: str, stop_p95: float = 2.0, model: Path | None = None,
             log=print) -> list[dict]:
    """Start a peer, warm it up, run the stream levels (stopping past stop_p95), stop it."""
    model = model or model_dir()
    server = start_wyoming(model, language) if peer == "wyoming" else start_whisperlive(model)
    address = f"{server.host}:{server.port}"
    rows = []
    try:
        warm_up(peer, address, prompts, language)
        for n in levels:
            wait_idle(server.pid)
            row = run_peer_level(peer, address, n, prompts, language, server.pid)
            rows.append(row)
            log(f"{peer}: {row}")
            server.check_alive()
            if not row["final_p95_s"] <= stop_p95:  # nan (no finals) also stops
                break
    finally:
        server.stop()
    return rows


def offline_wer(prompts, language: str = "en", model: Path | None = None, threads: int = THREADS) -> dict:
    """Whole-clip faster-whisper (our venv) on the same clips: beam 5, language given, no VAD."""
    from faster_whisper import WhisperModel

    wm = WhisperModel(str(model or model_dir()), device="cpu", compute_type="int8", cpu_threads=threads)
    hyps, audio_s, t0 = [], 0.0, time.monotonic()
    for p in prompts:
        segments, info = wm.transcribe(str(p.path), beam_size=BEAM_SIZE, language=language)
        hyps.append(" ".join(s.text.strip() for s in segments))
        audio_s += info.duration
    wall = time.monotonic() - t0
    refs = [p.text for p in prompts]
    return {"utterances": len(prompts), "wer": round(wer(refs, hyps), 4), "rtf": round(wall / audio_s, 3)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--streams", default="1,2,4")
    ap.add_argument("--utterances", type=int, default=20)
    ap.add_argument("--lang", default="en")
    ap.add_argument("--peers", default=",".join(PEER_NAMES))
    ap.add_argument("--ours", action="store_true", help="also run our server (as bench/streaming.py)")
    ap.add_argument("--stop-p95", type=float, default=2.0, help="stop a peer when p95 final latency passes this")
    ap.add_argument("--no-offline", action="store_true", help="skip the offline WER reference")
    args = ap.parse_args()
    levels = [int(x) for x in args.streams.split(",")]
    prompts = pick_prompts(args.lang, args.utterances, min_words=3, max_words=20)
    model = model_dir()
    results: dict[str, list[dict]] = {}
    offline = None
    if not args.no_offline:
        offline = offline_wer(prompts, args.lang, model)
        print(f"offline faster-whisper: {offline}", flush=True)
    for peer in [p for p in args.peers.split(",") if p]:
        if peer not in PEER_NAMES:
            raise SystemExit(f"unknown peer {peer!r}; choose from {', '.join(PEER_NAMES)}")
        try:
            results[peer] = run_peer(peer, levels, prompts, args.lang, args.stop_p95, model,
                                     log=lambda s: print(s, flush=True))
        except Exception as exc:  # noqa: BLE001 - one broken peer must not hide the other
            print(f"{peer}: FAILED: {exc}", flush=True)
    our_rows = []
    if args.ours:
        port = harness.free_port()
        proc = harness.start_server(port)
        try:
            for n in levels:
                row = harness.run_level(f"127.0.0.1:{port}", n, prompts, args.lang, proc.pid)
                our_rows.append(row)
                print(f"ours: {row}", flush=True)
                if row["final_p95_s"] > args.stop_p95:
                    break
        finally:
            proc.terminate()
            proc.wait(30)
    print(f"\nSame {len(prompts)} '{args.lang}' prompts, Whisper base int8 (CPU, {THREADS} threads), beam {BEAM_SIZE}.")
    if offline:
        print(f"\n### offline faster-whisper (reference)\nWER {offline['wer'] * 100:.1f} % on "
              f"{offline['utterances']} clips, RTF {offline['rtf']}")
    if our_rows:
        print("\n### ours (harness.run_level, as bench/streaming.py)\n" + markdown(our_rows))
    notes = {
        "wyoming": "ideal client-side endpointer: audio-stop sent right after the prompt's last chunk; no interims",
        "whisperlive": "final = last completed segment of the prompt arrived; stable = its text last changed",
    }
    for peer, rows in results.items():
        if rows:
            print(f"\n### {peer} ({notes[peer]})\n" + markdown(rows))
    if our_rows and results:
        print("\n### goals\n" + compare(our_rows, results, offline, args.stop_p95))


if __name__ == "__main__":
    main()
