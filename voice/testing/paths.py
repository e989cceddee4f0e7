"""Where the checkout is, and where tests and benchmarks keep the assembled models."""

from __future__ import annotations

from pathlib import Path


def _checkout() -> Path:
    """The source checkout: ``voice`` is installed editable from it (``pip install -e``).

    Anywhere else (a plain install) the current directory stands in for it.
    """
    here = Path(__file__).resolve().parents[2]
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


ROOT: Path = _checkout()
"""The checkout holding ``pyproject.toml``, ``tests/`` and ``bench/``."""

CACHE_DIR: Path = ROOT / ".cache"
"""``VOICE_CACHE_DIR`` of the test and benchmark servers: models assembled once, kept."""
