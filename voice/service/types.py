"""The service's requests and results: plain dataclasses, no protocol.

Field names follow the ``voice.v1`` API (the reference door), so an
:class:`~voice.core.errors.InvalidArgument` raised for ``config.sample_rate_hertz`` names a
field every adapter can map to its own name. Encodings travel as their common names
("LINEAR16", "MULAW", "ALAW"; "" when the client did not say), so a protocol with an encoding
we do not speak gets the service's clear error instead of inventing its own.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ..core.results import RecognitionResult

# -- recognition ------------------------------------------------------------------------------

@dataclass(frozen=True)
class EndpointingRequest:
    """Per-stream endpointing; None keeps the server's default."""

    vad_aggressiveness: int | None = None
    trailing_silence_ms: int | None = None
    max_utterance_seconds: float | None = None
    speech_start_ms: int | None = None
    speech_timeout_ms: int | None = None


@dataclass(frozen=True)
class RecognitionConfig:
    encoding: str = ""  # LINEAR16 | MULAW | ALAW; "" = not given
    sample_rate_hertz: int = 0
    language_code: str = ""  # "" = detect per utterance
    alternative_language_codes: tuple[str, ...] = ()
    enable_word_time_offsets: bool = False
    endpointing: EndpointingRequest = field(default_factory=EndpointingRequest)
    model: str = ""  # "" = the server's default
    phrase_hints: tuple[str, ...] = ()
    enable_intent: bool = False


@dataclass(frozen=True)
class StreamingConfig:
    config: RecognitionConfig
    interim_results: bool = False


@dataclass(frozen=True)
class AudioInput:
    """One piece of a stream's input: audio bytes in the stream's encoding, and/or a flush
    (end the current utterance now)."""

    audio: bytes = b""
    flush: bool = False


@dataclass(frozen=True)
class FileRecognitionRequest:
    """Whole audio: raw bytes as ``config`` describes, or a WAV/FLAC file (its header decides)."""

    audio: bytes
    config: RecognitionConfig = field(default_factory=RecognitionConfig)


@dataclass(frozen=True)
class FileRecognitionResult:
    results: tuple[RecognitionResult, ...]
    duration_s: float


class SpeechEventKind(str, enum.Enum):
    STARTED = "started"
    ENDED = "ended"
    TIMEOUT = "timeout"  # no speech for endpointing.speech_timeout_ms


@dataclass(frozen=True)
class SpeechEvent:
    kind: SpeechEventKind
    time: float  # stream seconds
    utterance_index: int


@dataclass(frozen=True)
class InterimUpdate:
    committed: RecognitionResult  # never changes; finals start with it (may have empty text)
    tail: RecognitionResult  # may still change


StreamOutput = SpeechEvent | InterimUpdate | RecognitionResult


# -- synthesis ----------------------------------------------------------------------------------

class Container(str, enum.Enum):
    RAW = "raw"
    WAV = "wav"


@dataclass(frozen=True)
class SynthesisRequest:
    text: str
    ssml: bool = False  # also when ``text`` starts with <speak
    voice: str = ""
    language_code: str = ""
    encoding: str = ""  # LINEAR16 | MULAW | ALAW; "" = LINEAR16
    sample_rate_hertz: int = 0  # 0 = the voice's rate
    speaking_rate: float = 0.0  # 0 = 1.0
    volume_gain_db: float = 0.0
    sentence_silence_ms: int | None = None
    speaker_id: int | None = None
    chunk_duration_ms: int = 0  # 0 = the default chunk length
    container: str = ""  # raw | wav; "" = raw


@dataclass(frozen=True)
class AudioChunk:
    """A piece of synthesized audio, in the request's encoding and rate."""

    audio: bytes
    samples: int
    sentence_index: int
    text: str  # the sentence's text on its first chunk, else ""
    offset_s: float  # where this chunk starts in the request's audio
    voice: str  # the voice's name on the first chunk, else ""
    encoding: str  # LINEAR16 | MULAW | ALAW
    sample_rate_hertz: int


@dataclass(frozen=True)
class SynthesisResult:
    audio: bytes  # raw samples, or a WAV file when the request asked for one
    encoding: str
    sample_rate_hertz: int
    container: Container
    duration_s: float
    voice: str
    sentences: int


# -- understanding ------------------------------------------------------------------------------

@dataclass(frozen=True)
class UnderstandRequest:
    text: str
    language_code: str
    previous_intent: str = ""
