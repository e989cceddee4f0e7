"""Shared fixtures: real prompts with their texts, the real engine (loaded once per test
session), and a real gRPC server on 127.0.0.1:0 driven from a background event loop."""

from __future__ import annotations

import asyncio
import gzip
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

SOUNDS = Path("/usr/share/asterisk/sounds")
DOCS = Path("/usr/share/doc")
MOH = Path("/usr/share/asterisk/moh")

_NUMBERS_EN = "zero one two three four five six seven eight nine".split()


@dataclass(frozen=True)
class Prompt:
    lang: str
    name: str
    path: Path
    text: str


def load_prompts(lang: str) -> dict[str, Prompt]:
    doc = DOCS / f"asterisk-core-sounds-{lang}" / f"core-sounds-{lang}.txt.gz"
    if not doc.exists():
        pytest.fail(f"{doc} missing: run `make test` (it installs the test audio) or tools/install_test_deps.py")
    prompts = {}
    with gzip.open(doc, "rt", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith(";") or ":" not in line:
                continue
            name, text = line.split(":", 1)
            name, text = name.strip(), text.strip()
            path = SOUNDS / lang / f"{name}.wav"
            if path.exists() and text and "[" not in text:
                prompts[name] = Prompt(lang, name, path, text)
    return prompts


def pick_prompts(lang: str, count: int, min_words: int = 5, max_words: int = 16) -> list[Prompt]:
    """A deterministic set of plain-text prompts (no digits, no brackets)."""
    chosen = []
    for name, p in sorted(load_prompts(lang).items()):
        words = p.text.split()
        if min_words <= len(words) <= max_words and not re.search(r"\d", p.text):
            chosen.append(p)
        if len(chosen) == count:
            break
    return chosen


def normalize(text: str) -> str:
    """Lower-case, fold accents, drop punctuation, English digits to words."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"\d", lambda m: f" {_NUMBERS_EN[int(m.group())]} ", text)
    text = re.sub(r"[^\w\s']|_", " ", text).replace("'", "")
    return " ".join(text.split())


def wer(references: list[str], hypotheses: list[str]) -> float:
    import jiwer

    return jiwer.wer([normalize(r) for r in references], [normalize(h) or "<empty>" for h in hypotheses])


@pytest.fixture(scope="session")
def config(tmp_path_factory):
    from voice.config import load_config

    from dataclasses import replace

    cache = Path(__file__).resolve().parent.parent / ".cache"
    cfg = load_config(env={"VOICE_CACHE_DIR": str(cache)})
    # TTS -> ASR round trips must not depend on Piper's sampling noise (a CI run misheard one)
    return replace(cfg, tts=replace(cfg.tts, deterministic=True))


@pytest.fixture(scope="session")
def engine(config):
    from voice.runtime.engine import SpeechEngine

    eng = SpeechEngine(config)
    eng.load()
    yield eng
    eng.close()


class ServerThread:
    """A VoiceServer on 127.0.0.1:0 in a background event loop."""

    def __init__(self, config, engine):
        from voice.api.grpc.server import VoiceServer

        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.server = self.call(self._make, VoiceServer, config, engine)
        self.port = self.call(self.server.start, "127.0.0.1", 0)
        self.call(self.server.wait_ready)
        self.address = f"127.0.0.1:{self.port}"

    @staticmethod
    async def _make(cls, config, engine):
        return cls(config, engine)

    def call(self, fn, *args):
        return asyncio.run_coroutine_threadsafe(fn(*args), self.loop).result(timeout=600)

    def stop(self):
        self.call(self.server.server.stop, 0)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)


@pytest.fixture(scope="session")
def server(config, engine):
    srv = ServerThread(config, engine)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def channel(server):
    with grpc.insecure_channel(server.address) as ch:
        grpc.channel_ready_future(ch).result(timeout=30)
        yield ch
