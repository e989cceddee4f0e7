"""Two ``voice serve`` processes behind Debian's nginx (grpc_pass, round robin) on loopback:
streams spread over both; one replica drains (SIGTERM) while streams run on it: every stream
it had accepted completes, the streams opened after go to the other replica, nothing is lost.
nginx runs as a child process with its own prefix and config in a temporary directory."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import soundfile as sf
from voice_api.v1 import recognizer_pb2_grpc

from voice.testing.harness import free_port
from voice.testing.ops import ServeProcess
from voice.testing.prompts import SOUNDS
from voice.testing.streams import audio_requests, config_request, silence

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
GRACE_S = 30.0
PROMPT = SOUNDS / "en" / "queue-callswaiting.wav"  # "Waiting to speak with a representative"

CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body;
    upstream voice_grpc {{
        server 127.0.0.1:{a} max_fails=1 fail_timeout=30s;
        server 127.0.0.1:{b} max_fails=1 fail_timeout=30s;
    }}
    server {{
        listen 127.0.0.1:{port} http2;
        location / {{
            grpc_pass grpc://voice_grpc;
            grpc_next_upstream error timeout;
            grpc_read_timeout 300s;
            grpc_send_timeout 300s;
            client_body_timeout 300s;
        }}
    }}
}}
"""


def start_nginx(directory: Path, a: int, b: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    (directory / "nginx.conf").write_text(CONF.format(dir=directory, a=a, b=b, port=port))
    proc = subprocess.Popen([NGINX, "-p", str(directory), "-c", str(directory / "nginx.conf"),
                             "-e", str(directory / "error.log"), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20  # nginx listens a moment after it starts: wait for it
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"nginx did not listen on {port}: {proc.stderr.read() if proc.poll() is not None else ''}")
            time.sleep(0.05)


class Stream(threading.Thread):
    """One real-time stream through nginx, tagged with a request id; keeps its finals and status."""

    def __init__(self, address: str, rid: str, pcm: np.ndarray):
        super().__init__(daemon=True)
        self.address, self.rid, self.pcm = address, rid, pcm
        self.finals: list[str] = []
        self.code: grpc.StatusCode | None = None
        self.details = ""
        self.answered = threading.Event()  # the server has the stream (a response came back)

    def run(self) -> None:
        def requests():
            yield config_request("en")
            yield from audio_requests(self.pcm, pace=1.0)
        with grpc.insecure_channel(self.address, options=(("grpc.use_local_subchannel_pool", 1),)) as channel:
            stub = recognizer_pb2_grpc.RecognizerStub(channel)
            try:
                for response in stub.StreamingRecognize(requests(), metadata=(("x-request-id", self.rid),)):
                    self.answered.set()
                    self.finals += [r.alternatives[0].transcript for r in response.results if r.is_final]
                self.code = grpc.StatusCode.OK
            except grpc.RpcError as exc:
                self.code, self.details = exc.code(), exc.details()
            self.answered.set()


def served_by(server: ServeProcess, rid: str) -> str | None:
    """The status the server logged for the stream ``rid`` (None: not served there)."""
    for line in server.lines:
        m = re.search(r"/voice\.v1\.Recognizer/StreamingRecognize (\w+) .*\[" + re.escape(rid) + r"\]$", line)
        if m:
            return m.group(1)
    return None


def test_two_replicas_behind_nginx_one_drains(tmp_path):
    a = ServeProcess(config={"server": {"grace_period_s": GRACE_S}}, config_dir=tmp_path)
    b = ServeProcess(config={"server": {"grace_period_s": GRACE_S}}, config_dir=tmp_path)
    nginx = None
    try:
        a.start()
        b.start()
        nginx, port = start_nginx(tmp_path, a.ports["grpc"], b.ports["grpc"])
        address = f"127.0.0.1:{port}"
        speech = np.concatenate([silence(0.5), sf.read(PROMPT, dtype="int16")[0], silence(1.0)])
        pcm = np.concatenate([speech, speech])  # two utterances, ~6 s at real-time pace
        first = [Stream(address, f"first-{i}", pcm) for i in range(4)]
        for s in first:
            s.start()
            assert s.answered.wait(60), "no response through nginx"
        time.sleep(0.5)
        a.terminate()  # a drains while its streams run
        a.wait_for(r"Draining:", 10)
        later = [Stream(address, f"later-{i}", speech) for i in range(3)]
        for s in later:
            s.start()
        for s in first + later:
            s.join(120)
        assert a.wait(GRACE_S + 20) == 0
        for s in first + later:  # nothing lost: every stream completed with its finals
            assert s.code == grpc.StatusCode.OK, (s.rid, s.code, s.details)
            assert s.finals and all("representative" in f.lower() for f in s.finals), (s.rid, s.finals)
        # round robin: the first streams were spread over both replicas
        on_a = [s.rid for s in first if served_by(a, s.rid) == "OK"]
        on_b = [s.rid for s in first if served_by(b, s.rid) == "OK"]
        assert on_a and on_b and sorted(on_a + on_b) == sorted(s.rid for s in first)
        for s in first:  # every stream a had accepted got both its utterances
            assert len(s.finals) == 2, (s.rid, s.finals)
        assert all(served_by(b, s.rid) == "OK" and served_by(a, s.rid) is None for s in later)
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(10)
        a.close()
        b.close()
