"""faster-whisper speech recognition backend.

:class:`WhisperRecognizer` wraps one CTranslate2 Whisper model. :meth:`transcribe` is
blocking and consumes faster-whisper's lazy segment generator wholly, so callers run it in a
worker thread. faster-whisper is imported lazily, when a model is loaded.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import AsrConfig
from .models import DeviceChoice

_LOGGER = logging.getLogger(__name__)


def whisper_languages() -> frozenset[str]:
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return frozenset(_LANGUAGE_CODES)


def normalize_language(code: str | None) -> str | None:
    """BCP-47 ("en-US", "pt_BR") -> Whisper's code ("en", "pt"); empty -> None."""
    if not code:
        return None
    return code.replace("_", "-").split("-")[0].lower()


@dataclass(frozen=True)
class Word:
    word: str
    start: float  # seconds, relative to the decoded audio
    end: float
    confidence: float


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    language_probability: float
    confidence: float
    words: tuple[Word, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.text


@dataclass(frozen=True)
class DecodeOptions:
    language: str | None = None  # Whisper code; None = detect
    word_timestamps: bool = False
    beam_size: int = 5
    interim: bool = False  # cheaper settings for interim re-decodes


class WhisperRecognizer:
    """One loaded Whisper model. Thread-safe for up to ``num_workers`` concurrent calls."""

    def __init__(self, name: str, model_dir: Path, device: DeviceChoice, cfg: AsrConfig):
        from faster_whisper import WhisperModel

        self.name = name
        self.model_dir = Path(model_dir)
        self.device = device
        self._cfg = cfg
        self._model = WhisperModel(
            str(model_dir),
            device=device.device,
            compute_type=device.compute_type,
            cpu_threads=cfg.cpu_threads,
            num_workers=cfg.num_workers,
            local_files_only=True,
        )
        self.multilingual = bool(self._model.model.is_multilingual)
        self.languages = whisper_languages() if self.multilingual else frozenset({"en"})
        _LOGGER.info("Loaded Whisper %s from %s on %s/%s", name, model_dir, device.device, device.compute_type)

    def check_language(self, language: str | None) -> None:
        if language is not None and language not in self.languages:
            raise ValueError(f"language_code {language!r} is not supported by model {self.name!r}")

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> Transcript:
        """Decode 16 kHz float32 mono audio (blocking)."""
        self.check_language(options.language)
        language = options.language if self.multilingual else "en"
        cfg = self._cfg
        segments, info = self._model.transcribe(
            audio,
            language=language,
            beam_size=1 if options.interim else options.beam_size,
            temperature=0.0 if options.interim else [0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
            word_timestamps=options.word_timestamps,
            condition_on_previous_text=False,
            no_speech_threshold=cfg.no_speech_threshold,
            log_prob_threshold=cfg.log_prob_threshold,
            compression_ratio_threshold=cfg.compression_ratio_threshold,
            # second, model-based speech check (Silero): webrtcvad passes music and noise
            vad_filter=True,
            vad_parameters={"min_silence_duration_ms": 500, "speech_pad_ms": 300},
            # tokens capped by audio length: a guard against repetition loops
            max_new_tokens=min(400, int(len(audio) / 16000 * 15) + 20),
        )
        texts: list[str] = []
        words: list[Word] = []
        weighted = 0.0
        total = 0.0
        for seg in segments:  # consumes the lazy generator here, in the worker thread
            text = seg.text.strip()
            if not text:
                continue
            texts.append(text)
            span = max(seg.end - seg.start, 1e-3)
            weighted += math.exp(seg.avg_logprob) * span
            total += span
            for w in seg.words or ():
                words.append(Word(w.word.strip(), float(w.start), float(w.end), float(w.probability)))
        text = " ".join(texts).strip()
        confidence = weighted / total if total else 0.0
        return Transcript(
            text=text,
            language=info.language,
            language_probability=float(info.language_probability),
            confidence=float(confidence),
            words=tuple(words),
        )
