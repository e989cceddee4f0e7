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
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest import normalize, pick_prompts, wer  # noqa: E402

from voice_api.v1 import audio_pb2, recognizer_pb2, recognizer_pb2_grpc  # noqa: E402

CHUNK_MS = 100
GAP_S = 1.5


@dataclass
class StreamStats:
    latencies: list = field(default_factory=list)
    server_latencies: list = field(default_factory=list)
    first_interim: list = field(default_factory=list)
    refs: list = field(default_factory=list)
    hyps: list = field(default_factory=list)
    errors: list = field(default_factory=list)


def build_stream(prompts, rate=8000):
    """Concatenate prompts with gaps; return pcm and (start, end, text) per prompt in seconds."""
    parts, marks, pos = [np.zeros(rate // 2, np.int16)], [], rate // 2
    for p in prompts:
        audio, r = sf.read(p.path, dtype="int16")
        assert r == rate
        marks.append((pos / rate, (pos + audio.size) / rate, p.text))
        parts += [audio, np.zeros(int(GAP_S * rate), np.int16)]
        pos += audio.size + int(GAP_S * rate)
    return np.concatenate(parts), marks


def run_stream(address, pcm, marks, language, stats: StreamStats, rate=8000):
    sent = {}  # chunk end (s) -> wall time
    step = rate * CHUNK_MS // 1000

    def requests():
        cfg = recognizer_pb2.RecognitionConfig(encoding=audio_pb2.LINEAR16, sample_rate_hertz=rate, language_code=language)
        yield recognizer_pb2.StreamingRecognizeRequest(
            streaming_config=recognizer_pb2.StreamingRecognitionConfig(config=cfg, interim_results=True))
        start = time.monotonic()
        for i in range(0, pcm.size, step):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            yield recognizer_pb2.StreamingRecognizeRequest(audio_content=pcm[i:i + step].tobytes())
            sent[round((i + step) / rate, 3)] = time.monotonic()

    def sent_at(t):
        keys = [k for k in sent if k >= t - 1e-6]
        return sent[min(keys)] if keys else None

    finals = {}
    interims = {}
    with grpc.insecure_channel(address) as ch:
        stub = recognizer_pb2_grpc.RecognizerStub(ch)
        try:
            for resp in stub.StreamingRecognize(requests()):
                now = time.monotonic()
                for r in resp.results:
                    idx = r.utterance_index
                    if r.is_final:
                        finals.setdefault(idx, []).append((now, r))
                    else:
                        interims.setdefault(idx, now)
        except grpc.RpcError as exc:
            stats.errors.append(f"{exc.code().name}: {exc.details()}")
            return
    # match finals to prompts by time overlap
    for start, end, text in marks:
        hits = [(now, r) for group in finals.values() for now, r in group
                if r.result_start_time.ToTimedelta().total_seconds() < end + 0.3
                and r.result_end_time.ToTimedelta().total_seconds() > start - 0.3]
        stats.refs.append(text)
        stats.hyps.append(" ".join(r.alternatives[0].transcript for _, r in hits))
        if hits:
            last_now, last_r = hits[-1]
            end_sent = sent_at(end)
            if end_sent is not None:
                stats.latencies.append(last_now - end_sent)
            stats.server_latencies.append(last_r.processing_latency.ToTimedelta().total_seconds())
            idx = hits[0][1].utterance_index
            start_sent = sent_at(start)
            if idx in interims and start_sent is not None:
                stats.first_interim.append(interims[idx] - start_sent)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values, q):
    return float(np.percentile(values, q)) if values else float("nan")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerStats:
    """Reads the server's `stats {json}` log lines (it logs one on SIGUSR1)."""

    def __init__(self, proc):
        self.proc = proc
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stderr:
            if " stats {" in line:
                self.lines.put(json.loads(line.split(" stats ", 1)[1]))

    def snapshot(self, timeout=10.0):
        import signal

        self.proc.send_signal(signal.SIGUSR1)
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None


def start_server(port, asr_settings: dict | None = None):
    """``voice serve`` on 127.0.0.1:port; ``asr_settings`` go to its [asr] config section."""
    env = dict(os.environ, VOICE_CACHE_DIR=str(ROOT / ".cache"))
    cmd = [str(Path(sys.executable).parent / "voice"), "--log-level", "WARNING", "serve",
           "--host", "127.0.0.1", "--port", str(port)]
    if asr_settings:
        import tempfile

        fh = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
        fh.write("[asr]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in asr_settings.items()))
        fh.close()
        cmd += ["--config", fh.name]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if stub.Check(health_pb2.HealthCheckRequest(), timeout=2).status == health_pb2.HealthCheckResponse.SERVING:
                    return proc
            except grpc.RpcError:
                pass
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("server did not become healthy")


def drive_streams(target, address, n, prompts, language, pid) -> tuple[StreamStats, float]:
    """``n`` concurrent streams, each ``target(address, pcm, marks, language, stats)`` over its
    share of ``prompts``; returns the stats and the server's CPU use (% of one core)."""
    per_stream = max(1, len(prompts) // n) if n > 1 else len(prompts)
    stats = StreamStats()
    threads = []
    cpu0, t0 = (cpu_seconds(pid) if pid else 0.0), time.monotonic()
    for i in range(n):
        chosen = [prompts[(i * per_stream + k) % len(prompts)] for k in range(per_stream)]
        pcm, marks = build_stream(chosen)
        th = threading.Thread(target=target, args=(address, pcm, marks, language, stats))
        th.start()
        threads.append(th)
    for th in threads:
        th.join()
    wall = time.monotonic() - t0
    return stats, (cpu_seconds(pid) - cpu0) / wall * 100 if pid else float("nan")


def run_level(address, n, prompts, language, pid, stats_reader=None):
    before = stats_reader.snapshot() if stats_reader else None
    stats, cpu = drive_streams(run_stream, address, n, prompts, language, pid)
    after = stats_reader.snapshot() if stats_reader else None
    dropped = after["interims_dropped"] - before["interims_dropped"] if before and after else float("nan")
    interims = after["interims_decoded"] - before["interims_decoded"] if before and after else float("nan")
    batched = after.get("batched_decodes", 0) - before.get("batched_decodes", 0) if before and after else float("nan")
    if os.environ.get("BENCH_SHOW_ERRORS"):
        for ref, hyp in zip(stats.refs, stats.hyps):
            if normalize(ref) != normalize(hyp):
                print(f"  ref: {ref}\n  hyp: {hyp}", file=sys.stderr)
    return {
        "streams": n,
        "utterances": len(stats.refs),
        "final_p50_s": round(pct(stats.latencies, 50), 3),
        "final_p95_s": round(pct(stats.latencies, 95), 3),
        "server_p50_s": round(pct(stats.server_latencies, 50), 3),
        "first_interim_p50_s": round(pct(stats.first_interim, 50), 3),
        "wer": round(wer(stats.refs, stats.hyps), 4) if stats.refs else float("nan"),
        "missing_finals": sum(1 for h in stats.hyps if not h),
        "interims_decoded": interims,
        "interims_dropped": dropped,
        "batched_decodes": batched,
        "errors": len(stats.errors),
        "server_cpu_pct": round(cpu, 1),
    }


def main():
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
        import peers  # bench/peers.py; needs: bash bench/setup_peers.sh

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
