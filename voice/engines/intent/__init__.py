"""Multilingual intent understanding: text -> intent, confidence, slots, alternatives.

Small and CPU-fast: character/word n-gram features and a softmax classifier per
language (trained with numba at start-up, cached on disk by the intents file's hash),
slots by span matching against the domain's slot lists with normalised numbers and
times, and a calibrated out-of-scope threshold. See ``voice/engines/intent/README.md``.
"""

from .engine import DEFAULT_INTENTS_FILE, IntentEngine
from .model import TrainConfig
from ...core.intents import NONE_INTENT, IntentFileError, IntentInfo, IntentResult, Slot

__all__ = [
    "DEFAULT_INTENTS_FILE",
    "NONE_INTENT",
    "IntentEngine",
    "IntentFileError",
    "IntentInfo",
    "IntentResult",
    "Slot",
    "TrainConfig",
]
