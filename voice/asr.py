"""faster-whisper speech recognition backend.

:class:`WhisperRecognizer` wraps one CTranslate2 Whisper model. :meth:`transcribe` is
blocking and consumes faster-whisper's lazy segment generator wholly, so callers run it in a
worker thread. faster-whisper is imported lazily, when a model is loaded.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import AsrConfig
from .models import DeviceChoice

_LOGGER = logging.getLogger(__name__)


_window = threading.local()  # encoder window (mel frames) of the decode running in this thread
_FULL_WINDOW = 3000  # Whisper's 30 s


def _install_short_window() -> None:
    """Let our decodes run the encoder on a window shorter than 30 s.

    faster-whisper pads every segment to 3,000 mel frames (30 s), so a 4 s utterance costs a
    full 30 s encoder pass (~1 s of the ~1.5 s decode on 2 cores). CTranslate2 encodes
    shorter inputs; faster-whisper's ``pad_or_trim`` is swapped for one that, only inside
    :meth:`WhisperRecognizer._decode` (a thread-local window), pads to the window chosen
    for that utterance. Everywhere else it behaves as before.
    """
    import faster_whisper.transcribe as fw

    if getattr(fw.pad_or_trim, "_voice_short_window", False):
        return
    original = fw.pad_or_trim

    def pad_or_trim(array, length: int = _FULL_WINDOW, *, axis: int = -1):
        frames = getattr(_window, "frames", None)
        if frames is not None and length == _FULL_WINDOW:
            length = frames
        return original(array, length, axis=axis)

    pad_or_trim._voice_short_window = True
    fw.pad_or_trim = pad_or_trim


def encoder_window(samples: int, min_window_s: float) -> int:
    """Mel frames to encode ``samples`` of 16 kHz audio: the audio + 3 s, at least
    ``min_window_s``, at most 30 s; rounded up to whole seconds."""
    frames = samples // 160 + 300
    frames = max(frames, int(min_window_s * 100))
    return min(_FULL_WINDOW, -(-frames // 100) * 100)


class KernelFeatureExtractor:
    """faster-whisper's ``FeatureExtractor`` with the log-mel computed by
    :func:`kernels.log_mel_spectrogram` (same features within 1e-4, 2.6x faster on 30 s:
    bench/kernels.py). Anything else is delegated to the wrapped extractor."""

    def __init__(self, inner):
        self._inner = inner
        self._n_mels = int(inner.mel_filters.shape[0])

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def __call__(self, waveform: np.ndarray, padding: int = 160, chunk_length: int | None = None) -> np.ndarray:
        if padding != 160:  # the kernel implements faster-whisper's default padding only
            return self._inner(waveform, padding=padding, chunk_length=chunk_length)
        if chunk_length is not None:  # same side effect as the original
            self._inner.n_samples = chunk_length * self._inner.sampling_rate
            self._inner.nb_max_frames = self._inner.n_samples // self._inner.hop_length
        import kernels

        return kernels.log_mel_spectrogram(np.ascontiguousarray(waveform, dtype=np.float32), self._n_mels)


def max_new_tokens(samples: int) -> int:
    """Token cap for ``samples`` of 16 kHz audio (a guard against repetition loops)."""
    return min(400, int(samples / 16000 * 15) + 20)


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
    language_probs: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def empty(self) -> bool:
        return not self.text


@dataclass(frozen=True)
class DecodeOptions:
    language: str | None = None  # Whisper code; None = detect
    # detection restricted to these (the declared ``language`` first, preferred); () = any
    candidates: tuple[str, ...] = ()
    word_timestamps: bool = False
    beam_size: int = 5
    interim: bool = False  # cheaper settings for interim re-decodes
    prefix: str = ""  # committed text the hypothesis must start with
    hints: tuple[str, ...] = ()  # phrase hints (prompted to the decoder)


# the declared language wins unless another candidate is this many times more likely
DECLARED_LANGUAGE_MARGIN = 2.0


def pick_language(probs: dict[str, float], candidates: tuple[str, ...], declared: str | None) -> str:
    """Most likely candidate language; the declared one is kept unless clearly beaten."""
    best = max(candidates, key=lambda c: probs.get(c, 0.0))
    if declared and declared in candidates and probs.get(best, 0.0) < DECLARED_LANGUAGE_MARGIN * probs.get(declared, 0.0):
        return declared
    return best


class WhisperRecognizer:
    """One loaded Whisper model. Thread-safe for up to ``num_workers`` concurrent calls."""

    def __init__(self, name: str, model_dir: Path, device: DeviceChoice, cfg: AsrConfig):
        from faster_whisper import WhisperModel

        if cfg.min_window_s < 30:
            _install_short_window()
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
        self._model.feature_extractor = KernelFeatureExtractor(self._model.feature_extractor)
        self.multilingual = bool(self._model.model.is_multilingual)
        self.languages = whisper_languages() if self.multilingual else frozenset({"en"})
        from .batching import BatchDecoder

        self._batch = BatchDecoder(
            self._model, self.multilingual,
            (cfg.no_speech_threshold, cfg.log_prob_threshold, cfg.compression_ratio_threshold),
            cfg.min_window_s, self.transcribe)
        _LOGGER.info("Loaded Whisper %s from %s on %s/%s", name, model_dir, device.device, device.compute_type)

    def check_language(self, language: str | None, field: str = "language_code") -> None:
        if language is not None and language not in self.languages:
            raise ValueError(f"{field} {language!r} is not supported by model {self.name!r}")

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> Transcript:
        """Decode 16 kHz float32 mono audio (blocking)."""
        self.check_language(options.language)
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
        from .batching import batch_key

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
            except ValueError as exc:
                out[i] = exc
            else:
                valid.append(i)
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
        _window.frames = encoder_window(len(audio), self._cfg.min_window_s)
        try:
            return self._decode_window(audio, options, language)
        finally:
            _window.frames = None

    def _decode_window(self, audio: np.ndarray, options: DecodeOptions, language: str | None) -> Transcript:
        cfg = self._cfg
        prompt = ", ".join(options.hints) if options.hints else None
        segments, info = self._model.transcribe(
            audio,
            language=language,
            initial_prompt=prompt,
            prefix=options.prefix or None,
            beam_size=1 if options.interim else options.beam_size,
            temperature=0.0 if options.interim else [0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
            word_timestamps=options.word_timestamps,
            condition_on_previous_text=False,
            no_speech_threshold=cfg.no_speech_threshold,
            log_prob_threshold=cfg.log_prob_threshold,
            compression_ratio_threshold=cfg.compression_ratio_threshold,
            # second, model-based speech check (Silero): webrtcvad passes music and noise
            vad_filter=True,
            vad_parameters={"min_silence_duration_ms": 1000, "speech_pad_ms": 600},
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
