"""espeak-ng as a fallback voice, driven through the copy of espeak-ng inside piper-tts."""

from __future__ import annotations

import ctypes
import threading
from typing import TYPE_CHECKING

import numpy as np

import kernels

from . import piper_compat

if TYPE_CHECKING:
    from .voices import VoiceInfo


class _EspeakLibrary:
    """espeak-ng's synthesizer, reached with ctypes inside piper's own ``espeakbridge``.

    piper-tts links espeak-ng statically into ``piper.espeakbridge`` (and exports its C API),
    so the same library instance that phonemises for Piper also speaks, with the data piper
    ships: no system package. espeak-ng is process-global, so every use holds piper's espeak
    lock and sets the voice it needs.
    """

    _CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

    def __init__(self):
        self._lock = piper_compat.espeak_lock()
        lib = ctypes.CDLL(piper_compat.espeak_library_path())
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self._lib = lib
        self._samples: list[np.ndarray] = []
        self._callback = self._CALLBACK(self._on_audio)  # keep a reference: C holds the pointer

    def _on_audio(self, wav, count, _events) -> int:
        if count > 0 and wav:
            self._samples.append(np.ctypeslib.as_array(wav, (count,)).copy())
        return 0

    def synthesize(self, voice: str, text: str, rate: float) -> np.ndarray:
        data = text.encode("utf-8") + b"\0"
        with self._lock:
            piper_compat.ensure_phonemizer()
            self._samples = []
            self._lib.espeak_SetSynthCallback(self._callback)
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise RuntimeError(f"espeak-ng has no voice {voice!r}")
            self._lib.espeak_SetParameter(1, int(max(80, min(450, 175 * rate))), 0)  # espeakRATE, words/min
            rc = self._lib.espeak_Synth(data, len(data), 0, 0, 0, 1, None, None)  # POS_CHARACTER, CHARS_UTF8
            self._lib.espeak_SetParameter(1, 175, 0)
            samples, self._samples = self._samples, []
        if rc != 0:
            raise RuntimeError(f"espeak-ng synthesis failed ({rc})")
        audio = np.concatenate(samples) if samples else np.zeros(0, np.int16)
        return kernels.int16_to_float32(audio)


_ESPEAK: _EspeakLibrary | None = None
_ESPEAK_INIT = threading.Lock()


def _espeak() -> _EspeakLibrary:
    global _ESPEAK
    with _ESPEAK_INIT:
        if _ESPEAK is None:
            _ESPEAK = _EspeakLibrary()
        return _ESPEAK


class EspeakSession:
    def __init__(self, info: VoiceInfo):
        self._voice = info.espeak_voice
        self._lib = _espeak()
        self.providers = ["espeak-ng"]

    def synthesize(self, text: str, rate: float, speaker_id: int | None, deterministic: bool) -> np.ndarray:
        return self._lib.synthesize(self._voice, text, rate)




def phonemes(voice: str, text: str) -> list[tuple[str, str, bool]]:
    """espeak-ng IPA of ``text`` in ``voice``, clause by clause: ``(phonemes, terminator,
    end_of_sentence)``, from piper's espeak-ng bridge under its lock (the one every use of the
    process-global espeak-ng holds). The Kokoro voices phonemise with it."""
    from piper import espeakbridge

    with piper_compat.espeak_lock():
        piper_compat.ensure_phonemizer()
        espeakbridge.set_voice(voice)
        return list(espeakbridge.get_phonemes(text))
