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
import base64
import json
import math
import os
import socket
import struct
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voice.testing import harness
from voice.testing.paths import CACHE_DIR
from voice.testing.prompts import normalize, pick_prompts, wer

BENCH = Path(__file__).resolve().parent
PEERS_DIR = BENCH / ".peers"

BEAM_SIZE = 5
THREADS = os.cpu_count() or 1
RATE = 8000
MATCH_MARGIN_S = 0.3  # as voice.testing.harness.run_stream: a result belongs to a prompt it overlaps +-0.3 s
TAIL_S = 20.0  # WhisperLive: most silence sent after a stream's audio, waiting for completion
PEER_NAMES = ("wyoming", "whisperlive")


def model_dir() -> Path:
    """The CTranslate2 Whisper base directory our server uses (assembled if needed)."""
    from voice.runtime.models import assemble_whisper_base

    return assemble_whisper_base(CACHE_DIR)


def peer_python(name: str) -> Path:
    py = PEERS_DIR / name / "bin" / "python"
    if not py.exists():
        raise SystemExit(f"{py} missing: run bash bench/setup_peers.sh")
    return py


# --------------------------------------------------------------------------- servers


@dataclass
class PeerServer:
    name: str
    proc: subprocess.Popen
    host: str
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} server exited with {self.proc.returncode}:\n{tail}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def _spawn(name: str, args: list[str], env_extra: dict) -> tuple[subprocess.Popen, Path]:
    log = Path(tempfile.mkstemp(prefix=f"peer-{name}-", suffix=".log")[1])
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **env_extra)
    env.pop("PYTHONPATH", None)
    with open(log, "wb") as fh:
        proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=tempfile.gettempdir())
    return proc, log


def _wait_port(server: PeerServer, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server.check_alive()
        try:
            with socket.create_connection((server.host, server.port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"{server.name} did not listen on {server.port} within {timeout:.0f} s")


def start_wyoming(model: Path, language: str, threads: int = THREADS) -> PeerServer:
    """wyoming-faster-whisper on a free loopback port; it loads the model before listening."""
    port = harness.free_port()
    data_dir = tempfile.mkdtemp(prefix="peer-wyoming-")
    proc, log = _spawn("wyoming", [
        str(peer_python("wyoming")), "-m", "wyoming_faster_whisper",
        "--uri", f"tcp://127.0.0.1:{port}", "--model", str(model), "--data-dir", data_dir,
        "--local-files-only", "--device", "cpu", "--compute-type", "int8",
        "--beam-size", str(BEAM_SIZE), "--cpu-threads", str(threads), "--language", language,
        "--stt-library", "faster-whisper",
    ], {})
    server = PeerServer("wyoming", proc, "127.0.0.1", port, log)
    _wait_port(server)
    return server


_WHISPERLIVE_MAIN = """
import logging, sys, faulthandler, signal
faulthandler.register(signal.SIGUSR1)
logging.basicConfig(level=getattr(logging, sys.argv[4]), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
from whisper_live.server import TranscriptionServer
TranscriptionServer().run("127.0.0.1", int(sys.argv[1]), backend="faster_whisper",
    faster_whisper_custom_model_path=sys.argv[2], single_model=True,
    max_clients=256, max_connection_time=3600, cache_path=sys.argv[3])
"""


def start_whisperlive(model: Path, threads: int = THREADS) -> PeerServer:
    """WhisperLive's TranscriptionServer (faster_whisper backend, one shared model).

    The model is loaded on the first client connection, so callers warm it up first.
    CTranslate2's thread count comes from OMP_NUM_THREADS (as in WhisperLive's run_server.py).
    """
    port = harness.free_port()
    cache = tempfile.mkdtemp(prefix="peer-whisperlive-")
    proc, log = _spawn("whisperlive", [str(peer_python("whisperlive")), "-c", _WHISPERLIVE_MAIN,
                                       str(port), str(model), cache, os.environ.get("PEERS_LOG_LEVEL", "WARNING")],
                       {"OMP_NUM_THREADS": str(threads)})
    server = PeerServer("whisperlive", proc, "127.0.0.1", port, log)
    _wait_port(server)
    return server


# --------------------------------------------------------------------------- wyoming client


def wyoming_event(etype: str, data: dict | None = None, payload: bytes | None = None) -> bytes:
    """One Wyoming event: a JSON header line, then optional JSON data, then payload."""
    header: dict = {"type": etype, "version": "1.10.2"}
    body = b""
    if data:
        body = json.dumps(data).encode()
        header["data_length"] = len(body)
    if payload:
        header["payload_length"] = len(payload)
    return json.dumps(header).encode() + b"\n" + body + (payload or b"")


def read_wyoming_event(fh) -> tuple[str, dict, bytes | None] | None:
    line = fh.readline()
    if not line:
        return None
    header = json.loads(line)
    data = header.get("data") or {}
    if header.get("data_length"):
        data.update(json.loads(fh.read(header["data_length"])))
    payload = fh.read(header["payload_length"]) if header.get("payload_length") else None
    return header["type"], data, payload


class WyomingUtterance:
    """One connection = one utterance: transcribe -> audio-start -> chunks -> audio-stop."""

    def __init__(self, host, port, language, rate=RATE):
        self.sock = socket.create_connection((host, port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.fmt = {"rate": rate, "width": 2, "channels": 1}
        self.result: tuple[float, str] | None = None
        self.error: str | None = None
        self.sock.sendall(wyoming_event("transcribe", {"language": language})
                          + wyoming_event("audio-start", dict(self.fmt, timestamp=0)))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        try:
            with self.sock.makefile("rb") as fh:
                while True:
                    ev = read_wyoming_event(fh)
                    if ev is None:
                        self.error = self.error or "connection closed without a transcript"
                        return
                    if ev[0] == "transcript":
                        self.result = (time.monotonic(), ev[1].get("text", ""))
                        return
        except Exception as exc:  # noqa: BLE001 - reported as an error row
            self.error = f"{type(exc).__name__}: {exc}"

    def send(self, pcm: bytes):
        self.sock.sendall(wyoming_event("audio-chunk", dict(self.fmt, timestamp=0), pcm))

    def stop(self):
        self.sock.sendall(wyoming_event("audio-stop", {"timestamp": 0}))

    def wait(self, timeout: float):
        self._reader.join(timeout)
        try:
            self.sock.close()
        except OSError:
            pass
        if self.result is None and self.error is None:
            self.error = f"no transcript within {timeout:.0f} s"


def _chunk_spans(marks, size, step, rate):
    """For each prompt, the [first, last] chunk offsets (samples) of the 100 ms grid it touches."""
    spans = []
    for start, end, _ in marks:
        s, e = round(start * rate), round(end * rate)
        first = (s // step) * step
        last = ((max(e, s + 1) - 1) // step) * step
        spans.append((first, min(last, ((size - 1) // step) * step)))
    return spans


def run_wyoming_stream(address, pcm, marks, language, stats: harness.StreamStats, rate=RATE,
                       send_rate: int = 16000):
    """One real-time stream; each prompt is its own connection, stopped at the prompt's end.

    The 100 ms grid and pacing are those of the 8 kHz stream; the audio goes out resampled to
    ``send_rate`` (soxr, int16), the rate Wyoming clients normally send.
    """
    host, port = address.rsplit(":", 1)
    step = rate * harness.CHUNK_MS // 1000
    spans = _chunk_spans(marks, pcm.size, step, rate)
    audio, out_rate = pcm, rate
    if send_rate != rate:  # Wyoming clients send 16 kHz; its own converter is audioop-style linear
        import soxr

        audio = soxr.resample(pcm, rate, send_rate)
        out_rate = send_rate
    up = out_rate / rate
    starts = {first: k for k, (first, _) in enumerate(spans)}
    ends = {last: k for k, (_, last) in enumerate(spans)}
    utts: dict[int, WyomingUtterance] = {}
    end_sent: dict[int, float] = {}
    current = None
    t0 = time.monotonic()
    try:
        for i in range(0, pcm.size, step):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if i in starts:
                current = starts[i]
                utts[current] = WyomingUtterance(host, int(port), language, out_rate)
            if current is not None:
                utts[current].send(audio[int(i * up):int((i + step) * up)].tobytes())
                if ends.get(i) == current:
                    utts[current].stop()
                    end_sent[current] = time.monotonic()
                    current = None
    except OSError as exc:
        stats.errors.append(f"send: {exc}")
    for k, (_, _, text) in enumerate(marks):
        stats.refs.append(text)
        utt = utts.get(k)
        if utt is None:
            stats.hyps.append("")
            continue
        utt.wait(120)
        if utt.error or utt.result is None:
            stats.errors.append(utt.error or "no result")
            stats.hyps.append("")
            continue
        now, hyp = utt.result
        stats.hyps.append(hyp)
        if k in end_sent:
            stats.latencies.append(now - end_sent[k])


# --------------------------------------------------------------------------- WhisperLive client


class MiniWebSocket:
    """A minimal RFC 6455 client (no extensions) so our venv needs no websocket package."""

    def __init__(self, host: str, port: int, timeout: float = 120):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._wlock = threading.Lock()
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        self._fh = self.sock.makefile("rb")
        status = self._fh.readline()
        if b" 101 " not in status:
            raise ConnectionError(f"websocket handshake refused: {status!r}")
        while self._fh.readline() not in (b"\r\n", b"\n", b""):
            pass

    def _send_frame(self, opcode: int, data: bytes):
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = (np.frombuffer(data, np.uint8) ^ np.resize(np.frombuffer(mask, np.uint8), n)).tobytes()
        with self._wlock:
            self.sock.sendall(head + mask + masked)

    def send_text(self, text: str):
        self._send_frame(0x1, text.encode())

    def send_binary(self, data: bytes):
        self._send_frame(0x2, data)

    def recv(self) -> str | bytes | None:
        """Next text/binary message (pings answered); None when the server closed."""
        message, kind = b"", None
        while True:
            head = self._fh.read(2)
            if len(head) < 2:
                return None
            fin, opcode, n = head[0] & 0x80, head[0] & 0x0F, head[1] & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._fh.read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._fh.read(8))[0]
            data = self._fh.read(n)  # server frames are not masked
            if opcode == 0x8:
                return None
            if opcode == 0x9:
                self._send_frame(0xA, data)
                continue
            if opcode == 0xA:
                continue
            if opcode in (0x1, 0x2):
                kind = opcode
            message += data
            if fin:
                return message.decode() if kind == 0x1 else message

    def close(self):
        try:
            self._send_frame(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


def _assign(seg_start: float, seg_end: float, marks) -> int | None:
    """The prompt a result belongs to: the largest overlap with [start-0.3, end+0.3]."""
    best, best_overlap = None, 0.0
    for k, (start, end, _) in enumerate(marks):
        overlap = min(seg_end, end + MATCH_MARGIN_S) - max(seg_start, start - MATCH_MARGIN_S)
        if overlap > best_overlap:
            best, best_overlap = k, overlap
    return best


def whisperlive_options(language: str) -> dict:
    """The first message, with WhisperLive's own client defaults."""
    return {"uid": os.urandom(8).hex(), "language": language, "task": "transcribe", "model": "base",
            "use_vad": True, "send_last_n_segments": 10, "no_speech_thresh": 0.45,
            "clip_audio": False, "same_output_threshold": 10}


def run_whisperlive_stream(address, pcm, marks, language, stats: harness.StreamStats, rate=RATE,
                           tail_s: float = TAIL_S):
    """One real-time stream over one websocket; float32 16 kHz frames on the same 100 ms grid."""
    import soxr

    host, port = address.rsplit(":", 1)
    step = rate * harness.CHUNK_MS // 1000
    audio16 = soxr.resample(pcm.astype(np.float32) / 32768.0, rate, 16000).astype(np.float32)
    up = 16000 / rate
    sent: dict[float, float] = {}
    messages: list[tuple[float, list]] = []
    ready = threading.Event()
    closed = threading.Event()
    completed_first_seen: dict[tuple, float] = {}

    try:
        ws = MiniWebSocket(host, int(port))
    except OSError as exc:
        stats.errors.append(f"connect: {exc}")
        return

    def reader():
        while True:
            try:
                msg = ws.recv()
            except (OSError, ValueError) as exc:
                if not closed.is_set():
                    stats.errors.append(f"recv: {exc}")
                break
            if msg is None:
                break
            now = time.monotonic()
            if isinstance(msg, bytes):
                continue
            data = json.loads(msg)
            if data.get("message") == "SERVER_READY":
                ready.set()
            elif data.get("status") in ("WAIT", "ERROR"):
                stats.errors.append(f"{data.get('status')}: {data.get('message')}")
                ready.set()
            elif "segments" in data:
                segs = data["segments"]
                messages.append((now, segs))
                for s in segs:
                    if s.get("completed"):
                        completed_first_seen.setdefault((s["start"], s["end"], s["text"]), now)
        closed.set()
        ready.set()

    th = threading.Thread(target=reader, daemon=True)
    th.start()

    def all_completed() -> bool:
        done = {_assign(float(a), float(b), marks) for a, b, _ in list(completed_first_seen)}
        return all(k in done for k in range(len(marks)))

    try:
        ws.send_text(json.dumps(whisperlive_options(language)))
        if not ready.wait(120) or closed.is_set():
            stats.errors.append("no SERVER_READY")
            return
        t0 = time.monotonic()
        tail_chunks = int(tail_s * 1000 / harness.CHUNK_MS)
        silence = np.zeros(int(step * up), np.float32).tobytes()
        total = pcm.size + tail_chunks * step
        for i in range(0, total, step):
            if i >= pcm.size and all_completed():
                break
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if closed.is_set():
                stats.errors.append("server closed the stream")
                break
            chunk = audio16[int(i * up):int((i + step) * up)].tobytes() if i < pcm.size else silence
            ws.send_binary(chunk)
            sent[round((i + step) / rate, 3)] = time.monotonic()
        ws.send_binary(b"END_OF_AUDIO")
        time.sleep(0.5)
    except OSError as exc:
        stats.errors.append(f"send: {exc}")
    finally:
        closed.set()
        ws.close()
        th.join(5)

    def sent_at(t):
        keys = [k for k in sent if k >= t - 1e-6]
        return sent[min(keys)] if keys else None

    per_prompt: dict[int, list] = {}
    for (a, b, text), seen in completed_first_seen.items():
        k = _assign(float(a), float(b), marks)
        if k is not None:
            per_prompt.setdefault(k, []).append((float(a), seen, text))
    first_seen: dict[int, float] = {}
    last_change: dict[int, float] = {}
    last_text: dict[int, str] = {}
    for now, segs in messages:
        texts: dict[int, list] = {}
        for s in segs:
            k = _assign(float(s["start"]), float(s["end"]), marks)
            if k is not None:
                texts.setdefault(k, []).append((float(s["start"]), s["text"]))
        for k, parts in texts.items():
            first_seen.setdefault(k, now)
            text = normalize(" ".join(t for _, t in sorted(parts)))
            if text and text != last_text.get(k):
                last_text[k], last_change[k] = text, now
    for k, (start, end, text) in enumerate(marks):
        stats.refs.append(text)
        segs = sorted(per_prompt.get(k, []))
        stats.hyps.append(" ".join(t.strip() for _, _, t in segs))
        end_sent, start_sent = sent_at(end), sent_at(start)
        if segs and end_sent is not None:
            stats.latencies.append(max(seen for _, seen, _ in segs) - end_sent)
        if k in last_change and end_sent is not None:
            stats.server_latencies.append(last_change[k] - end_sent)  # reported as stable_*
        if k in first_seen and start_sent is not None:
            stats.first_interim.append(first_seen[k] - start_sent)


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


# --------------------------------------------------------------------------- reporting


def markdown(rows: list[dict]) -> str:
    cols = list(dict.fromkeys(c for r in rows for c in r))
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(out)


def capacity(rows: list[dict], limit: float = 2.0) -> int:
    """Most streams whose p95 final latency stayed <= limit (0 when none did)."""
    ok = [r["streams"] for r in rows if r["final_p95_s"] <= limit and not r["errors"] and not r["missing_finals"]]
    return max(ok, default=0)


def _ratio(a, b) -> float | None:
    if a is None or b is None or any(isinstance(x, float) and math.isnan(x) for x in (a, b)) or b == 0:
        return None
    return a / b


def _fmt(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.2f}"


def compare(our_rows: list[dict], peers: dict[str, list[dict]], offline: dict | None, limit: float = 2.0) -> str:
    """Markdown table of the issue's goals: ours vs each peer, and ours vs offline WER."""
    lines = ["| goal | measure | value | met |", "|---|---|---|---|"]
    wl = peers.get("whisperlive") or []
    by_n = {r["streams"]: r for r in wl}
    for r in our_rows:
        p = by_n.get(r["streams"])
        if p is None:
            continue
        for q in ("p50", "p95"):
            ratio = _ratio(r[f"final_{q}_s"], p[f"final_{q}_s"])
            met = "yes" if ratio is not None and ratio <= 0.5 else "no"
            lines.append(f"| final <= 0.5x WhisperLive | {r['streams']} streams, {q}: ours/WhisperLive"
                         f" | {_fmt(ratio)} | {met} |")
    if offline:
        for r in our_rows:
            delta = (r["wer"] - offline["wer"]) * 100
            lines.append(f"| WER <= offline + 1 pt | {r['streams']} streams: ours {r['wer'] * 100:.1f} % vs"
                         f" offline {offline['wer'] * 100:.1f} % | {delta:+.1f} pt | {'yes' if delta <= 1 else 'no'} |")
    ours_cap = capacity(our_rows, limit)
    for name, rows in peers.items():
        cap = capacity(rows, limit)
        tested = max((r["streams"] for r in rows), default=0)
        ratio = "inf" if cap == 0 and ours_cap else _fmt(_ratio(ours_cap, cap))
        note = ""
        if cap == 0:
            note = f" (never <= {limit} s, {tested} streams tried)"
        elif cap >= tested:
            note = f" (passed at the most streams tried, {tested}: its capacity may be higher)"
        met = "yes" if ours_cap and (cap == 0 or ours_cap >= 2 * cap) else "no"
        lines.append(f"| >= 2x streams at p95 <= {limit} s | ours {ours_cap} vs {name} {cap}{note}"
                     f" | {ratio} | {met} |")
    return "\n".join(lines)


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
