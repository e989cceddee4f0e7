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
        lib.espeak_TextToPhonemesWithTerminator.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemesWithTerminator.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                                            ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
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

    def phonemes(self, voice: str, text: str, tie: str) -> list[tuple[str, str, bool]]:
        """:func:`phonemes` with ``tie`` joining the letters of one multi-letter phoneme."""
        data = ctypes.create_string_buffer(text.encode("utf-8") + b"\0")
        pointer = ctypes.c_char_p(ctypes.addressof(data))
        terminator = ctypes.c_int()
        mode = _PHONEMES_IPA | _PHONEMES_TIE | (ord(tie) << 8)
        out = []
        with self._lock:
            piper_compat.ensure_phonemizer()
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise RuntimeError(f"espeak-ng has no voice {voice!r}")
            while pointer.value:
                ph = self._lib.espeak_TextToPhonemesWithTerminator(ctypes.byref(pointer), _CHARS_UTF8, mode,
                                                                   ctypes.byref(terminator))
                kind = terminator.value & _CLAUSE_MASK
                out.append(((ph or b"").decode("utf-8", "replace"), _TERMINATORS.get(kind, ""),
                            bool(terminator.value & _CLAUSE_TYPE_SENTENCE)))
        return out


_ESPEAK: _EspeakLibrary | None = None
_ESPEAK_INIT = threading.Lock()


def _espeak() -> _EspeakLibrary:
    global _ESPEAK
    with _ESPEAK_INIT:
        if _ESPEAK is None:
            _ESPEAK = _EspeakLibrary()
        return _ESPEAK


# espeak-ng's speak_lib.h: phoneme mode bits and the clause a terminator closes (as piper's
# bridge names them: the punctuation, and whether it ends a sentence)
_CHARS_UTF8 = 1
_PHONEMES_IPA = 0x02
_PHONEMES_TIE = 0x80
_CLAUSE_MASK = 0x000FFFFF
_CLAUSE_TYPE_SENTENCE = 0x00080000
_TERMINATORS = {0x80028: ".", 0x82028: "?", 0x8302D: "!", 0x41014: ",", 0x4001E: ":", 0x4101E: ";"}


class EspeakSession:
    def __init__(self, info: VoiceInfo):
        self._voice = info.espeak_voice
        self._lib = _espeak()
        self.providers = ["espeak-ng"]

    def synthesize(self, text: str, rate: float, speaker_id: int | None, deterministic: bool) -> np.ndarray:
        return self._lib.synthesize(self._voice, text, rate)




def phonemes(voice: str, text: str, tie: str = "") -> list[tuple[str, str, bool]]:
    """espeak-ng IPA of ``text`` in ``voice``, clause by clause: ``(phonemes, terminator,
    end_of_sentence)``, from piper's espeak-ng bridge under its lock (the one every use of the
    process-global espeak-ng holds). The Kokoro voices phonemise with it.

    ``tie`` (one character, e.g. ``"^"``): the same clauses with it between the letters of
    each multi-letter phoneme (``t^ʃ``, ``a^ɪ``), as phonemizer's ``tie`` option writes them
    (piper's bridge has no such option, so espeak-ng's C API is called directly)."""
    if tie:
        return _espeak().phonemes(voice, text, tie)
    from piper import espeakbridge

    with piper_compat.espeak_lock():
        piper_compat.ensure_phonemizer()
        espeakbridge.set_voice(voice)
        return list(espeakbridge.get_phonemes(text))
