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
    pre_roll_ms: int | None = None  # audio kept before the detected onset (0 allowed)


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
    expected_answer: str = ""  # a voice.core.answers.Expect value ("digits", ...); "" = free
    verbatim: bool = False  # no inverse text normalisation of finals
    # distinct transcripts wanted per final, best first (n-best); 0 or 1 = the best only; at
    # most asr.beam_size come back (RecognitionService.prepare caps it)
    max_alternatives: int = 0
    # (min, max) characters of a digits / spelling answer, 0 = no bound (an IVR asked for a
    # 6-digit PIN: (6, 6)); a final is the best reading of that length, else its value is ""
    expected_length: tuple[int, int] = (0, 0)


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
class RecognitionUpdate:
    """A stream's new expected answer (an Expect value name, "" = free), for the utterances
    whose final is not decoded yet."""

    expected_answer: str = ""
    expected_length: tuple[int, int] = (0, 0)  # as RecognitionConfig.expected_length


@dataclass(frozen=True)
class FileRecognitionRequest:
    """Whole audio: raw bytes as ``config`` describes, or a WAV/FLAC file (its header decides)."""

    audio: bytes
    config: RecognitionConfig = field(default_factory=RecognitionConfig)
    # True: ``audio`` is an audio file in any format libsndfile reads (WAV, FLAC, Ogg Vorbis/Opus,
    # MP3, ...), never raw samples
    is_file: bool = False
    task: str = ""  # "transcribe" (""), or "translate": Whisper's translation into English
    temperature: float | None = None  # 0-1, the first sampling temperature; None = the default


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


# -- conversation -------------------------------------------------------------------------------

class ReplySource(str, enum.Enum):
    INTENTS = "intents"  # responses from the intents file (greeting, slot prompts, fallback)
    CLIENT = "client"  # the client streams the reply text (its own logic or LLM)
    WEBHOOK = "webhook"  # POST each caller turn to the operator's URL; the body is the reply
    NONE = "none"  # recognition and intents only


class Pacing(str, enum.Enum):
    BUFFERED = "buffered"  # reply audio goes out as it is made; the client buffers and plays it
    REALTIME = "realtime"  # reply audio goes out as it plays: 20 ms frames against the input clock


@dataclass(frozen=True)
class BargeInConfig:
    enabled: bool = True
    min_speech_ms: int = 0  # 0 = the server's default; caller speech this long stops a reply


@dataclass(frozen=True)
class ConversationConfig:
    input_encoding: str = ""  # LINEAR16 | MULAW | ALAW
    input_sample_rate_hertz: int = 0
    output_encoding: str = ""  # "" = LINEAR16
    output_sample_rate_hertz: int = 0  # 0 = the input rate
    voice: str = ""
    language_code: str = ""
    alternative_language_codes: tuple[str, ...] = ()
    endpointing: EndpointingRequest = field(default_factory=EndpointingRequest)
    enable_intent: bool = True
    interim_results: bool = False
    phrase_hints: tuple[str, ...] = ()
    model: str = ""
    barge_in: BargeInConfig = field(default_factory=BargeInConfig)
    reply_source: str = ""  # a ReplySource value; "" = intents
    greeting: bool = True  # speak the domain's greeting first (intents / webhook replies)
    call_id: str = ""
    pacing: Pacing = Pacing.BUFFERED
    output_chunk_ms: int = 0  # 0 = 20 ms when REALTIME, else the synthesis default
    echo_cancellation: bool = True
    # "semantic": a turn model ends the caller's turn as soon as they have finished (and holds
    # it through a mid-sentence pause), silence as the fallback; "silence": the silence rule
    # alone; "" = semantic when the server has the model
    turn_detection: str = ""


@dataclass(frozen=True)
class ReplyTextInput:
    """Reply text from the client (reply source CLIENT): whole or in pieces; ``end_of_reply``
    closes the reply."""

    text: str = ""
    end_of_reply: bool = False
    interruptible: bool = True


@dataclass(frozen=True)
class CancelReply:
    """Stop the reply now (no barge-in event: the client asked)."""


@dataclass(frozen=True)
class PlaybackMark:
    """The client has played this much of the current reply (seconds)."""

    played_s: float


@dataclass(frozen=True)
class DtmfInput:
    digit: str  # 0-9 * # A-D


ConversationInput = AudioInput | ReplyTextInput | CancelReply | PlaybackMark | DtmfInput


@dataclass(frozen=True)
class ReplyStarted:
    reply_id: int
    source: ReplySource
    interruptible: bool
    text: str = ""  # the whole text when known up front (intents), else ""


@dataclass(frozen=True)
class ReplySpoken:
    """A sentence of the reply starts playing now (its text, as the caller hears it)."""

    reply_id: int
    text: str


@dataclass(frozen=True)
class ReplyAudio:
    reply_id: int
    chunk: AudioChunk


@dataclass(frozen=True)
class BargeIn:
    """The caller spoke over the reply: it stopped after ``played_s`` seconds of its audio;
    ``spoken_text`` is what the caller heard (keep only that in the conversation's history)."""

    reply_id: int
    played_s: float
    spoken_text: str
    time: float  # stream seconds of the caller's speech onset


@dataclass(frozen=True)
class ReplyEnded:
    reply_id: int
    interrupted: bool  # by barge-in or cancel
    played_s: float
    spoken_text: str


@dataclass(frozen=True)
class DtmfEvent:
    digit: str
    time: float  # stream seconds


ConversationEvent = (SpeechEvent | InterimUpdate | RecognitionResult | ReplyStarted | ReplySpoken | ReplyAudio
                     | BargeIn | ReplyEnded | DtmfEvent)
