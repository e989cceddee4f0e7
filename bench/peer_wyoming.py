"""wyoming-faster-whisper for bench/peers.py: its server, and a Wyoming client over TCP.

The bench acts as an ideal client-side endpointer: one connection per prompt, opened at the
100 ms chunk where the prompt starts, ``audio-stop`` sent right after the chunk where it ends.
"""

from __future__ import annotations

import json
import socket
import tempfile
import threading
import time
from pathlib import Path

from peer_common import (
    BEAM_SIZE,
    RATE,
    THREADS,
    PeerServer,
    peer_python,
    spawn,
    wait_port,
)

from voice.testing import harness

# --------------------------------------------------------------------------- server


def start_wyoming(model: Path, language: str, threads: int = THREADS) -> PeerServer:
    """wyoming-faster-whisper on a free loopback port; it loads the model before listening."""
    port = harness.free_port()
    data_dir = tempfile.mkdtemp(prefix="peer-wyoming-")
    proc, log = spawn("wyoming", [
        str(peer_python("wyoming")), "-m", "wyoming_faster_whisper",
        "--uri", f"tcp://127.0.0.1:{port}", "--model", str(model), "--data-dir", data_dir,
        "--local-files-only", "--device", "cpu", "--compute-type", "int8",
        "--beam-size", str(BEAM_SIZE), "--cpu-threads", str(threads), "--language", language,
        "--stt-library", "faster-whisper",
    ], {})
    server = PeerServer("wyoming", proc, "127.0.0.1", port, log)
    wait_port(server)
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
