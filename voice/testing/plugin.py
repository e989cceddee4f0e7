"""pytest plugin: the real engine (loaded once per test session) and a real gRPC server on
127.0.0.1:0 driven from a background event loop.

Fixtures (all session-scoped):

* ``config`` - the default configuration, models cached in the checkout's ``.cache/``,
  deterministic TTS;
* ``engine`` - a loaded :class:`voice.runtime.engine.SpeechEngine` on ``config``;
* ``server`` - a :class:`voice.testing.server.ServerThread` serving ``engine``;
* ``channel`` - a ready ``grpc.Channel`` to ``server``.

Register it with ``pytest_plugins = ["voice.testing.plugin"]`` in the top conftest.py. Every
heavy import happens inside a fixture, so the unit tests, which use none of these, pay
nothing for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from voice.testing.paths import CACHE_DIR

if TYPE_CHECKING:
    import grpc

    from voice.config import Config
    from voice.runtime.engine import SpeechEngine
    from voice.testing.server import ServerThread


@pytest.fixture(scope="session")
def config() -> Config:
    """The default configuration, models in the checkout's cache, deterministic TTS."""
    from voice.config import load_config

    cfg = load_config(env={"VOICE_CACHE_DIR": str(CACHE_DIR)})
    # TTS -> ASR round trips must not depend on Piper's sampling noise (a CI run misheard one)
    return replace(cfg, tts=replace(cfg.tts, deterministic=True))


@pytest.fixture(scope="session")
def engine(config: Config) -> Iterator[SpeechEngine]:
    """The real engine, loaded once for the session and closed at its end."""
    from voice.runtime.engine import SpeechEngine

    eng = SpeechEngine(config)
    eng.load()
    yield eng
    eng.close()


@pytest.fixture(scope="session")
def server(config: Config, engine: SpeechEngine) -> Iterator[ServerThread]:
    """A real gRPC server on 127.0.0.1:0 serving ``engine``."""
    from voice.testing.server import ServerThread

    srv = ServerThread(config, engine)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def channel(server: ServerThread) -> Iterator[grpc.Channel]:
    """An insecure channel to ``server``, ready before it is handed out."""
    import grpc

    with grpc.insecure_channel(server.address) as ch:
        grpc.channel_ready_future(ch).result(timeout=30)
        yield ch
