from voice_api.v1 import audio_pb2 as _audio_pb2
from voice_api.v1 import recognizer_pb2 as _recognizer_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReplySource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPLY_SOURCE_UNSPECIFIED: _ClassVar[ReplySource]
    INTENTS: _ClassVar[ReplySource]
    CLIENT: _ClassVar[ReplySource]
    WEBHOOK: _ClassVar[ReplySource]
    NO_REPLY: _ClassVar[ReplySource]

class Pacing(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PACING_UNSPECIFIED: _ClassVar[Pacing]
    BUFFERED: _ClassVar[Pacing]
    REALTIME: _ClassVar[Pacing]
REPLY_SOURCE_UNSPECIFIED: ReplySource
INTENTS: ReplySource
CLIENT: ReplySource
WEBHOOK: ReplySource
NO_REPLY: ReplySource
PACING_UNSPECIFIED: Pacing
BUFFERED: Pacing
REALTIME: Pacing

class BargeInConfig(_message.Message):
    __slots__ = ("disabled", "min_speech_ms")
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    MIN_SPEECH_MS_FIELD_NUMBER: _ClassVar[int]
    disabled: bool
    min_speech_ms: int
    def __init__(self, disabled: _Optional[bool] = ..., min_speech_ms: _Optional[int] = ...) -> None: ...

class ConversationConfig(_message.Message):
    __slots__ = ("input_encoding", "input_sample_rate_hertz", "output_encoding", "output_sample_rate_hertz", "voice", "language_code", "alternative_language_codes", "endpointing", "disable_intents", "interim_results", "phrase_hints", "model", "barge_in", "reply_source", "no_greeting", "call_id", "pacing", "output_chunk_ms", "disable_echo_cancellation", "turn_detection")
    INPUT_ENCODING_FIELD_NUMBER: _ClassVar[int]
    INPUT_SAMPLE_RATE_HERTZ_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_ENCODING_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SAMPLE_RATE_HERTZ_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    ALTERNATIVE_LANGUAGE_CODES_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTING_FIELD_NUMBER: _ClassVar[int]
    DISABLE_INTENTS_FIELD_NUMBER: _ClassVar[int]
    INTERIM_RESULTS_FIELD_NUMBER: _ClassVar[int]
    PHRASE_HINTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    BARGE_IN_FIELD_NUMBER: _ClassVar[int]
    REPLY_SOURCE_FIELD_NUMBER: _ClassVar[int]
    NO_GREETING_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    PACING_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_CHUNK_MS_FIELD_NUMBER: _ClassVar[int]
    DISABLE_ECHO_CANCELLATION_FIELD_NUMBER: _ClassVar[int]
    TURN_DETECTION_FIELD_NUMBER: _ClassVar[int]
    input_encoding: _audio_pb2.AudioEncoding
    input_sample_rate_hertz: int
    output_encoding: _audio_pb2.AudioEncoding
    output_sample_rate_hertz: int
    voice: str
    language_code: str
    alternative_language_codes: _containers.RepeatedScalarFieldContainer[str]
    endpointing: _recognizer_pb2.EndpointingConfig
    disable_intents: bool
    interim_results: bool
    phrase_hints: _containers.RepeatedScalarFieldContainer[str]
    model: str
    barge_in: BargeInConfig
    reply_source: ReplySource
    no_greeting: bool
    call_id: str
    pacing: Pacing
    output_chunk_ms: int
    disable_echo_cancellation: bool
    turn_detection: str
    def __init__(self, input_encoding: _Optional[_Union[_audio_pb2.AudioEncoding, str]] = ..., input_sample_rate_hertz: _Optional[int] = ..., output_encoding: _Optional[_Union[_audio_pb2.AudioEncoding, str]] = ..., output_sample_rate_hertz: _Optional[int] = ..., voice: _Optional[str] = ..., language_code: _Optional[str] = ..., alternative_language_codes: _Optional[_Iterable[str]] = ..., endpointing: _Optional[_Union[_recognizer_pb2.EndpointingConfig, _Mapping]] = ..., disable_intents: _Optional[bool] = ..., interim_results: _Optional[bool] = ..., phrase_hints: _Optional[_Iterable[str]] = ..., model: _Optional[str] = ..., barge_in: _Optional[_Union[BargeInConfig, _Mapping]] = ..., reply_source: _Optional[_Union[ReplySource, str]] = ..., no_greeting: _Optional[bool] = ..., call_id: _Optional[str] = ..., pacing: _Optional[_Union[Pacing, str]] = ..., output_chunk_ms: _Optional[int] = ..., disable_echo_cancellation: _Optional[bool] = ..., turn_detection: _Optional[str] = ...) -> None: ...

class ReplyText(_message.Message):
    __slots__ = ("text", "end_of_reply", "uninterruptible")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    END_OF_REPLY_FIELD_NUMBER: _ClassVar[int]
    UNINTERRUPTIBLE_FIELD_NUMBER: _ClassVar[int]
    text: str
    end_of_reply: bool
    uninterruptible: bool
    def __init__(self, text: _Optional[str] = ..., end_of_reply: _Optional[bool] = ..., uninterruptible: _Optional[bool] = ...) -> None: ...

class CancelReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PlaybackMark(_message.Message):
    __slots__ = ("played_s",)
    PLAYED_S_FIELD_NUMBER: _ClassVar[int]
    played_s: float
    def __init__(self, played_s: _Optional[float] = ...) -> None: ...

class ConverseRequest(_message.Message):
    __slots__ = ("config", "audio", "reply_text", "cancel_reply", "flush", "playback_mark", "dtmf")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    REPLY_TEXT_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REPLY_FIELD_NUMBER: _ClassVar[int]
    FLUSH_FIELD_NUMBER: _ClassVar[int]
    PLAYBACK_MARK_FIELD_NUMBER: _ClassVar[int]
    DTMF_FIELD_NUMBER: _ClassVar[int]
    config: ConversationConfig
    audio: bytes
    reply_text: ReplyText
    cancel_reply: CancelReply
    flush: bool
    playback_mark: PlaybackMark
    dtmf: str
    def __init__(self, config: _Optional[_Union[ConversationConfig, _Mapping]] = ..., audio: _Optional[bytes] = ..., reply_text: _Optional[_Union[ReplyText, _Mapping]] = ..., cancel_reply: _Optional[_Union[CancelReply, _Mapping]] = ..., flush: _Optional[bool] = ..., playback_mark: _Optional[_Union[PlaybackMark, _Mapping]] = ..., dtmf: _Optional[str] = ...) -> None: ...

class ReplyStarted(_message.Message):
    __slots__ = ("reply_id", "source", "interruptible", "text")
    REPLY_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    INTERRUPTIBLE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    reply_id: int
    source: ReplySource
    interruptible: bool
    text: str
    def __init__(self, reply_id: _Optional[int] = ..., source: _Optional[_Union[ReplySource, str]] = ..., interruptible: _Optional[bool] = ..., text: _Optional[str] = ...) -> None: ...

class ReplySpoken(_message.Message):
    __slots__ = ("reply_id", "text")
    REPLY_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    reply_id: int
    text: str
    def __init__(self, reply_id: _Optional[int] = ..., text: _Optional[str] = ...) -> None: ...

class ReplyAudio(_message.Message):
    __slots__ = ("reply_id", "audio_content", "encoding", "sample_rate_hertz", "audio_offset_s")
    REPLY_ID_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CONTENT_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HERTZ_FIELD_NUMBER: _ClassVar[int]
    AUDIO_OFFSET_S_FIELD_NUMBER: _ClassVar[int]
    reply_id: int
    audio_content: bytes
    encoding: _audio_pb2.AudioEncoding
    sample_rate_hertz: int
    audio_offset_s: float
    def __init__(self, reply_id: _Optional[int] = ..., audio_content: _Optional[bytes] = ..., encoding: _Optional[_Union[_audio_pb2.AudioEncoding, str]] = ..., sample_rate_hertz: _Optional[int] = ..., audio_offset_s: _Optional[float] = ...) -> None: ...

class BargeIn(_message.Message):
    __slots__ = ("reply_id", "played_s", "spoken_text", "speech_onset_s")
    REPLY_ID_FIELD_NUMBER: _ClassVar[int]
    PLAYED_S_FIELD_NUMBER: _ClassVar[int]
    SPOKEN_TEXT_FIELD_NUMBER: _ClassVar[int]
    SPEECH_ONSET_S_FIELD_NUMBER: _ClassVar[int]
    reply_id: int
    played_s: float
    spoken_text: str
    speech_onset_s: float
    def __init__(self, reply_id: _Optional[int] = ..., played_s: _Optional[float] = ..., spoken_text: _Optional[str] = ..., speech_onset_s: _Optional[float] = ...) -> None: ...

class ReplyEnded(_message.Message):
    __slots__ = ("reply_id", "interrupted", "played_s", "spoken_text")
    REPLY_ID_FIELD_NUMBER: _ClassVar[int]
    INTERRUPTED_FIELD_NUMBER: _ClassVar[int]
    PLAYED_S_FIELD_NUMBER: _ClassVar[int]
    SPOKEN_TEXT_FIELD_NUMBER: _ClassVar[int]
    reply_id: int
    interrupted: bool
    played_s: float
    spoken_text: str
    def __init__(self, reply_id: _Optional[int] = ..., interrupted: _Optional[bool] = ..., played_s: _Optional[float] = ..., spoken_text: _Optional[str] = ...) -> None: ...

class Dtmf(_message.Message):
    __slots__ = ("digit", "time_s")
    DIGIT_FIELD_NUMBER: _ClassVar[int]
    TIME_S_FIELD_NUMBER: _ClassVar[int]
    digit: str
    time_s: float
    def __init__(self, digit: _Optional[str] = ..., time_s: _Optional[float] = ...) -> None: ...

class ConverseResponse(_message.Message):
    __slots__ = ("recognition", "reply_started", "reply_spoken", "reply_audio", "barge_in", "reply_ended", "dtmf")
    RECOGNITION_FIELD_NUMBER: _ClassVar[int]
    REPLY_STARTED_FIELD_NUMBER: _ClassVar[int]
    REPLY_SPOKEN_FIELD_NUMBER: _ClassVar[int]
    REPLY_AUDIO_FIELD_NUMBER: _ClassVar[int]
    BARGE_IN_FIELD_NUMBER: _ClassVar[int]
    REPLY_ENDED_FIELD_NUMBER: _ClassVar[int]
    DTMF_FIELD_NUMBER: _ClassVar[int]
    recognition: _recognizer_pb2.StreamingRecognizeResponse
    reply_started: ReplyStarted
    reply_spoken: ReplySpoken
    reply_audio: ReplyAudio
    barge_in: BargeIn
    reply_ended: ReplyEnded
    dtmf: Dtmf
    def __init__(self, recognition: _Optional[_Union[_recognizer_pb2.StreamingRecognizeResponse, _Mapping]] = ..., reply_started: _Optional[_Union[ReplyStarted, _Mapping]] = ..., reply_spoken: _Optional[_Union[ReplySpoken, _Mapping]] = ..., reply_audio: _Optional[_Union[ReplyAudio, _Mapping]] = ..., barge_in: _Optional[_Union[BargeIn, _Mapping]] = ..., reply_ended: _Optional[_Union[ReplyEnded, _Mapping]] = ..., dtmf: _Optional[_Union[Dtmf, _Mapping]] = ...) -> None: ...
