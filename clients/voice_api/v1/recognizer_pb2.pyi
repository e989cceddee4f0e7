import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from voice_api.v1 import audio_pb2 as _audio_pb2
from voice_api.v1 import understander_pb2 as _understander_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExpectedAnswer(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPECT_UNSPECIFIED: _ClassVar[ExpectedAnswer]
    EXPECT_FREE: _ClassVar[ExpectedAnswer]
    EXPECT_DIGITS: _ClassVar[ExpectedAnswer]
    EXPECT_NUMBER: _ClassVar[ExpectedAnswer]
    EXPECT_AMOUNT: _ClassVar[ExpectedAnswer]
    EXPECT_DATE: _ClassVar[ExpectedAnswer]
    EXPECT_TIME: _ClassVar[ExpectedAnswer]
    EXPECT_YES_NO: _ClassVar[ExpectedAnswer]
    EXPECT_SPELLING: _ClassVar[ExpectedAnswer]

class SpeechEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SPEECH_EVENT_UNSPECIFIED: _ClassVar[SpeechEventType]
    SPEECH_STARTED: _ClassVar[SpeechEventType]
    SPEECH_ENDED: _ClassVar[SpeechEventType]
    SPEECH_TIMEOUT: _ClassVar[SpeechEventType]
EXPECT_UNSPECIFIED: ExpectedAnswer
EXPECT_FREE: ExpectedAnswer
EXPECT_DIGITS: ExpectedAnswer
EXPECT_NUMBER: ExpectedAnswer
EXPECT_AMOUNT: ExpectedAnswer
EXPECT_DATE: ExpectedAnswer
EXPECT_TIME: ExpectedAnswer
EXPECT_YES_NO: ExpectedAnswer
EXPECT_SPELLING: ExpectedAnswer
SPEECH_EVENT_UNSPECIFIED: SpeechEventType
SPEECH_STARTED: SpeechEventType
SPEECH_ENDED: SpeechEventType
SPEECH_TIMEOUT: SpeechEventType

class EndpointingConfig(_message.Message):
    __slots__ = ("vad_aggressiveness", "trailing_silence_ms", "max_utterance_seconds", "speech_start_ms", "speech_timeout_ms")
    VAD_AGGRESSIVENESS_FIELD_NUMBER: _ClassVar[int]
    TRAILING_SILENCE_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_UTTERANCE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SPEECH_START_MS_FIELD_NUMBER: _ClassVar[int]
    SPEECH_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    vad_aggressiveness: int
    trailing_silence_ms: int
    max_utterance_seconds: float
    speech_start_ms: int
    speech_timeout_ms: int
    def __init__(self, vad_aggressiveness: _Optional[int] = ..., trailing_silence_ms: _Optional[int] = ..., max_utterance_seconds: _Optional[float] = ..., speech_start_ms: _Optional[int] = ..., speech_timeout_ms: _Optional[int] = ...) -> None: ...

class RecognitionConfig(_message.Message):
    __slots__ = ("encoding", "sample_rate_hertz", "language_code", "enable_word_time_offsets", "endpointing", "model", "alternative_language_codes", "phrase_hints", "enable_intent", "expected_answer", "verbatim", "max_alternatives", "expected_length")
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HERTZ_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    ENABLE_WORD_TIME_OFFSETS_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTING_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ALTERNATIVE_LANGUAGE_CODES_FIELD_NUMBER: _ClassVar[int]
    PHRASE_HINTS_FIELD_NUMBER: _ClassVar[int]
    ENABLE_INTENT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_ANSWER_FIELD_NUMBER: _ClassVar[int]
    VERBATIM_FIELD_NUMBER: _ClassVar[int]
    MAX_ALTERNATIVES_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_LENGTH_FIELD_NUMBER: _ClassVar[int]
    encoding: _audio_pb2.AudioEncoding
    sample_rate_hertz: int
    language_code: str
    enable_word_time_offsets: bool
    endpointing: EndpointingConfig
    model: str
    alternative_language_codes: _containers.RepeatedScalarFieldContainer[str]
    phrase_hints: _containers.RepeatedScalarFieldContainer[str]
    enable_intent: bool
    expected_answer: ExpectedAnswer
    verbatim: bool
    max_alternatives: int
    expected_length: AnswerLength
    def __init__(self, encoding: _Optional[_Union[_audio_pb2.AudioEncoding, str]] = ..., sample_rate_hertz: _Optional[int] = ..., language_code: _Optional[str] = ..., enable_word_time_offsets: _Optional[bool] = ..., endpointing: _Optional[_Union[EndpointingConfig, _Mapping]] = ..., model: _Optional[str] = ..., alternative_language_codes: _Optional[_Iterable[str]] = ..., phrase_hints: _Optional[_Iterable[str]] = ..., enable_intent: _Optional[bool] = ..., expected_answer: _Optional[_Union[ExpectedAnswer, str]] = ..., verbatim: _Optional[bool] = ..., max_alternatives: _Optional[int] = ..., expected_length: _Optional[_Union[AnswerLength, _Mapping]] = ...) -> None: ...

class AnswerLength(_message.Message):
    __slots__ = ("min", "max")
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    min: int
    max: int
    def __init__(self, min: _Optional[int] = ..., max: _Optional[int] = ...) -> None: ...

class RecognitionUpdate(_message.Message):
    __slots__ = ("expected_answer", "expected_length")
    EXPECTED_ANSWER_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_LENGTH_FIELD_NUMBER: _ClassVar[int]
    expected_answer: ExpectedAnswer
    expected_length: AnswerLength
    def __init__(self, expected_answer: _Optional[_Union[ExpectedAnswer, str]] = ..., expected_length: _Optional[_Union[AnswerLength, _Mapping]] = ...) -> None: ...

class Answer(_message.Message):
    __slots__ = ("kind", "value")
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    kind: ExpectedAnswer
    value: str
    def __init__(self, kind: _Optional[_Union[ExpectedAnswer, str]] = ..., value: _Optional[str] = ...) -> None: ...

class StreamingRecognitionConfig(_message.Message):
    __slots__ = ("config", "interim_results")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    INTERIM_RESULTS_FIELD_NUMBER: _ClassVar[int]
    config: RecognitionConfig
    interim_results: bool
    def __init__(self, config: _Optional[_Union[RecognitionConfig, _Mapping]] = ..., interim_results: _Optional[bool] = ...) -> None: ...

class StreamingRecognizeRequest(_message.Message):
    __slots__ = ("streaming_config", "audio_content", "update", "flush")
    STREAMING_CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CONTENT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    FLUSH_FIELD_NUMBER: _ClassVar[int]
    streaming_config: StreamingRecognitionConfig
    audio_content: bytes
    update: RecognitionUpdate
    flush: bool
    def __init__(self, streaming_config: _Optional[_Union[StreamingRecognitionConfig, _Mapping]] = ..., audio_content: _Optional[bytes] = ..., update: _Optional[_Union[RecognitionUpdate, _Mapping]] = ..., flush: _Optional[bool] = ...) -> None: ...

class WordInfo(_message.Message):
    __slots__ = ("start_time", "end_time", "word", "confidence")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    WORD_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    start_time: _duration_pb2.Duration
    end_time: _duration_pb2.Duration
    word: str
    confidence: float
    def __init__(self, start_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., end_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., word: _Optional[str] = ..., confidence: _Optional[float] = ...) -> None: ...

class SpeechRecognitionAlternative(_message.Message):
    __slots__ = ("transcript", "confidence", "words")
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    transcript: str
    confidence: float
    words: _containers.RepeatedCompositeFieldContainer[WordInfo]
    def __init__(self, transcript: _Optional[str] = ..., confidence: _Optional[float] = ..., words: _Optional[_Iterable[_Union[WordInfo, _Mapping]]] = ...) -> None: ...

class StreamingRecognitionResult(_message.Message):
    __slots__ = ("alternatives", "is_final", "stability", "result_start_time", "result_end_time", "language_code", "utterance_index", "processing_latency", "intent", "answer")
    ALTERNATIVES_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    STABILITY_FIELD_NUMBER: _ClassVar[int]
    RESULT_START_TIME_FIELD_NUMBER: _ClassVar[int]
    RESULT_END_TIME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    UTTERANCE_INDEX_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_LATENCY_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    alternatives: _containers.RepeatedCompositeFieldContainer[SpeechRecognitionAlternative]
    is_final: bool
    stability: float
    result_start_time: _duration_pb2.Duration
    result_end_time: _duration_pb2.Duration
    language_code: str
    utterance_index: int
    processing_latency: _duration_pb2.Duration
    intent: _understander_pb2.UnderstandResponse
    answer: Answer
    def __init__(self, alternatives: _Optional[_Iterable[_Union[SpeechRecognitionAlternative, _Mapping]]] = ..., is_final: _Optional[bool] = ..., stability: _Optional[float] = ..., result_start_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., result_end_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., language_code: _Optional[str] = ..., utterance_index: _Optional[int] = ..., processing_latency: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., intent: _Optional[_Union[_understander_pb2.UnderstandResponse, _Mapping]] = ..., answer: _Optional[_Union[Answer, _Mapping]] = ...) -> None: ...

class StreamingRecognizeResponse(_message.Message):
    __slots__ = ("results", "speech_event_type", "speech_event_time", "utterance_index")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    SPEECH_EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SPEECH_EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    UTTERANCE_INDEX_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[StreamingRecognitionResult]
    speech_event_type: SpeechEventType
    speech_event_time: _duration_pb2.Duration
    utterance_index: int
    def __init__(self, results: _Optional[_Iterable[_Union[StreamingRecognitionResult, _Mapping]]] = ..., speech_event_type: _Optional[_Union[SpeechEventType, str]] = ..., speech_event_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., utterance_index: _Optional[int] = ...) -> None: ...

class RecognizeRequest(_message.Message):
    __slots__ = ("config", "audio_content")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_CONTENT_FIELD_NUMBER: _ClassVar[int]
    config: RecognitionConfig
    audio_content: bytes
    def __init__(self, config: _Optional[_Union[RecognitionConfig, _Mapping]] = ..., audio_content: _Optional[bytes] = ...) -> None: ...

class SpeechRecognitionResult(_message.Message):
    __slots__ = ("alternatives", "result_start_time", "result_end_time", "language_code", "utterance_index", "intent", "answer")
    ALTERNATIVES_FIELD_NUMBER: _ClassVar[int]
    RESULT_START_TIME_FIELD_NUMBER: _ClassVar[int]
    RESULT_END_TIME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    UTTERANCE_INDEX_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    alternatives: _containers.RepeatedCompositeFieldContainer[SpeechRecognitionAlternative]
    result_start_time: _duration_pb2.Duration
    result_end_time: _duration_pb2.Duration
    language_code: str
    utterance_index: int
    intent: _understander_pb2.UnderstandResponse
    answer: Answer
    def __init__(self, alternatives: _Optional[_Iterable[_Union[SpeechRecognitionAlternative, _Mapping]]] = ..., result_start_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., result_end_time: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., language_code: _Optional[str] = ..., utterance_index: _Optional[int] = ..., intent: _Optional[_Union[_understander_pb2.UnderstandResponse, _Mapping]] = ..., answer: _Optional[_Union[Answer, _Mapping]] = ...) -> None: ...

class RecognizeResponse(_message.Message):
    __slots__ = ("results", "total_audio_duration")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_AUDIO_DURATION_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SpeechRecognitionResult]
    total_audio_duration: _duration_pb2.Duration
    def __init__(self, results: _Optional[_Iterable[_Union[SpeechRecognitionResult, _Mapping]]] = ..., total_audio_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...
