"""Helpers for the operations tests and bench/reliability.py: every door of one process in a
background loop (:class:`DoorsThread`), ``voice serve`` as a child process with its ports read
from its log (:class:`ServeProcess`), self-signed certificates (openssl), Prometheus text."""

from __future__ import annotations

import asyncio
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from voice.testing.paths import CACHE_DIR

if TYPE_CHECKING:
    from voice.api.runner import Doors
    from voice.config import Config
    from voice.runtime.engine import SpeechEngine

T = TypeVar("T")
BIN = Path(sys.executable).parent


class DoorsThread:
    """:class:`voice.api.runner.Doors` (every door of ``config``; metrics and, with ``http``,
    the HTTP door on ephemeral ports) started in a background event loop; ``ports`` by door."""

    def __init__(self, config: Config, engine: SpeechEngine, metrics: bool = True, http: bool = False):
        from voice.api.runner import Doors

        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

        async def make() -> Doors:
            return Doors(config, engine, metrics_port=0 if metrics else None, http_port=0 if http else None)

        self.doors: Doors = self.call(make)
        self.ports: dict[str, int] = self.call(self.doors.start)
        self.call(self.doors.grpc.wait_ready)

    def call(self, fn: Callable[..., Awaitable[T]], *args: Any, timeout: float = 600) -> T:
        return asyncio.run_coroutine_threadsafe(fn(*args), self.loop).result(timeout=timeout)

    def metrics(self) -> dict[tuple[str, tuple], float]:
        """The current samples of the doors' registry (see :func:`samples`)."""
        return samples(self.doors.metrics.exposition().decode())

    def stop(self) -> None:
        self.call(self.doors.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Prometheus text -> {(sample name, sorted label items): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def sample(values: dict, name: str, **labels: str) -> float:
    """One sample's value (0 when absent)."""
    return values.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(url: str, context=None, headers: dict | None = None) -> dict[tuple[str, tuple], float]:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        return samples(response.read().decode())


@dataclass(frozen=True)
class Certs:
    """Paths of a test CA, a server certificate for 127.0.0.1/localhost and a client one."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # a CA that signed nothing here (a client certificate it signed is refused)
    other_cert: Path
    other_key: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_certs(directory: Path, name: str = "server") -> Certs:
    """A fresh CA, a server certificate signed by it (SAN 127.0.0.1, localhost), a client
    certificate signed by it, and a client certificate of an unrelated CA (openssl CLI)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)

    def ca(stem: str) -> tuple[Path, Path]:
        key, cert = d / f"{stem}.key", d / f"{stem}.pem"
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={stem}")
        return cert, key

    def leaf(stem: str, ca_cert: Path, ca_key: Path, server: bool) -> tuple[Path, Path]:
        key, csr, cert, ext = d / f"{stem}.key", d / f"{stem}.csr", d / f"{stem}.pem", d / f"{stem}.ext"
        ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n" if server
                       else "extendedKeyUsage=clientAuth\n")
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key),
                 "-out", str(csr), "-subj", f"/CN={stem}")
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key), "-CAcreateserial",
                 "-out", str(cert), "-days", "2", "-extfile", str(ext))
        return cert, key

    ca_cert, ca_key = ca("ca")
    server_cert, server_key = leaf(name, ca_cert, ca_key, True)
    client_cert, client_key = leaf("client", ca_cert, ca_key, False)
    other_ca, other_ca_key = ca("other-ca")
    other_cert, other_key = leaf("other-client", other_ca, other_ca_key, False)
    return Certs(ca_cert, server_cert, server_key, client_cert, client_key, other_ca, other_cert, other_key)


_PORTS = re.compile(r"Doors: (.*)$")


class ServeProcess:
    """``voice serve`` as a child process on 127.0.0.1 with ephemeral ports (read from its
    "Doors: ..." log line); its log lines are kept in :attr:`lines`."""

    def __init__(self, args: Sequence[str] = (), config: dict[str, dict[str, Any]] | None = None,
                 config_dir: Path | None = None, env: dict[str, str] | None = None, log_level: str = "INFO"):
        cmd = [str(BIN / "voice"), "--log-level", log_level, "serve", "--host", "127.0.0.1", "--port", "0", *args]
        if config:
            import json

            path = Path(config_dir or "/tmp") / f"voice-{os.getpid()}-{id(self)}.toml"
            path.write_text("".join(f"[{section}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())
                                    for section, values in config.items()))
            cmd += ["--config", str(path)]
        self.proc = subprocess.Popen(cmd, env=dict(os.environ, VOICE_CACHE_DIR=str(CACHE_DIR), **(env or {})),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._new: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.ports: dict[str, int] = {}

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            self._new.put(line)
        self._new.put(None)

    def wait_for(self, pattern: str, timeout: float = 300) -> re.Match:
        """The first log line (seen so far or next) matching ``pattern``."""
        regex = re.compile(pattern)
        for line in list(self.lines):
            if m := regex.search(line):
                return m
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._new.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(f"voice serve exited ({self.proc.wait()}): " + "\n".join(self.lines[-30:]))
            if m := regex.search(line):
                return m
        raise AssertionError(f"no log line matching {pattern!r} within {timeout} s: " + "\n".join(self.lines[-30:]))

    def start(self, ready: bool = True, timeout: float = 300) -> ServeProcess:
        doors = self.wait_for(r"Doors: (.*)$", timeout).group(1)
        self.ports = {name: int(port) for name, port in re.findall(r"(\w+) on port (\d+)", doors)}
        if ready:
            self.wait_for(r"Serving on port", timeout)
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.ports['grpc']}"

    def terminate(self) -> None:
        self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
