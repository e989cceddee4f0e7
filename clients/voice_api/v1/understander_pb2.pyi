from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UnderstandRequest(_message.Message):
    __slots__ = ("text", "language_code", "previous_intent")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_INTENT_FIELD_NUMBER: _ClassVar[int]
    text: str
    language_code: str
    previous_intent: str
    def __init__(self, text: _Optional[str] = ..., language_code: _Optional[str] = ..., previous_intent: _Optional[str] = ...) -> None: ...

class IntentSlot(_message.Message):
    __slots__ = ("name", "value", "start", "end")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    start: int
    end: int
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ..., start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class IntentAlternative(_message.Message):
    __slots__ = ("intent", "confidence")
    INTENT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    intent: str
    confidence: float
    def __init__(self, intent: _Optional[str] = ..., confidence: _Optional[float] = ...) -> None: ...

class UnderstandResponse(_message.Message):
    __slots__ = ("intent", "confidence", "slots", "alternatives", "unavailable_slots")
    INTENT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    ALTERNATIVES_FIELD_NUMBER: _ClassVar[int]
    UNAVAILABLE_SLOTS_FIELD_NUMBER: _ClassVar[int]
    intent: str
    confidence: float
    slots: _containers.RepeatedCompositeFieldContainer[IntentSlot]
    alternatives: _containers.RepeatedCompositeFieldContainer[IntentAlternative]
    unavailable_slots: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, intent: _Optional[str] = ..., confidence: _Optional[float] = ..., slots: _Optional[_Iterable[_Union[IntentSlot, _Mapping]]] = ..., alternatives: _Optional[_Iterable[_Union[IntentAlternative, _Mapping]]] = ..., unavailable_slots: _Optional[_Iterable[str]] = ...) -> None: ...

class ListIntentsRequest(_message.Message):
    __slots__ = ("language_code",)
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    language_code: str
    def __init__(self, language_code: _Optional[str] = ...) -> None: ...

class IntentInfo(_message.Message):
    __slots__ = ("name", "language_codes", "slots", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODES_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    language_codes: _containers.RepeatedScalarFieldContainer[str]
    slots: _containers.RepeatedScalarFieldContainer[str]
    description: str
    def __init__(self, name: _Optional[str] = ..., language_codes: _Optional[_Iterable[str]] = ..., slots: _Optional[_Iterable[str]] = ..., description: _Optional[str] = ...) -> None: ...

class ListIntentsResponse(_message.Message):
    __slots__ = ("intents", "language_codes")
    INTENTS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODES_FIELD_NUMBER: _ClassVar[int]
    intents: _containers.RepeatedCompositeFieldContainer[IntentInfo]
    language_codes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, intents: _Optional[_Iterable[_Union[IntentInfo, _Mapping]]] = ..., language_codes: _Optional[_Iterable[str]] = ...) -> None: ...
