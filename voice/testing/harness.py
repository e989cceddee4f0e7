"""The streaming benchmark's load generator, shared by bench/streaming.py (our server) and
bench/peers.py (the same streams through other servers).

A stream is real telephone prompts (8 kHz) joined by :data:`GAP_S` of silence, sent in
:data:`CHUNK_MS` chunks at real-time pace; :func:`drive_streams` runs N of them at once with
a per-server stream function (:func:`run_stream` for ours) that fills a :class:`StreamStats`,
and :func:`run_level` turns one level into a row of figures.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import soundfile as sf
from voice_api.v1 import audio_pb2, recognizer_pb2, recognizer_pb2_grpc

from voice.testing.paths import CACHE_DIR
from voice.testing.prompts import Prompt, normalize, wer

CHUNK_MS = 100
"""Audio per request, and the pacing grid of every stream."""
GAP_S = 1.5
"""Silence after each prompt of a stream."""

Mark = tuple[float, float, str]
"""A prompt's place in a stream: (start s, end s, text)."""


@dataclass
class StreamStats:
    """What the streams of one level measured (appended to from several threads)."""

    latencies: list = field(default_factory=list)
    server_latencies: list = field(default_factory=list)
    first_interim: list = field(default_factory=list)
    refs: list = field(default_factory=list)
    hyps: list = field(default_factory=list)
    errors: list = field(default_factory=list)


StreamFn = Callable[[str, np.ndarray, list[Mark], str, StreamStats], None]
"""``fn(address, pcm, marks, language, stats)``: one real-time stream against a server."""


def build_stream(prompts: Sequence[Prompt], rate: int = 8000) -> tuple[np.ndarray, list[Mark]]:
    """Concatenate prompts with gaps; return pcm and (start, end, text) per prompt in seconds."""
    parts, marks, pos = [np.zeros(rate // 2, np.int16)], [], rate // 2
    for p in prompts:
        audio, r = sf.read(p.path, dtype="int16")
        assert r == rate
        marks.append((pos / rate, (pos + audio.size) / rate, p.text))
        parts += [audio, np.zeros(int(GAP_S * rate), np.int16)]
        pos += audio.size + int(GAP_S * rate)
    return np.concatenate(parts), marks


def run_stream(address: str, pcm: np.ndarray, marks: list[Mark], language: str, stats: StreamStats,
               rate: int = 8000) -> None:
    """One real-time stream through our server, interim results on; finals are matched to
    prompts by time overlap (+-0.3 s)."""
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (from /proc)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile of ``values``; nan when there are none."""
    return float(np.percentile(values, q)) if values else float("nan")


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerStats:
    """Reads the server's `stats {json}` log lines (it logs one on SIGUSR1)."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            if " stats {" in line:
                self.lines.put(json.loads(line.split(" stats ", 1)[1]))

    def snapshot(self, timeout: float = 10.0) -> dict | None:
        """Ask for a stats line and wait for it; None when none came within ``timeout``."""
        self.proc.send_signal(signal.SIGUSR1)
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None


def start_server(port: int, asr_settings: dict[str, Any] | None = None,
                 cache_dir: Path = CACHE_DIR, sections: dict[str, dict[str, Any]] | None = None,
                 args: Sequence[str] = ()) -> subprocess.Popen:
    """``voice serve`` on 127.0.0.1:port, returned once healthy; ``asr_settings`` go to its
    [asr] config section, ``sections`` to others; ``args`` are more ``serve`` flags. Its stderr
    is a pipe (read it with :class:`ServerStats`)."""
    env = dict(os.environ, VOICE_CACHE_DIR=str(cache_dir))
    cmd = [str(Path(sys.executable).parent / "voice"), "--log-level", "WARNING", "serve",
           "--host", "127.0.0.1", "--port", str(port), *args]
    sections = dict(sections or {})
    if asr_settings:
        sections["asr"] = asr_settings
    if sections:
        fh = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
        for name, values in sections.items():
            fh.write(f"[{name}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items()))
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


def drive_streams(target: StreamFn, address: str, n: int, prompts: Sequence[Prompt], language: str,
                  pid: int | None) -> tuple[StreamStats, float]:
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


def run_level(address: str, n: int, prompts: Sequence[Prompt], language: str, pid: int | None,
              stats_reader: ServerStats | None = None) -> dict[str, Any]:
    """``n`` concurrent streams through our server; one row of latency, WER and load figures.

    ``BENCH_SHOW_ERRORS=1`` prints every final whose normalised text differs from its prompt.
    """
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
