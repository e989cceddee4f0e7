"""Streaming recognition benchmark: N concurrent real-time streams through the gRPC server.

Each stream sends real telephone prompts (asterisk-core-sounds) at real-time pace, each
prompt followed by silence, in 100 ms chunks, and measures per utterance:

* end-of-speech -> final latency: wall time from the last chunk of the prompt being sent to
  its final result arriving (includes the endpointer's trailing-silence wait, 600 ms);
* first interim latency: from the first chunk of the prompt being sent to the first interim;
* WER of the finals against the prompt texts (normalised as in the tests);
* server CPU use (from /proc) while streaming.

Usage: .venv/bin/python bench/streaming.py [--streams 1,2,4,8] [--utterances 20] [--lang en]
Starts `voice serve` on a free loopback port itself (or use --server HOST:PORT).
The load generator and the figures are voice.testing.harness (shared with bench/peers.py).
"""

from __future__ import annotations

import argparse
import json

import peers  # bench/peers.py (--peers; its servers need: bash bench/setup_peers.sh)

from voice.testing.harness import ServerStats, free_port, run_level, start_server
from voice.testing.prompts import pick_prompts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", help="use a running server instead of starting one")
    ap.add_argument("--streams", default="1,2,4,8")
    ap.add_argument("--utterances", type=int, default=20)
    ap.add_argument("--lang", default="en")
    ap.add_argument("--stop-p95", type=float, default=2.0, help="stop when p95 final latency passes this")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--peers", default="",
                    help="also run bench/peers.py peers (wyoming,whisperlive) and print the goal table")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="server's asr.batch_size (cross-stream batching; default: auto)")
    ap.add_argument("--workers", type=int, default=None, help="server's asr.num_workers")
    ap.add_argument("--device", default=None, help="server's asr.device (auto, cpu, cuda)")
    args = ap.parse_args()
    prompts = pick_prompts(args.lang, args.utterances, min_words=3, max_words=20)
    proc = stats_reader = None
    if args.server:
        address, pid = args.server, None
    else:
        port = free_port()
        settings = {k: v for k, v in (("batch_size", args.batch_size), ("num_workers", args.workers),
                                      ("device", args.device)) if v is not None}
        proc = start_server(port, settings)
        stats_reader = ServerStats(proc)
        address, pid = f"127.0.0.1:{port}", proc.pid
    rows = []
    try:
        for n in [int(x) for x in args.streams.split(",")]:
            row = run_level(address, n, prompts, args.lang, pid, stats_reader)
            rows.append(row)
            print(json.dumps(row) if args.json else row, flush=True)
            if row["final_p95_s"] > args.stop_p95:
                break
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
    cols = list(rows[0])
    print("\n| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in cols) + " |")
    if args.peers:
        levels = [int(x) for x in args.streams.split(",")]
        offline = peers.offline_wer(prompts, args.lang)
        print(f"\noffline faster-whisper WER {offline['wer'] * 100:.1f} % (RTF {offline['rtf']})")
        peer_rows = {name: peers.run_peer(name, levels, prompts, args.lang, args.stop_p95)
                     for name in args.peers.split(",")}
        for name, prow in peer_rows.items():
            print(f"\n### {name}\n" + peers.markdown(prow))
        print("\n### goals\n" + peers.compare(rows, peer_rows, offline, args.stop_p95))


if __name__ == "__main__":
    main()
