"""The installed programs (``voice``, ``voice-client``) run as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from voice.testing.paths import CACHE_DIR

BIN = Path(sys.executable).parent
"""The environment's scripts directory (where pip put ``voice`` and ``voice-client``)."""


def run(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run program ``args[0]`` from :data:`BIN` with ``args[1:]``; text output captured.

    The models come from the checkout's cache (:data:`voice.testing.paths.CACHE_DIR`), as
    for the in-process test server. With ``check``, a non-zero exit fails with its stderr.
    """
    env = dict(os.environ, VOICE_CACHE_DIR=str(CACHE_DIR))
    proc = subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc
