"""Plain result types of intent understanding (no protobuf, no model state)."""

from __future__ import annotations

from dataclasses import dataclass

NONE_INTENT = "none"
"""Intent name returned when the text is out of scope for the loaded domain."""


@dataclass(frozen=True)
class Slot:
    """A slot found in the text.

    ``value`` is normalised (the list's output value, a number as ``"12"`` / ``"2.5"``,
    a time as ``"HH:MM"``); ``start``/``end`` are a character span of the input text.
    """

    name: str
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class IntentResult:
    """What the caller meant: the best intent, its confidence, slots and runners-up."""

    intent: str
    confidence: float
    slots: tuple[Slot, ...] = ()
    alternatives: tuple[tuple[str, float], ...] = ()
    # slots the intent takes whose lists have no values in the caller's language (an intents
    # file written in one language, understood in another): not filled rather than guessed
    unavailable_slots: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """JSON-ready form used by the CLI's ``--json`` (``unavailable_slots`` only when
        there are any)."""
        out = {
            "intent": self.intent,
            "confidence": round(float(self.confidence), 4),
            "slots": [
                {"name": s.name, "value": s.value, "start": s.start, "end": s.end}
                for s in self.slots
            ],
            "alternatives": [
                {"intent": name, "confidence": round(float(p), 4)} for name, p in self.alternatives
            ],
        }
        if self.unavailable_slots:
            out["unavailable_slots"] = list(self.unavailable_slots)
        return out


@dataclass(frozen=True)
class IntentInfo:
    """An intent a loaded domain can recognise."""

    name: str
    languages: tuple[str, ...]
    slots: tuple[str, ...]
    description: str = ""


class IntentFileError(ValueError):
    """The intents file is malformed; the message names the offending key."""
