"""Every use of piper-tts internals, in one place, with a version check.

The espeak-ng fallback voices speak through the espeak-ng that piper links into
``piper.espeakbridge``, and must share piper's process-global phonemizer and its lock
(``piper.voice._ESPEAK_PHONEMIZER`` / ``_ESPEAK_PHONEMIZER_LOCK``), because espeak-ng itself
is process-global. Those names are private to piper: :func:`check` fails loudly, naming this
module, when an installed piper no longer has them (tests call it).
"""

from __future__ import annotations

import threading
from importlib import metadata
from pathlib import Path

from .compat import report

TESTED = ("1.3", "1.8")  # piper-tts releases whose internals this module was checked against
PRIVATE_NAMES = ("_ESPEAK_PHONEMIZER", "_ESPEAK_PHONEMIZER_LOCK", "ESPEAK_DATA_DIR", "EspeakPhonemizer")



class PiperInternalsChanged(RuntimeError):
    """The installed piper-tts lacks an internal this service relies on."""


def version() -> str:
    return metadata.version("piper-tts")


def check() -> None:
    """Raise :class:`PiperInternalsChanged` when piper's internals are not what we use."""
    import piper.voice as piper_voice

    missing = [n for n in PRIVATE_NAMES if not hasattr(piper_voice, n)]
    try:
        from piper import espeakbridge
    except ImportError:
        missing.append("espeakbridge")
    else:
        if not Path(espeakbridge.__file__).is_file():
            missing.append("espeakbridge.__file__")
    report("voice.engines.piper_compat", "piper-tts", version(), TESTED, missing, PiperInternalsChanged)


def espeak_data_dir() -> Path:
    """The espeak-ng data directory piper-tts ships."""
    from piper.phonemize_espeak import ESPEAK_DATA_DIR

    return Path(ESPEAK_DATA_DIR)


def espeak_library_path() -> str:
    """The shared object holding piper's statically linked espeak-ng (its C API exported)."""
    from piper import espeakbridge

    return espeakbridge.__file__


def espeak_lock() -> threading.Lock:
    """piper's lock around its process-global espeak-ng phonemizer."""
    import piper.voice as piper_voice

    return getattr(piper_voice, "_ESPEAK_PHONEMIZER_LOCK", None) or _FALLBACK_LOCK


_FALLBACK_LOCK = threading.Lock()


def ensure_phonemizer() -> None:
    """Create piper's global phonemizer if it does not exist yet (call with :func:`espeak_lock` held).

    espeak-ng is initialised by it; speaking before that would use an uninitialised library.
    """
    import piper.voice as piper_voice
    from piper.phonemize_espeak import EspeakPhonemizer

    if getattr(piper_voice, "_ESPEAK_PHONEMIZER", None) is None:
        piper_voice._ESPEAK_PHONEMIZER = EspeakPhonemizer(piper_voice.ESPEAK_DATA_DIR)
