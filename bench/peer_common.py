"""What bench/peers.py's peer modules share: settings, the model, and a peer server process.

Each peer runs in its own venv under bench/.peers/<name> (bash bench/setup_peers.sh).
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from voice.testing.paths import CACHE_DIR

BENCH = Path(__file__).resolve().parent
PEERS_DIR = BENCH / ".peers"

BEAM_SIZE = 5
THREADS = os.cpu_count() or 1
RATE = 8000


def model_dir() -> Path:
    """The CTranslate2 Whisper base directory our server uses (assembled if needed)."""
    from voice.runtime.models import assemble_whisper_base

    return assemble_whisper_base(CACHE_DIR)


def peer_python(name: str) -> Path:
    py = PEERS_DIR / name / "bin" / "python"
    if not py.exists():
        raise SystemExit(f"{py} missing: run bash bench/setup_peers.sh")
    return py


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


def spawn(name: str, args: list[str], env_extra: dict) -> tuple[subprocess.Popen, Path]:
    log = Path(tempfile.mkstemp(prefix=f"peer-{name}-", suffix=".log")[1])
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **env_extra)
    env.pop("PYTHONPATH", None)
    with open(log, "wb") as fh:
        proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=tempfile.gettempdir())
    return proc, log


def wait_port(server: PeerServer, timeout: float = 300) -> None:
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
