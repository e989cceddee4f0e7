"""Reliability figures in bounded time: soak, overload, mid-stream disconnects, fuzzed requests,
slow readers, a decoder failing mid-stream, a model that fails to load.

* soak: --soak-streams real-time streams of real prompts for --soak-s seconds (the README
  figure: 4 streams, 600 s): errors, finals delivered / expected, final p50 / p95, the
  server's RSS growth;
* overload: --overload streams opened at once against a server with max_sessions
  --overload-limit: how many were refused (RESOURCE_EXHAUSTED) and the admitted ones'
  final p95; the server must stay up;
* disconnects: --disconnects calls that vanish mid-way (StreamingRecognize, Synthesize,
  Converse, AudioSocket), then what the server still holds (sessions, decode jobs,
  requests, read from its metrics): all 0;
* fuzz: --fuzz requests drawn by hypothesis over the request messages plus random bytes:
  answers other than OK / INVALID_ARGUMENT, and hangs (none expected);
* slow readers: clients that never read their responses, beside a normal stream: its final
  still arrives, the server's memory stays bounded;
* decoder fault: one stream's decodes raise (injected in an in-process server on the real
  models) beside normal streams: it ends INTERNAL, they are unaffected;
* model load failure: a server whose model is missing stays up, NOT_SERVING, and says why.

Usage: .venv/bin/python bench/reliability.py [--soak-s 120] [--fuzz 10000] [--disconnects 1000] [--json]
Figures depend on the box (taken on a shared, loaded 2-core machine in the README).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
import os
import tempfile
import threading
import time

import grpc
import numpy as np
import soundfile as sf
from grpc_health.v1 import health_pb2, health_pb2_grpc

from voice.testing import reliability
from voice.testing.harness import ServerStats, free_port, pct, run_level, start_server
from voice.testing.ops import ServeProcess, sample, scrape
from voice.testing.prompts import SOUNDS, pick_prompts
from voice.testing.streams import silence

PROMPT = SOUNDS / "en" / "queue-callswaiting.wav"


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def speech() -> np.ndarray:
    return np.concatenate([silence(0.3), sf.read(PROMPT, dtype="int16")[0], silence(1.0)])


def soak(address: str, pid: int, streams: int, seconds: float, stats: ServerStats) -> dict:
    prompts = pick_prompts("en", 200)
    per_prompt = 4.0  # ~2.5 s of speech + 1.5 s of silence each
    count = max(1, int(seconds / per_prompt)) * streams
    chosen = [prompts[i % len(prompts)] for i in range(count)]
    rss0 = rss_mb(pid)
    t0 = time.monotonic()
    samples: list[tuple[float, float]] = []  # (seconds into the soak, RSS MB)
    done = threading.Event()

    def watch():
        while not done.wait(5.0):
            samples.append((time.monotonic() - t0, rss_mb(pid)))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    row = run_level(address, streams, chosen, "en", pid, stats)
    done.set()
    end = rss_mb(pid)
    # growth after the warm-up (the first quarter: allocator pools, caches, model buffers fill)
    warm = next((mb for t, mb in samples if t >= seconds / 4), rss0)
    return {"streams": streams, "seconds": round(time.monotonic() - t0), "utterances": row["utterances"],
            "finals_missing": row["missing_finals"], "errors": row["errors"], "final_p50_s": row["final_p50_s"],
            "final_p95_s": row["final_p95_s"], "wer": row["wer"], "rss_start_mb": round(rss0),
            "rss_after_warmup_mb": round(warm), "rss_end_mb": round(end), "rss_peak_mb": round(max([end, *(mb for _, mb in samples)])),
            "rss_growth_pct": round((end - rss0) / rss0 * 100, 2),
            "rss_growth_after_warmup_pct": round((end - warm) / warm * 100, 2)}


def overload(streams: int, limit: int) -> dict:
    port = free_port()
    proc = start_server(port, sections={"server": {"max_sessions": limit}})
    try:
        prompts = pick_prompts("en", 40)
        from voice.testing.harness import StreamStats, build_stream, run_stream

        stats = StreamStats()
        threads = []
        for i in range(streams):
            pcm, marks = build_stream([prompts[i % len(prompts)], prompts[(i + 7) % len(prompts)]])
            th = threading.Thread(target=run_stream, args=(f"127.0.0.1:{port}", pcm, marks, "en", stats))
            th.start()
            threads.append(th)
        for th in threads:
            th.join()
        refused = sum(1 for e in stats.errors if e.startswith("RESOURCE_EXHAUSTED"))
        alive = proc.poll() is None
        return {"streams": streams, "max_sessions": limit, "refused": refused,
                "other_errors": len(stats.errors) - refused, "admitted_finals": len(stats.latencies),
                "admitted_final_p50_s": round(pct(stats.latencies, 50), 2),
                "admitted_final_p95_s": round(pct(stats.latencies, 95), 2), "server_alive": alive}
    finally:
        proc.terminate()
        proc.wait(60)


def model_load_failure() -> dict:
    missing = Path(tempfile.mkdtemp()) / "no-such-model"
    server = ServeProcess(env={"VOICE_ASR_MODEL": str(missing)})
    try:
        server.start(ready=False)
        why = server.wait_for(r"Model loading failed; health stays NOT_SERVING: (.*)", 120).group(1)
        time.sleep(2.0)
        with grpc.insecure_channel(server.address) as channel:
            status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10).status
        return {"health": health_pb2.HealthCheckResponse.ServingStatus.Name(status), "process_up": server.proc.poll() is None,
                "says": why[:120]}
    finally:
        server.terminate()
        server.wait(30)
        server.close()


def decoder_fault() -> dict:
    from voice.config import load_config
    from voice.runtime.engine import SpeechEngine
    from voice.testing.ops import DoorsThread
    from voice.testing.paths import CACHE_DIR

    config = load_config(env={"VOICE_CACHE_DIR": str(CACHE_DIR)}).replace("server", host="127.0.0.1", port=0)
    engine = SpeechEngine(config)
    engine.load()
    reliability.inject_decoder_fault(engine)
    doors = DoorsThread(config, engine, metrics=False)
    try:
        return reliability.decoder_fault(f"127.0.0.1:{doors.ports['grpc']}", speech(), others=3)
    finally:
        doors.stop()
        engine.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--soak-s", type=float, default=120.0)
    ap.add_argument("--soak-streams", type=int, default=4)
    ap.add_argument("--overload", type=int, default=50)
    ap.add_argument("--overload-limit", type=int, default=8)
    ap.add_argument("--disconnects", type=int, default=1000)
    ap.add_argument("--fuzz", type=int, default=10000)
    ap.add_argument("--only", default="", help="comma-separated sections (soak,overload,disconnects,fuzz,slow,fault,load)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    want = lambda name: not only or name in only  # noqa: E731
    figures: dict = {}

    metrics_port = free_port()
    port = free_port()
    audiosocket = free_port()
    proc = start_server(port, args=["--metrics-port", str(metrics_port), "--audiosocket", f"127.0.0.1:{audiosocket}"])
    address = f"127.0.0.1:{port}"
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    stats = ServerStats(proc)
    try:
        if want("soak"):
            figures["soak"] = soak(address, proc.pid, args.soak_streams, args.soak_s, stats)
            print("soak", figures["soak"], file=sys.stderr)
        if want("disconnects"):  # twice: the first round also warms every door's pipelines up
            rounds = []
            for seed in range(2):
                rss0 = rss_mb(proc.pid)
                result = reliability.disconnects(address, metrics_url, args.disconnects, speech(),
                                                 audiosocket=audiosocket, seed=seed)
                result["rss_growth_mb"] = round(rss_mb(proc.pid) - rss0, 1)
                rounds.append(result)
                print("disconnects", result, file=sys.stderr)
            figures["disconnects"] = rounds
        if want("fuzz"):
            figures["fuzz"] = reliability.fuzz(address, args.fuzz)
            figures["fuzz"]["leaked_after"] = reliability.leaks(metrics_url)
            print("fuzz", figures["fuzz"], file=sys.stderr)
        if want("slow"):
            figures["slow_readers"] = reliability.slow_readers(address, lambda: rss_mb(proc.pid), speech())
            figures["slow_readers"]["leaked_after"] = reliability.leaks(metrics_url)
            print("slow", figures["slow_readers"], file=sys.stderr)
        m = scrape(metrics_url)
        figures["server"] = {"alive": proc.poll() is None, "rss_mb": round(rss_mb(proc.pid)),
                             "requests": {f"{dict(lb)['service']} {dict(lb)['code']}": v for (n, lb), v in m.items()
                                          if n == "voice_requests_total" and v},
                             "model_ready": sample(m, "voice_model_state", state="ready")}
    finally:
        proc.terminate()
        proc.wait(60)
    if want("overload"):
        figures["overload"] = overload(args.overload, args.overload_limit)
        print("overload", figures["overload"], file=sys.stderr)
    if want("fault"):
        figures["decoder_fault"] = decoder_fault()
        print("fault", figures["decoder_fault"], file=sys.stderr)
    if want("load"):
        figures["model_load_failure"] = model_load_failure()
        print("load", figures["model_load_failure"], file=sys.stderr)
    print(json.dumps(figures, indent=None if args.json else 2, default=str))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
