from voice_api.v1 import audio_pb2 as _audio_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AudioContainer(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIO_CONTAINER_UNSPECIFIED: _ClassVar[AudioContainer]
    RAW: _ClassVar[AudioContainer]
    WAV: _ClassVar[AudioContainer]
AUDIO_CONTAINER_UNSPECIFIED: AudioContainer
RAW: AudioContainer
WAV: AudioContainer

class SynthesizeRequest(_message.Message):
    __slots__ = ("text", "voice", "encoding", "sample_rate_hertz", "language_code", "speaking_rate", "ssml", "volume_gain_db", "sentence_silence_ms", "speaker_id", "chunk_duration_ms", "container")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HERTZ_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    SPEAKING_RATE_FIELD_NUMBER: _ClassVar[int]
    SSML_FIELD_NUMBER: _ClassVar[int]
    VOLUME_GAIN_DB_FIELD_NUMBER: _ClassVar[int]
    SENTENCE_SILENCE_MS_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    text: str
    voice: str
    encoding: _audio_pb2.AudioEncoding
    sample_rate_hertz: int
    language_code: str
    speaking_rate: float
    ssml: bool
    volume_gain_db: float
    sentence_silence_ms: int
    speaker_id: int
    chunk_duration_ms: int
    container: AudioContainer
    def __init__(self, text: _Optional[str] = ..., voice: _Optional[str] = ..., encoding: _Optional[_Union[_audio_pb2.AudioEncoding, str]] = ..., sample_rate_hertz: _Optional[int] = ..., language_code: _Optional[str] = ..., speaking_rate: _Optional[float] = ..., ssml: _Optional[bool] = ..., volume_gain_db: _Optional[float] = ..., sentence_silence_ms: _Optional[int] = ..., speaker_id: _Optional[int] = ..., chunk_duration_ms: _Optional[int] = ..., container: _Optional[_Union[AudioContainer, str]] = ...) -> None: ...

class SynthesizeResponse(_message.Message):
    __slots__ = ("audio_content", "encoding", "sample_rate_hertz", "sentence_index", "text", "voice", "audio_offset_s")
    AUDIO_CONTENT_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HERTZ_FIELD_NUMBER: _ClassVar[int]
    SENTENCE_INDEX_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    AUDIO_OFFSET_S_FIELD_NUMBER: _ClassVar[int]
    audio_content: bytes
    encoding: _audio_pb2.AudioEncoding
    sample_rate_hertz: int
    sentence_index: int
    text: str
    voice: str
    audio_offset_s: float
    def __init__(self, audio_content: _Optional[bytes] = ..., encoding: _Optional[_Union[_audio_pb2.AudioEncoding, str]] = ..., sample_rate_hertz: _Optional[int] = ..., sentence_index: _Optional[int] = ..., text: _Optional[str] = ..., voice: _Optional[str] = ..., audio_offset_s: _Optional[float] = ...) -> None: ...

class SynthesizeOnceResponse(_message.Message):
    __slots__ = ("audio_content", "encoding", "sample_rate_hertz", "container", "audio_duration_s", "voice", "sentences")
    AUDIO_CONTENT_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HERTZ_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    AUDIO_DURATION_S_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    SENTENCES_FIELD_NUMBER: _ClassVar[int]
    audio_content: bytes
    encoding: _audio_pb2.AudioEncoding
    sample_rate_hertz: int
    container: AudioContainer
    audio_duration_s: float
    voice: str
    sentences: int
    def __init__(self, audio_content: _Optional[bytes] = ..., encoding: _Optional[_Union[_audio_pb2.AudioEncoding, str]] = ..., sample_rate_hertz: _Optional[int] = ..., container: _Optional[_Union[AudioContainer, str]] = ..., audio_duration_s: _Optional[float] = ..., voice: _Optional[str] = ..., sentences: _Optional[int] = ...) -> None: ...

class ListVoicesRequest(_message.Message):
    __slots__ = ("language_code",)
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    language_code: str
    def __init__(self, language_code: _Optional[str] = ...) -> None: ...

class Voice(_message.Message):
    __slots__ = ("name", "language_code", "sample_rate_hertz", "quality", "num_speakers", "neural", "engine", "speakers", "is_default", "quality_label", "round_trip_wer")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HERTZ_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    NUM_SPEAKERS_FIELD_NUMBER: _ClassVar[int]
    NEURAL_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    SPEAKERS_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    QUALITY_LABEL_FIELD_NUMBER: _ClassVar[int]
    ROUND_TRIP_WER_FIELD_NUMBER: _ClassVar[int]
    name: str
    language_code: str
    sample_rate_hertz: int
    quality: str
    num_speakers: int
    neural: bool
    engine: str
    speakers: _containers.RepeatedScalarFieldContainer[str]
    is_default: bool
    quality_label: str
    round_trip_wer: float
    def __init__(self, name: _Optional[str] = ..., language_code: _Optional[str] = ..., sample_rate_hertz: _Optional[int] = ..., quality: _Optional[str] = ..., num_speakers: _Optional[int] = ..., neural: _Optional[bool] = ..., engine: _Optional[str] = ..., speakers: _Optional[_Iterable[str]] = ..., is_default: _Optional[bool] = ..., quality_label: _Optional[str] = ..., round_trip_wer: _Optional[float] = ...) -> None: ...

class ListVoicesResponse(_message.Message):
    __slots__ = ("voices",)
    VOICES_FIELD_NUMBER: _ClassVar[int]
    voices: _containers.RepeatedCompositeFieldContainer[Voice]
    def __init__(self, voices: _Optional[_Iterable[_Union[Voice, _Mapping]]] = ...) -> None: ...
