"""Pieces every servicer shares: encoding maps, the InvalidArgument error, durations."""

from __future__ import annotations

from google.protobuf.duration_pb2 import Duration

from .audio import Encoding
from .v1 import audio_pb2, understander_pb2

ENCODINGS = {
    audio_pb2.LINEAR16: Encoding.LINEAR16,
    audio_pb2.MULAW: Encoding.MULAW,
    audio_pb2.ALAW: Encoding.ALAW,
}
ENCODINGS_OUT = {v: k for k, v in ENCODINGS.items()}


class InvalidArgument(ValueError):
    pass


def duration(seconds: float) -> Duration:
    d = Duration()
    d.FromNanoseconds(int(round(seconds * 1e9)))
    return d




def intent_pb(result) -> understander_pb2.UnderstandResponse:
    """voice.intent.IntentResult -> UnderstandResponse."""
    return understander_pb2.UnderstandResponse(
        intent=result.intent,
        confidence=result.confidence,
        slots=[understander_pb2.IntentSlot(name=s.name, value=s.value, start=s.start, end=s.end) for s in result.slots],
        alternatives=[understander_pb2.IntentAlternative(intent=name, confidence=conf) for name, conf in result.alternatives],
    )
