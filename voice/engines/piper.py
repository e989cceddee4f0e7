"""Piper voices: one ONNX session per :class:`_PiperSession`, pooled per voice by :class:`VoicePool`.

A pool holds up to ``size`` sessions of one voice (CUDA when asked for and available), so
concurrent requests, and the next pieces of one request, do not queue on one session; a
session is taken per piece of text and given back at once. piper and onnxruntime are imported lazily. Blocking: callers run
:meth:`VoicePool.render` in a worker thread.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from concurrent.futures import Future

import numpy as np

from .espeak import EspeakSession
from .sessions import SessionPool, onnx_options, session_threads
from .voices import ESPEAK_ENGINE, PIPER_ENGINE, VoiceInfo

_LOGGER = logging.getLogger(__name__)


class _PiperSession:
    """One Piper voice with its own ONNX session."""

    def __init__(self, info: VoiceInfo, use_cuda: bool, threads: int):
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        with open(f"{info.model_path}.json", encoding="utf-8") as fh:
            config = PiperConfig.from_dict(json.load(fh))
        options = onnx_options(threads)
        providers = ["CPUExecutionProvider"]
        if use_cuda and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            providers.insert(0, ("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"}))
        elif use_cuda:
            _LOGGER.warning("CUDA asked for but onnxruntime has no CUDAExecutionProvider; Piper runs on CPU")
        session = onnxruntime.InferenceSession(str(info.model_path), sess_options=options, providers=providers)
        self.providers = session.get_providers()
        self._voice = PiperVoice(session=session, config=config)

    def synthesize(self, text: str, rate: float, speaker_id: int | None, deterministic: bool) -> np.ndarray:
        from piper import SynthesisConfig

        syn = SynthesisConfig(speaker_id=speaker_id, length_scale=self._voice.config.length_scale / rate,
                              normalize_audio=False)
        if deterministic:
            syn.noise_scale = 0.0
            syn.noise_w_scale = 0.0
        parts = [c.audio_float_array for c in self._voice.synthesize(text, syn_config=syn)]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def default_pool_size() -> int:
    return max(2, min(4, os.cpu_count() or 2))


class VoicePool:
    """Up to ``size`` sessions of one voice (a :class:`~voice.engines.sessions.SessionPool`),
    created on demand; take one per piece of text.

    Sessions are independent (own ONNX session each, ``threads`` intra-op threads, 0: the
    cores shared by ``size``), so ``size`` pieces synthesize at once: those of concurrent
    requests, or the next pieces of one request (:meth:`prefetch`). The level of the voice is
    calibrated once (its raw output peak on a reference sentence), so every piece of a request
    is scaled alike rather than peak-normalised one by one, which would make clauses of one
    sentence differ in loudness.
    """

    CALIBRATION = "This is a sentence at a normal speaking level, to set the output gain."

    def __init__(self, info: VoiceInfo, use_cuda: bool = False, size: int | None = None, threads: int = 0):
        self.info = info
        self.size = size or default_pool_size()
        self.use_cuda = use_cuda
        self.threads = session_threads(threads, self.size)
        self._lock = threading.Lock()
        self.rendered = 0  # pieces synthesized so far (observability, tests)
        self.gain = 1.0
        session = self._open()  # load one now: fail early, calibrate
        if info.engine == PIPER_ENGINE:
            peak = float(np.max(np.abs(session.synthesize(self.CALIBRATION, 1.0, None, True))) or 1.0)
            self.gain = min(8.0, 0.8 / peak)
        self.sessions = SessionPool(self._open, self.size, first=session, name=f"piper-{info.name}")
        _LOGGER.info("Voice %s ready (%s, pool of %d x %d threads, providers %s, gain %.2f)", info.name, info.engine,
                     self.size, self.threads, ",".join(map(str, session.providers)), self.gain)

    def _open(self):
        if self.info.engine == ESPEAK_ENGINE:
            return EspeakSession(self.info)
        return _PiperSession(self.info, self.use_cuda, self.threads)

    @property
    def in_use(self) -> int:
        """Sessions taken right now (0 when no request is synthesizing)."""
        return self.sessions.in_use

    @property
    def created(self) -> int:
        return self.sessions.created

    def render(self, text: str, rate: float = 1.0, speaker_id: int | None = None,
               deterministic: bool = False, *, urgent: bool = True) -> np.ndarray:
        """One piece of text -> float32 audio at the voice's rate, level-calibrated (blocking).
        ``urgent=False``: a piece synthesized ahead, which yields its turn to urgent ones."""
        with self.sessions.session(urgent=urgent) as sess:
            audio = sess.synthesize(text, rate, speaker_id, deterministic)
        with self._lock:
            self.rendered += 1
        return audio * np.float32(self.gain) if self.gain != 1.0 else audio

    def prefetch(self, text: str, rate: float = 1.0, speaker_id: int | None = None,
                 deterministic: bool = False) -> Future:
        """:meth:`render` a later piece in the background (not urgent); its future."""
        return self.sessions.submit(self.render, text, rate, speaker_id, deterministic, urgent=False)
