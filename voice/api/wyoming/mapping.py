"""Wyoming events <-> service types, and service errors -> Wyoming ``error`` events.

Mapping only: what the request events carry becomes the service's requests
(:class:`~voice.service.types.StreamingConfig`, :class:`~voice.service.types.SynthesisRequest`,
:class:`~voice.service.types.UnderstandRequest`); validation stays in the service, whose
errors are renamed here to the Wyoming fields that caused them (``audio-start.rate``,
``synthesize.voice.name``, ...).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart
from wyoming.error import Error
from wyoming.info import (
    AsrModel,
    AsrProgram,
    Attribution,
    Info,
    IntentModel,
    IntentProgram,
    TtsProgram,
    TtsVoice,
    TtsVoiceSpeaker,
)
from wyoming.intent import Entity, Intent, NotRecognized
from wyoming.tts import SynthesizeTextFormat, SynthesizeVoice

import kernels

from ... import __version__
from ...core.errors import InvalidArgument, ResourceExhausted, ServiceError, Unavailable, Unimplemented
from ...core.intents import NONE_INTENT, IntentInfo, IntentResult
from ...engines.voices import VoiceInfo
from ...service.types import RecognitionConfig, StreamingConfig, SynthesisRequest, UnderstandRequest

PROGRAM = "voice-service"
PROJECT = Attribution(name="voice-service", url="")  # self-hosted: no public home to point at
WHISPER = Attribution(name="OpenAI Whisper (faster-whisper, CTranslate2)", url="https://github.com/openai/whisper")
PIPER = Attribution(name="Piper", url="https://github.com/rhasspy/piper")
ESPEAK = Attribution(name="eSpeak NG", url="https://github.com/espeak-ng/espeak-ng")
SAMPLE_WIDTH = 2  # bytes: 16-bit signed little-endian PCM, the only width taken and sent
MAX_CHANNELS = 2  # stereo input is mixed down to mono

# the service's field names -> the Wyoming fields that set them
_RECOGNITION_FIELDS = {
    "streaming_config.config.sample_rate_hertz": "audio-start.rate",
    "streaming_config.config.encoding": "audio-start",
    "streaming_config.config.language_code": "transcribe.language",
    "streaming_config.config.model": "transcribe.name",
    "streaming_config.config.phrase_hints": "transcribe.transcript_names",
}
_SYNTHESIS_FIELDS = {
    "voice": "synthesize.voice.name",
    "language_code": "synthesize.voice.language",
    "speaker_id": "synthesize.voice.speaker",
    "text": "synthesize.text",
}
_UNDERSTANDING_FIELDS = {"language_code": "recognize.context.language", "text": "recognize.text"}


# -- describe -> info ---------------------------------------------------------------------------

@dataclass(frozen=True)
class AsrModelInfo:
    name: str
    languages: tuple[str, ...]


def info(models: Iterable[AsrModelInfo], voices: Iterable[tuple[VoiceInfo, bool]],
         intents: tuple[str, list[IntentInfo], tuple[str, ...]] | None) -> Info:
    """The ``info`` answer: one ASR program (its models and languages, transcript streaming),
    one TTS program (every voice with its languages and speakers, synthesis streaming) and,
    when the server understands intents, one intent program (the domain, its languages and
    intents)."""
    asr = AsrProgram(
        name=PROGRAM, attribution=PROJECT, installed=True, version=__version__,
        description="Streaming Whisper speech recognition (VAD endpointing, speculative finals)",
        models=[AsrModel(name=m.name, attribution=WHISPER, installed=True, description=f"Whisper {m.name}",
                         version=None, languages=sorted(m.languages)) for m in models],
        supports_transcript_streaming=True,
    )
    tts_voices = []
    for voice, default in voices:
        kind = "Piper" if voice.neural else "eSpeak NG fallback"
        speakers = [TtsVoiceSpeaker(name=s) for s in voice.speakers] if voice.num_speakers > 1 else None
        tts_voices.append(TtsVoice(
            name=voice.name, attribution=PIPER if voice.neural else ESPEAK, installed=True, version=None,
            description=f"{voice.name} ({kind}, {voice.sample_rate} Hz{', default' if default else ''})",
            languages=[voice.language], speakers=speakers))
    tts = TtsProgram(name=PROGRAM, attribution=PROJECT, installed=True, version=__version__,
                     description="Clause-streaming speech synthesis (Piper, eSpeak NG fallbacks)",
                     voices=tts_voices, supports_synthesize_streaming=True)
    programs: dict[str, Any] = {"asr": [asr], "tts": [tts]}
    if intents is not None:
        domain, infos, languages = intents
        names = ", ".join(i.name for i in infos)
        programs["intent"] = [IntentProgram(
            name=PROGRAM, attribution=PROJECT, installed=True, version=__version__,
            description="Multilingual intent recognition with slots",
            models=[IntentModel(name=domain, attribution=PROJECT, installed=True, version=None,
                                description=f"{domain}: {names}", languages=list(languages))])]
    return Info(**programs)


# -- recognition --------------------------------------------------------------------------------

@dataclass(frozen=True)
class AudioFormat:
    rate: int
    width: int
    channels: int

    @classmethod
    def of(cls, event: AudioStart | AudioChunk) -> AudioFormat:
        return cls(int(event.rate), int(event.width), int(event.channels))

    def check(self, where: str) -> AudioFormat:
        if self.width != SAMPLE_WIDTH:
            raise InvalidArgument(f"{where}.width", f"only 16-bit samples (width {SAMPLE_WIDTH}) are accepted, got {self.width}")
        if not 1 <= self.channels <= MAX_CHANNELS:
            raise InvalidArgument(f"{where}.channels", f"1 (mono) or 2 (stereo, mixed down), got {self.channels}")
        return self


def streaming_config(transcribe: Transcribe | None, fmt: AudioFormat) -> StreamingConfig:
    """A stream's config from the ``transcribe`` before it (language, model, names and terms
    as phrase hints) and its audio format. No interim results: the transcript chunks are each
    utterance's final as soon as it is decoded, and no interim re-decode competes with the
    final for the cores (Home Assistant waits for the whole transcript anyway)."""
    t = transcribe or Transcribe()
    hints = tuple(dict.fromkeys([*(t.transcript_names or ()), *(t.transcript_terms or ())]))
    config = RecognitionConfig(encoding="LINEAR16", sample_rate_hertz=fmt.rate, language_code=t.language or "",
                               model=t.name or "", phrase_hints=hints)
    return StreamingConfig(config, interim_results=False)


def recognition_error(exc: InvalidArgument) -> InvalidArgument:
    return exc.renamed(_RECOGNITION_FIELDS)


def pcm(chunk: AudioChunk, fmt: AudioFormat) -> bytes:
    """A chunk's samples as the stream's mono 16-bit PCM; a chunk in another format than the
    stream's ``audio-start`` is an error naming the field that differs."""
    got = AudioFormat.of(chunk)
    if got != fmt:
        for name in ("rate", "width", "channels"):
            if getattr(got, name) != getattr(fmt, name):
                raise InvalidArgument(f"audio-chunk.{name}", f"{getattr(got, name)} differs from the stream's "
                                      f"audio-start ({getattr(fmt, name)})")
    audio = chunk.audio or b""
    frame = fmt.width * fmt.channels
    if len(audio) % frame:
        raise InvalidArgument("audio-chunk.payload", f"{len(audio)} bytes is not a whole number of {frame}-byte frames")
    if fmt.channels == 1:
        return audio
    return kernels.stereo_to_mono(np.frombuffer(audio, "<i2")).tobytes()


# -- synthesis ----------------------------------------------------------------------------------

def synthesis_request(voice: SynthesizeVoice | None, text_format: Any, text: str,
                      speakers: tuple[str, ...] = ()) -> SynthesisRequest:
    """``synthesize`` / ``synthesize-start`` as a request: voice by name (and speaker, by name or
    number) or by language; SSML when the text format says so. ``speakers``: the named
    voice's speaker names, to look a speaker name up."""
    name = voice.name if voice is not None and voice.name else ""
    language = voice.language if voice is not None and voice.language and not name else ""
    speaker_id = None
    if voice is not None and voice.speaker:
        speaker = str(voice.speaker)
        if speaker in speakers:
            speaker_id = speakers.index(speaker)
        elif speaker.lstrip("-").isdigit():
            speaker_id = int(speaker)
        else:
            known = ", ".join(speakers) or "none: a single-speaker voice"
            raise InvalidArgument("synthesize.voice.speaker", f"unknown speaker {speaker!r} (speakers: {known})")
    fmt = text_format.value if isinstance(text_format, SynthesizeTextFormat) else (text_format or "text")
    if fmt not in ("text", "ssml"):
        raise InvalidArgument("synthesize.text_format", f"'text' or 'ssml', got {fmt!r}")
    return SynthesisRequest(text=text, ssml=fmt == "ssml", voice=name, language_code=language, speaker_id=speaker_id,
                            encoding="LINEAR16")


def synthesis_error(exc: InvalidArgument) -> InvalidArgument:
    return exc.renamed(_SYNTHESIS_FIELDS)


# -- understanding ------------------------------------------------------------------------------

def understand_request(text: str, language: str | None, context: dict | None, default_language: str) -> UnderstandRequest:
    """``recognize`` (its context may carry ``language`` and ``previous_intent``) or a client's
    ``transcript`` (Home Assistant's conversation agent: text and language) as a request."""
    context = context if isinstance(context, dict) else {}
    lang = language or str(context.get("language") or "") or default_language
    previous = context.get("previous_intent")
    return UnderstandRequest(text=text, language_code=lang, previous_intent=previous if isinstance(previous, str) else "")


def intent_event(result: IntentResult, language: str):
    """``intent`` with the slots as entities, or ``not-recognized``; the context carries what a
    follow-up ``recognize`` may send back (``previous_intent``: a bare slot answer continues it)."""
    context = {"confidence": round(float(result.confidence), 4), "language": language}
    if result.intent == NONE_INTENT:
        return NotRecognized(context=context)
    context["previous_intent"] = result.intent
    return Intent(name=result.intent, entities=[Entity(name=s.name, value=s.value) for s in result.slots],
                  context=context)


def understanding_error(exc: InvalidArgument) -> InvalidArgument:
    return exc.renamed(_UNDERSTANDING_FIELDS)


# -- errors -------------------------------------------------------------------------------------

_CODES = ((InvalidArgument, "invalid-argument"), (Unavailable, "unavailable"),
          (ResourceExhausted, "resource-exhausted"), (Unimplemented, "unimplemented"), (ServiceError, "error"))


def limit_error(hit) -> Error:
    """A stream limit (:class:`voice.api.ops.limits.LimitHit`) as Wyoming's ``error``."""
    return Error(text=f"{hit}; the audio stream was ended", code="deadline-exceeded")


def error_event(exc: BaseException) -> Error:
    """A service error as Wyoming's ``error`` (text: the service's message, which names the
    field; code: its kind); anything else as ``internal`` without details."""
    for kind, code in _CODES:
        if isinstance(exc, kind):
            return Error(text=str(exc), code=code)
    return Error(text="internal error", code="internal")
