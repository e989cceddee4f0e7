"""Every use of faster-whisper / CTranslate2 internals, in one place, with a version check.

The service goes below faster-whisper's public ``WhisperModel.transcribe`` in three ways:

* the encoder window: faster-whisper pads every segment to 30 s with ``pad_or_trim``; it is
  swapped (:func:`install_short_window`) for one that, inside :func:`short_window` only
  (thread-local), pads to the window chosen for that utterance;
* the log-mel: ``WhisperModel.feature_extractor`` is replaced by :class:`KernelFeatureExtractor`
  (the numba kernel), which needs the extractor's attributes;
* cross-stream batching (:mod:`voice.engines.batching`) drives CTranslate2's Whisper directly
  (``model.model.detect_language`` / ``generate``, ``encode``, ``get_prompt``,
  ``find_alignment``) and faster-whisper helpers (tokenizer, Silero VAD, suppressed tokens,
  compression ratio, punctuation merging, the private language table);
* n-best: ``WhisperModel.model`` is wrapped (:func:`install_hypotheses`) so that, inside
  :func:`hypotheses` only (thread-local), the beam search that ``generate_with_fallback``
  runs returns several hypotheses, all kept there; faster-whisper still reads the first.

:func:`check` fails loudly, naming this module, when an installed faster-whisper no longer
has one of them (a test calls it), instead of a decode failing somewhere deep inside.
"""

from __future__ import annotations

import contextlib
import threading
from importlib import metadata

import numpy as np

from .compat import report
from .limits import FULL_WINDOW

TESTED = ("1.1", "1.2")  # faster-whisper releases whose internals this module was checked against

# (module, attribute) pairs this module reaches for
INTERNALS = (
    ("faster_whisper.transcribe", "pad_or_trim"),
    ("faster_whisper.transcribe", "get_compression_ratio"),
    ("faster_whisper.transcribe", "get_suppressed_tokens"),
    ("faster_whisper.transcribe", "merge_punctuations"),
    ("faster_whisper.transcribe", "WhisperModel.get_prompt"),
    ("faster_whisper.transcribe", "WhisperModel.encode"),
    ("faster_whisper.transcribe", "WhisperModel.find_alignment"),
    ("faster_whisper.transcribe", "WhisperModel.detect_language"),  # candidates: detect, then decode once
    ("faster_whisper.transcribe", "WhisperModel.generate_with_fallback"),  # the loop-guard test counts its tries
    ("faster_whisper.tokenizer", "_LANGUAGE_CODES"),
    ("faster_whisper.tokenizer", "Tokenizer"),
    ("faster_whisper.vad", "VadOptions"),
    ("faster_whisper.vad", "collect_chunks"),
    ("faster_whisper.vad", "get_speech_timestamps"),
    ("faster_whisper.vad", "SpeechTimestampsMap"),
    ("faster_whisper.feature_extractor", "FeatureExtractor"),
    ("ctranslate2.models", "Whisper.generate"),
    ("ctranslate2.models", "Whisper.detect_language"),
)



class WhisperInternalsChanged(RuntimeError):
    """The installed faster-whisper / CTranslate2 lacks an internal this service relies on."""


def version() -> str:
    return metadata.version("faster-whisper")


def check() -> None:
    """Raise :class:`WhisperInternalsChanged` naming what is missing."""
    import importlib

    missing = []
    for module, dotted in INTERNALS:
        obj = importlib.import_module(module)
        for part in dotted.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                missing.append(f"{module}.{dotted}")
                break
    report("voice.engines.fw_compat", "faster-whisper", version(), TESTED, missing, WhisperInternalsChanged)


# -- the encoder window ----------------------------------------------------------------------

_window = threading.local()  # encoder window (mel frames) of the decode running in this thread


def install_short_window() -> None:
    """Let our decodes run the encoder on a window shorter than 30 s.

    faster-whisper pads every segment to 3,000 mel frames (30 s), so a 4 s utterance costs a
    full 30 s encoder pass (~1 s of the ~1.5 s decode on 2 cores). CTranslate2 encodes
    shorter inputs; faster-whisper's ``pad_or_trim`` is swapped for one that, only inside
    :func:`short_window` (a thread-local window), pads to the window chosen
    for that utterance. Everywhere else it behaves as before.
    """
    import faster_whisper.transcribe as fw

    if getattr(fw.pad_or_trim, "_voice_short_window", False):
        return
    original = fw.pad_or_trim

    def pad_or_trim(array, length: int = FULL_WINDOW, *, axis: int = -1):
        frames = getattr(_window, "frames", None)
        if frames is not None and length == FULL_WINDOW:
            length = frames
        return original(array, length, axis=axis)

    pad_or_trim._voice_short_window = True
    fw.pad_or_trim = pad_or_trim



@contextlib.contextmanager
def short_window(frames: int):
    """Inside this block (this thread only), faster-whisper pads to ``frames`` mel frames."""
    _window.frames = frames
    try:
        yield
    finally:
        _window.frames = None


# -- the feature extractor ---------------------------------------------------------------------

class KernelFeatureExtractor:
    """faster-whisper's ``FeatureExtractor`` with the log-mel computed by
    :func:`kernels.log_mel_spectrogram` (same features within 1e-4, 2.6x faster on 30 s:
    bench/dsp.py). Anything else is delegated to the wrapped extractor."""

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




# -- the language table and the model's pieces used by batching -----------------------------

def whisper_languages() -> frozenset[str]:
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return frozenset(_LANGUAGE_CODES)


def is_multilingual(model) -> bool:
    """Does this ``faster_whisper.WhisperModel`` know more than English?"""
    return bool(model.model.is_multilingual)


def tokenizer(model, multilingual: bool, language: str | None):
    from faster_whisper.tokenizer import Tokenizer

    return Tokenizer(model.hf_tokenizer, multilingual, task="transcribe", language=language if multilingual else "en")


def speech_chunks(audio: np.ndarray, parameters: dict) -> tuple[np.ndarray, list]:
    """Silero VAD as faster-whisper runs it: (the speech joined, its sample spans in ``audio``)."""
    from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

    chunks = get_speech_timestamps(audio, VadOptions(**parameters))
    pieces, _ = collect_chunks(audio, chunks)
    return np.concatenate(pieces).astype(np.float32, copy=False), chunks


def time_map(chunks: list, sample_rate: int):
    """Maps times in the VAD-joined speech back to the original audio (``.get_chunk_index``,
    ``.get_original_time``)."""
    from faster_whisper.vad import SpeechTimestampsMap

    return SpeechTimestampsMap(chunks, sample_rate)


def n_mels(model) -> int:
    return int(model.feature_extractor.mel_filters.shape[0])


def encode(model, features: np.ndarray):
    return model.encode(features)


def detect_language(model, encoder_output) -> list:
    """Per batch item, (token, probability) pairs; tokens look like ``<|en|>``."""
    return model.model.detect_language(encoder_output)


def prompt(model, tok, hint_tokens: list, prefix: str | None) -> list:
    return model.get_prompt(tok, hint_tokens, without_timestamps=True, prefix=prefix)


def generate(model, encoder_output, prompts: list, *, beam_size: int, max_length: int, tok) -> list:
    """One beam search for the batch; results have ``sequences_ids``, ``scores``, ``no_speech_prob``."""
    from faster_whisper.transcribe import get_suppressed_tokens

    return model.model.generate(
        encoder_output, prompts, beam_size=beam_size, max_length=min(max_length, model.max_length),
        return_scores=True, return_no_speech_prob=True, suppress_blank=True,
        suppress_tokens=list(get_suppressed_tokens(tok, [-1])),
    )


def compression_ratio(text: str) -> float:
    from faster_whisper.transcribe import get_compression_ratio

    return get_compression_ratio(text)


def align(model, tok, text_tokens: list, encoder_output, frames: list) -> list:
    """Word alignments per batch item (dicts with word, start, end, probability)."""
    return model.find_alignment(tok, text_tokens, encoder_output, frames)


def merge_punctuations(alignment: list, prepend: str, append: str) -> None:
    from faster_whisper.transcribe import merge_punctuations as merge

    merge(alignment, prepend, append)


# -- n-best hypotheses -------------------------------------------------------------------------

_nbest = threading.local()  # hypotheses wanted by the decode running in this thread, and those found


class _HypothesesModel:
    """CTranslate2's Whisper, changed inside :func:`hypotheses` only (this thread): a beam
    search there returns up to the wanted number of hypotheses (never more than its beam) and
    they are recorded; its results are otherwise the same, so faster-whisper reads the same
    best one. Everything else is delegated. Outside the block a call costs one attribute look-up."""

    def __init__(self, inner):
        self._inner = inner

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def generate(self, *args, **kwargs):
        want = getattr(_nbest, "n", 0)
        if want <= 1 or "sampling_temperature" in kwargs:  # sampling: faster-whisper's best_of
            return self._inner.generate(*args, **kwargs)
        kwargs["num_hypotheses"] = min(want, kwargs.get("beam_size", 1))
        results = self._inner.generate(*args, **kwargs)
        _nbest.calls.append([(list(ids), float(score))
                             for ids, score in zip(results[0].sequences_ids, results[0].scores)])
        return results


def install_hypotheses(model) -> None:
    """Let :func:`hypotheses` collect the n-best of decodes on this ``faster_whisper.WhisperModel``."""
    if not isinstance(model.model, _HypothesesModel):
        model.model = _HypothesesModel(model.model)


@contextlib.contextmanager
def hypotheses(n: int):
    """Inside this block (this thread only), beam searches keep ``n`` hypotheses: the list it
    yields gets one entry per ``generate`` call, each ``[(token ids, score), ...]`` best first
    (``score``: CTranslate2's length-normalised log probability)."""
    _nbest.n = n
    _nbest.calls = calls = []
    try:
        yield calls
    finally:
        _nbest.n = 0
        _nbest.calls = []


def first_token_logprobs(model, encoder_output, prompt: list) -> np.ndarray:
    """Log probabilities of the first text token after ``prompt`` (one decoder step, one
    batch item): the vocabulary's distribution, as float32."""
    result = model.model.generate(encoder_output, [prompt], beam_size=1, max_length=len(prompt) + 1,
                                  return_logits_vocab=True, suppress_blank=False)[0]
    logits = np.asarray(result.logits[0][0], dtype=np.float32)
    return logits - np.logaddexp.reduce(logits)
