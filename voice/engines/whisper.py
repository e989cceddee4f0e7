"""faster-whisper speech recognition backend.

:class:`WhisperRecognizer` wraps one CTranslate2 Whisper model. :meth:`transcribe` is
blocking and consumes faster-whisper's lazy segment generator wholly, so callers run it in a
worker thread. faster-whisper is imported lazily, when a model is loaded.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import numpy as np

from ..config import AsrConfig
from ..core.errors import InvalidArgument
from ..core.languages import pick_language
from ..core.transcripts import DecodeOptions, Transcript, Word
from . import fw_compat
from .batching import BatchDecoder, batch_key
from .devices import DeviceChoice
from .limits import VAD_PARAMETERS, encoder_window, max_new_tokens

_LOGGER = logging.getLogger(__name__)
TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # faster-whisper's fallback schedule


class WhisperRecognizer:
    """One loaded Whisper model. Thread-safe for up to ``num_workers`` concurrent calls."""

    def __init__(self, name: str, model_dir: Path, device: DeviceChoice, cfg: AsrConfig):
        from faster_whisper import WhisperModel

        if cfg.min_window_s < 30:
            fw_compat.install_short_window()
        self.name = name
        self.model_dir = Path(model_dir)
        self.device = device
        self._cfg = cfg
        self._model = WhisperModel(
            str(model_dir),
            device=device.device,
            compute_type=device.compute_type,
            cpu_threads=max(1, (cfg.cpu_threads or os.cpu_count() or 1) // cfg.num_workers),
            num_workers=cfg.num_workers,
            local_files_only=True,
        )
        self._model.feature_extractor = fw_compat.KernelFeatureExtractor(self._model.feature_extractor)
        self.multilingual = fw_compat.is_multilingual(self._model)
        self.languages = fw_compat.whisper_languages() if self.multilingual else frozenset({"en"})
        self._batch = BatchDecoder(
            self._model, self.multilingual,
            (cfg.no_speech_threshold, cfg.log_prob_threshold, cfg.compression_ratio_threshold),
            cfg.min_window_s, self.transcribe)
        _LOGGER.info("Loaded Whisper %s from %s on %s/%s", name, model_dir, device.device, device.compute_type)

    def check_language(self, language: str | None, field: str = "language_code") -> None:
        if language is not None and language not in self.languages:
            raise InvalidArgument(field, f"{language!r} is not supported by model {self.name!r}")

    def check_task(self, task: str, field: str = "task") -> None:
        if task not in ("transcribe", "translate"):
            raise InvalidArgument(field, f"unknown task {task!r} (transcribe or translate)")
        if task == "translate" and not self.multilingual:
            raise InvalidArgument(field, f"model {self.name!r} is English-only; translation needs a multilingual model")

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> Transcript:
        """Decode 16 kHz float32 mono audio (blocking)."""
        self.check_language(options.language)
        self.check_task(options.task)
        if not self.multilingual:
            return self._decode(audio, options, "en")
        candidates = tuple(dict.fromkeys(c for c in options.candidates if c))
        if len(candidates) == 1:
            return self._decode(audio, options, candidates[0])
        if not candidates:
            return self._decode(audio, options, options.language)
        # one pass with detection; a second only when Whisper's pick is not an allowed one
        first = self._decode(audio, options, None)
        choice = pick_language(first.language_probs, candidates, options.language)
        if choice == first.language:
            return first
        return self._decode(audio, options, choice)

    def batch_key(self, options: DecodeOptions) -> tuple:
        """Decodes with equal keys may run as one batch (:meth:`transcribe_batch`)."""
        return batch_key(self.name, options)

    def transcribe_batch(self, items: list[tuple[np.ndarray, DecodeOptions]]) -> list[Transcript | Exception]:
        """Decode several jobs (of equal :meth:`batch_key`) in one batch (blocking).

        Returns one transcript per item, or the item's exception (a bad language) without
        failing the others."""
        out: list[Transcript | Exception | None] = [None] * len(items)
        valid = []
        for i, (audio, options) in enumerate(items):
            try:
                self.check_language(options.language)
            except InvalidArgument as exc:
                out[i] = exc
            else:
                valid.append(i)
        # translation and a chosen temperature have no batched form: the single path decodes them
        single = [i for i in valid if items[i][1].task != "transcribe" or items[i][1].temperature is not None]
        for i in single:
            try:
                out[i] = self.transcribe(*items[i])
            except InvalidArgument as exc:
                out[i] = exc
        valid = [i for i in valid if i not in single]
        if len(valid) == 1:
            i = valid[0]
            out[i] = self.transcribe(*items[i])
        elif valid:
            for i, transcript in zip(valid, self._batch.decode([items[i] for i in valid])):
                out[i] = transcript
        return out  # type: ignore[return-value]

    def _decode(self, audio: np.ndarray, options: DecodeOptions, language: str | None) -> Transcript:
        if self._cfg.min_window_s >= 30:
            return self._decode_window(audio, options, language)
        with fw_compat.short_window(encoder_window(len(audio), self._cfg.min_window_s)):
            return self._decode_window(audio, options, language)

    def _decode_window(self, audio: np.ndarray, options: DecodeOptions, language: str | None) -> Transcript:
        cfg = self._cfg
        prompt = ", ".join(options.hints) if options.hints else None
        if options.interim:
            temperature: float | list[float] = 0.0
        elif options.temperature is None:
            temperature = list(TEMPERATURES)
        else:  # the caller's temperature first, then the hotter steps of the fallback
            temperature = [options.temperature, *(t for t in TEMPERATURES if t > options.temperature)]
        segments, info = self._model.transcribe(
            audio,
            language=language,
            task=options.task,
            initial_prompt=prompt,
            prefix=options.prefix or None,
            beam_size=1 if options.interim else options.beam_size,
            temperature=temperature,
            word_timestamps=options.word_timestamps,
            condition_on_previous_text=False,
            no_speech_threshold=cfg.no_speech_threshold,
            log_prob_threshold=cfg.log_prob_threshold,
            compression_ratio_threshold=cfg.compression_ratio_threshold,
            # second, model-based speech check (Silero): webrtcvad passes music and noise
            vad_filter=True,
            vad_parameters=VAD_PARAMETERS,
            # tokens capped by audio length: a guard against repetition loops
            max_new_tokens=max_new_tokens(len(audio)),
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
        probs = dict(info.all_language_probs or ()) or {info.language: float(info.language_probability)}
        return Transcript(
            text=text,
            language=info.language,
            language_probability=float(info.language_probability),
            confidence=float(confidence),
            words=tuple(words),
            language_probs=probs,
        )
