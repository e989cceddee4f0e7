"""Semantic end-of-turn detection: smart-turn v3.2 (Daily/pipecat, BSD-2-Clause) on onnxruntime.

The model reads the caller's utterance so far (16 kHz mono; the last 8 s) and returns the
probability that the turn is complete, from how the speech ends (intonation, syntax, an
unfinished word) and from the pause after it. pipecat calls it on what its VAD hands over
(speech + ~200 ms of silence: stop_secs 0.2); with no silence after the speech scores drop
(Spanish prompts: 0.17 - 0.31 where 200 ms of silence give 0.58 - 0.82), and a phrase cut
mid-word followed by 400 ms or more of silence often reads as complete. Score it once about
200 ms of silence have passed. It is fetched once from the ``pipecat-ai`` wheel by
``tools/fetch_smart_turn.py`` into ``<cache_dir>/smart-turn-v3.2/`` (``make serve`` and
``make test`` run it); :func:`find_model` finds it there, :class:`SmartTurn` loads it.

What the model expects (read from pipecat-ai 1.14.0's ``local_smart_turn_v3.py`` and
``_whisper_features.py``, i.e. ``transformers.WhisperFeatureExtractor(chunk_length=8)``):

1. the last 128000 samples (8 s at 16 kHz); shorter audio is zero-padded **at the start**;
2. the whole 8 s window (padding included) normalised to zero mean and unit variance, in
   float32: ``(x - mean) / sqrt(var + 1e-7)``;
3. STFT: ``n_fft`` 400, hop 160, periodic Hann window, centred (reflect padding of 200 on
   both sides, *no* extra zeros at the end), power spectrum -> 801 frames, the last dropped;
4. 80 Slaney-normalised mel bands, 0 - 8 kHz (librosa/Whisper's filterbank), then
   ``log10(max(mel, 1e-10))``, clamped to ``max - 8`` over the window, mapped to
   ``(x + 4) / 4``;
5. ``input_features`` float32 ``(batch, 80, 800)``; output ``logits`` ``(batch, 1)``, which
   is already a sigmoid probability (the graph ends in ``Sigmoid``).

The quantised model is extremely sensitive to its input: features that differ by one float32
ulp in some elements (a float32 filterbank, float32 FFT) move P(complete) by up to 0.08, and
inaudible dither (-90 dBFS) by up to 0.2. :func:`features` therefore does the reference's
arithmetic in float64 in the reference's order and is bit-identical to pipecat's extractor
(asserted in tests/integration/test_smart_turn.py). ``kernels.log_mel_spectrogram`` is not
used: it frames like faster-whisper (160 zeros appended before the reflect padding, 801
frames, the clamp taken over all of them) and computes in float32 with fastmath, so it is
~1e-5 off, which is enough to change the answer; numpy takes ~2-7 ms here against ~30-100 ms
for the model.

onnxruntime is imported lazily. :meth:`SmartTurn.predict` blocks (run it in a worker thread)
and may be called from several threads at once (onnxruntime sessions allow it; each call
then takes its own ``threads``).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

_LOGGER = logging.getLogger(__name__)

MODEL_DIR_NAME = "smart-turn-v3.2"
MODEL_FILE = "smart-turn-v3.2-cpu.onnx"
SAMPLE_RATE = 16000
WINDOW_SECONDS = 8
WINDOW_SAMPLES = SAMPLE_RATE * WINDOW_SECONDS  # 128000
N_MELS = 80
N_FRAMES = WINDOW_SAMPLES // 160  # 800
_N_FFT = 400
_HOP = 160
_NORM_EPS = 1e-7
_MEL_FLOOR = 1e-10


def default_model_dir(cache_dir: Path) -> Path:
    """Where ``tools/fetch_smart_turn.py`` puts the model: ``<cache_dir>/smart-turn-v3.2``."""
    return Path(cache_dir) / MODEL_DIR_NAME


def find_model(cache_dir: Path | str | None) -> Path | None:
    """The ``.onnx`` file in :func:`default_model_dir`, or ``None`` when it was not fetched."""
    if cache_dir is None:
        return None
    path = default_model_dir(Path(cache_dir)) / MODEL_FILE
    return path if path.is_file() else None


def fit_window(audio: np.ndarray) -> np.ndarray:
    """The last 8 s of 16 kHz ``audio`` as float32, zero-padded at the start to 128000 samples."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    if x.size >= WINDOW_SAMPLES:
        return np.ascontiguousarray(x[x.size - WINDOW_SAMPLES:])
    out = np.zeros(WINDOW_SAMPLES, np.float32)
    if x.size:
        out[WINDOW_SAMPLES - x.size:] = x
    return out


def _slaney_mel_filterbank(n_mels: int = N_MELS) -> np.ndarray:
    """Triangular mel filters on the Slaney scale, area-normalised, 0 - 8 kHz, for n_fft 400 at
    16 kHz: float64 ``(201, n_mels)`` (librosa's ``htk=False, norm="slaney"``, as Whisper).

    The arithmetic (float64, in this order) is that of the reference (Hugging Face's
    ``WhisperFeatureExtractor``, which pipecat vendors), so the result is bit-identical: the
    quantised model moves by up to 0.08 when features change by one float32 ulp, so a float32
    filterbank (``kernels.mel_filters``, the same one rounded) is not good enough here.
    """
    log_step = 27.0 / np.log(6.4)  # mels per e-fold above 1 kHz

    def hz_to_mel(hz: float) -> float:
        return 3.0 * hz / 200.0 if hz < 1000.0 else 15.0 + np.log(hz / 1000.0) * log_step

    mels = np.linspace(hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE / 2.0), n_mels + 2)
    edges = 200.0 * mels / 3.0
    high = mels >= 15.0
    edges[high] = 1000.0 * np.exp(np.log(6.4) / 27.0 * (mels[high] - 15.0))
    bins = np.linspace(0, SAMPLE_RATE // 2, _N_FFT // 2 + 1)[:, None]  # (201, 1)
    width = np.diff(edges)
    rising = (bins - edges[None, :-2]) / width[None, :-1]
    falling = (edges[None, 2:] - bins) / width[None, 1:]
    bank = np.maximum(0.0, np.minimum(rising, falling))
    bank *= (2.0 / (edges[2:] - edges[:-2]))[None, :]
    return bank


_WINDOW = np.hanning(_N_FFT + 1)[:-1]  # periodic Hann, float64
_MEL = _slaney_mel_filterbank()  # (201, 80); used as _MEL.T, the reference's matmul layout
_MEL.setflags(write=False)


def features(audio: np.ndarray) -> np.ndarray:
    """Model input for the utterance so far: float32 ``(80, 800)`` (see the module docstring).

    ``audio``: float32 16 kHz mono, full scale 1.0, any length (the last 8 s are used).
    Bit-identical to pipecat's extractor on the same machine (asserted in
    tests/integration/test_smart_turn.py); about 2 ms.
    """
    x = fit_window(audio)
    x = (x - x.mean()) / np.sqrt(x.var() + np.float32(_NORM_EPS))  # float32, padding included
    padded = np.pad(x.astype(np.float64), _N_FFT // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, _N_FFT)[::_HOP]  # (801, 400)
    power = np.abs(np.fft.rfft(frames * _WINDOW, axis=-1)) ** 2  # (801, 201)
    log_mel = np.log10(np.maximum(_MEL_FLOOR, _MEL.T @ power.T))[:, :N_FRAMES]  # last frame dropped
    log_mel = np.maximum(log_mel, log_mel.max() - 8.0)
    return ((log_mel + 4.0) / 4.0).astype(np.float32)


class SmartTurn:
    """smart-turn v3.2 on onnxruntime's CPU provider.

    ``model``: the ``.onnx`` file, or a directory holding ``smart-turn-v3.2-cpu.onnx`` (what
    :func:`find_model` / :func:`default_model_dir` return, or any operator path).
    ``threads``: onnxruntime intra-op threads (default 1: 30 - 110 ms per call on one core).
    """

    def __init__(self, model: Path | str, threads: int = 1):
        import onnxruntime

        path = Path(model)
        if path.is_dir():
            path = path / MODEL_FILE
        if not path.is_file():
            raise FileNotFoundError(
                f"smart-turn model {path} not found: run tools/fetch_smart_turn.py (make serve / make test do)")
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads!r}")
        options = onnxruntime.SessionOptions()
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = threads
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        start = time.perf_counter()
        self._session = onnxruntime.InferenceSession(str(path), sess_options=options,
                                                     providers=["CPUExecutionProvider"])
        self.path = path
        self.threads = threads
        self._input = self._session.get_inputs()[0].name
        _LOGGER.info("Loaded smart-turn v3.2 from %s in %.0f ms (%d thread%s)", path,
                     (time.perf_counter() - start) * 1000, threads, "" if threads == 1 else "s")

    def predict_features(self, feats: np.ndarray) -> np.ndarray:
        """Probabilities for a batch of :func:`features` ``(batch, 80, 800)`` -> ``(batch,)``."""
        feats = np.ascontiguousarray(feats, dtype=np.float32)
        if feats.ndim == 2:
            feats = feats[None]
        if feats.shape[1:] != (N_MELS, N_FRAMES):
            raise ValueError(f"features must be (batch, {N_MELS}, {N_FRAMES}), got {feats.shape}")
        out = self._session.run(None, {self._input: feats})[0]
        return np.asarray(out, dtype=np.float32).reshape(-1)

    def predict(self, audio: np.ndarray) -> float:
        """Probability (0 - 1) that the turn is complete, for float32 16 kHz mono ``audio`` of
        the caller's utterance so far (the last 8 s are used; shorter audio is zero-padded at
        the start). Blocking: 30 - 110 ms per call on one thread."""
        audio = np.asarray(audio)
        if audio.ndim != 1:
            raise ValueError(f"audio must be mono (1-D), got shape {audio.shape}")
        if audio.size == 0:
            raise ValueError("audio is empty")
        return float(self.predict_features(features(audio))[0])
