"""Pieces every servicer shares: encoding maps, the InvalidArgument error, durations."""

from __future__ import annotations

from google.protobuf.duration_pb2 import Duration

from .audio import Encoding
from .v1 import audio_pb2

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


