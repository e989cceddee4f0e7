"""WhisperLive for bench/peers.py: its server, and a websocket client (a minimal RFC 6455 one).

"Final" = the arrival of the last completed segment assigned to the prompt; after the
stream's audio ends the bench keeps sending silence (up to TAIL_S) so the last prompt can
complete. ``stable_*`` is the (hindsight) time at which the prompt's text stopped changing.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from peer_common import RATE, THREADS, PeerServer, peer_python, spawn, wait_port

from voice.testing import harness
from voice.testing.prompts import normalize

MATCH_MARGIN_S = 0.3  # as voice.testing.harness.run_stream: a result belongs to a prompt it overlaps +-0.3 s
TAIL_S = 20.0  # WhisperLive: most silence sent after a stream's audio, waiting for completion


# --------------------------------------------------------------------------- server


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
    proc, log = spawn("whisperlive", [str(peer_python("whisperlive")), "-c", _WHISPERLIVE_MAIN,
                                      str(port), str(model), cache, os.environ.get("PEERS_LOG_LEVEL", "WARNING")],
                      {"OMP_NUM_THREADS": str(threads)})
    server = PeerServer("whisperlive", proc, "127.0.0.1", port, log)
    wait_port(server)
    return server


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
