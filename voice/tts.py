"""Piper text-to-speech backend and the voice catalogue.

:class:`VoiceCatalogue` knows every configured voice (name, language, rate) from the
``.onnx.json`` files without loading them; :class:`PiperSynthesizer` loads one voice and
synthesizes sentence by sentence (blocking: callers run it in a worker thread). piper is
imported lazily.
"""

from __future__ import annotations

import json
import re
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class VoiceInfo:
    name: str
    language: str  # BCP-47, e.g. "en-US"
    sample_rate: int
    quality: str
    num_speakers: int
    model_path: Path
    neural: bool = True


def read_voice_info(onnx: Path) -> VoiceInfo:
    with open(f"{onnx}.json", encoding="utf-8") as fh:
        cfg = json.load(fh)
    lang = cfg.get("language", {}).get("code") or cfg.get("espeak", {}).get("voice", "")
    name = onnx.name[: -len(".onnx")] if onnx.name.endswith(".onnx") else onnx.stem
    return VoiceInfo(
        name=name,
        language=lang.replace("_", "-"),
        sample_rate=int(cfg["audio"]["sample_rate"]),
        quality=str(cfg["audio"].get("quality", "")),
        num_speakers=int(cfg.get("num_speakers", 1)),
        model_path=onnx,
    )


class VoiceCatalogue:
    """Every configured voice, by name; the first is the default."""

    def __init__(self, voices: list[VoiceInfo]):
        if not voices:
            raise ValueError("at least one voice is required")
        self._voices = {v.name: v for v in voices}
        self.default = voices[0]

    def __iter__(self):
        return iter(self._voices.values())

    def get(self, name: str) -> VoiceInfo:
        try:
            return self._voices[name]
        except KeyError:
            raise KeyError(f"voice {name!r} is unknown (known: {', '.join(self._voices)})") from None

    def for_language(self, language: str) -> VoiceInfo | None:
        """Best voice for a BCP-47 code: exact match, then same base language."""
        want = language.replace("_", "-").lower()
        base = want.split("-")[0]
        exact = [v for v in self._voices.values() if v.language.lower() == want]
        same = [v for v in self._voices.values() if v.language.lower().split("-")[0] == base]
        ranked = exact or same
        if not ranked:
            return None
        order = {"high": 0, "medium": 1, "low": 2, "x_low": 3}
        return sorted(ranked, key=lambda v: order.get(v.quality, 4))[0]

    def select(self, name: str = "", language: str = "") -> VoiceInfo:
        if name:
            return self.get(name)
        if language:
            voice = self.for_language(language)
            if voice is None:
                raise KeyError(f"no voice for language_code {language!r}")
            return voice
        return self.default


@dataclass(frozen=True)
class SentenceAudio:
    index: int
    text: str
    audio: np.ndarray  # int16 at the voice's sample rate


class PiperSynthesizer:
    """One loaded Piper voice; :meth:`synthesize` yields one item per sentence."""

    def __init__(self, info: VoiceInfo, use_cuda: bool = False):
        from piper import PiperVoice

        self.info = info
        self._voice = PiperVoice.load(str(info.model_path), use_cuda=use_cuda)
        # one ONNX session per voice: serialise its use
        self._lock = threading.Lock()
        _LOGGER.info("Loaded Piper voice %s (%s Hz)", info.name, info.sample_rate)

    def synthesize(self, text: str, speaking_rate: float = 1.0) -> Iterator[SentenceAudio]:
        """Yield each sentence's audio as soon as it is made (blocking, lazy)."""
        from piper import SynthesisConfig

        syn = SynthesisConfig(length_scale=1.0 / speaking_rate if speaking_rate else None)
        for index, sentence in enumerate(split_sentences(text)):
            with self._lock:  # espeak-ng phonemisation is process-global state
                chunks = list(self._voice.synthesize(sentence, syn_config=syn))
            parts = [c.audio_int16_array for c in chunks]
            if parts:
                yield SentenceAudio(index, sentence, np.concatenate(parts))


_SENTENCE_END = re.compile(r"(?<=[.!?;:。！？])\s+|\n{2,}")


def split_sentences(text: str) -> list[str]:
    """Split text at sentence punctuation followed by space (and at blank lines)."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]
