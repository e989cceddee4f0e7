"""Riva protobuf <-> service types, in both directions; nothing else here knows Riva's wire.

The messages are the generated modules that ``nvidia-riva-client`` carries in
``riva/client/proto/`` (``riva_asr_pb2``, ``riva_tts_pb2``, ``riva_audio_pb2``), made from
NVIDIA's published proto definitions (github.com/nvidia-riva/common, MIT licence, Copyright (c)
2022 NVIDIA CORPORATION & AFFILIATES).

Functions named ``*_from_riva`` build service requests from Riva messages (raising
:class:`~voice.core.errors.InvalidArgument` with Riva's field names for the Riva features this
server does not have: never a silent ignore), ``*_riva`` build Riva messages from service
results, and :func:`riva_error` renames a service error's field to Riva's name for it.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from riva.client.proto import riva_asr_pb2 as rasr
from riva.client.proto import riva_audio_pb2 as raudio
from riva.client.proto import riva_tts_pb2 as rtts

from ...core.audio import MIN_RATE
from ...core.errors import InvalidArgument
from ...core.results import RecognitionResult
from ...engines.voices import VoiceInfo
from ...service import types as t

# -- encodings ----------------------------------------------------------------------------------

RAW_ENCODINGS = {raudio.LINEAR_PCM: "LINEAR16", raudio.MULAW: "MULAW", raudio.ALAW: "ALAW"}
# encodings that only come as files (their container says what is inside)
FILE_ENCODINGS = {raudio.FLAC: "FLAC", raudio.OGGOPUS: "OGGOPUS"}
RIVA_RAW_NAMES = "LINEAR_PCM, MULAW or ALAW"
MULTILINGUAL = "multi"  # Riva's language_code for a multilingual model: detect per utterance


def encoding_riva_name(value: int) -> str:
    try:
        return raudio.AudioEncoding.Name(value)
    except ValueError:  # a value the installed proto does not know
        return str(value)


# -- WAV headers at the start of a stream ----------------------------------------------------------

WAV_HEADER_MAX_BYTES = 65536  # a stream's WAV header must be complete within this many bytes
_WAV_TAGS = {(1, 16): "LINEAR16", (7, 8): "MULAW", (6, 8): "ALAW"}
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE


@dataclass(frozen=True)
class WavHeader:
    """A stream's WAV header: the raw encoding that follows it, its rate, and where data starts."""

    encoding: str  # LINEAR16 | MULAW | ALAW
    sample_rate_hertz: int
    data_offset: int


def starts_like_wav(data: bytes) -> bool:
    return data[:4] == b"RIFF"


def parse_wav_header(data: bytes, field: str = "audio_content") -> WavHeader | None:
    """The header at the start of ``data`` (a RIFF/WAVE stream), or None while it is incomplete.

    Riva's own file clients (``riva.client.AudioChunkFileIterator``) send a WAV file's bytes
    as they are, header first. Raises :class:`InvalidArgument` naming ``field`` for a header
    this server cannot stream (not 16-bit PCM / mu-law / A-law, or not mono).
    """
    if len(data) < 12:
        return None
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise InvalidArgument(field, "starts with RIFF but is not a WAVE file")
    pos, fmt = 12, None
    while pos + 8 <= len(data):
        chunk, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = pos + 8
        if chunk == b"data":
            if fmt is None:
                raise InvalidArgument(field, "the WAV data chunk comes before its fmt chunk")
            encoding, rate = _wav_format(fmt, field)
            return WavHeader(encoding, rate, body)
        if body + size > len(data):
            return None
        if chunk == b"fmt ":
            fmt = data[body:body + size]
        pos = body + size + (size & 1)
    return None


def _wav_format(fmt: bytes, field: str) -> tuple[str, int]:
    if len(fmt) < 16:
        raise InvalidArgument(field, "the WAV fmt chunk is truncated")
    tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == _WAVE_FORMAT_EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack("<H", fmt[24:26])[0]  # the sub-format GUID starts with the tag
    if channels != 1:
        raise InvalidArgument(field, f"the WAV header says {channels} channels; streams must be mono")
    encoding = _WAV_TAGS.get((tag, bits))
    if encoding is None:
        raise InvalidArgument(field, f"WAV format tag {tag} with {bits}-bit samples cannot be streamed "
                                     "(16-bit PCM, mu-law or A-law)")
    return encoding, rate


# -- recognition requests -----------------------------------------------------------------------

def _check_unsupported(pb: rasr.RecognitionConfig, *, container: bool) -> None:
    """Riva features this server does not have: an error naming the field (``config.<field>``)."""
    if pb.profanity_filter:
        raise InvalidArgument("config.profanity_filter", "profanity filtering is not supported by this server")
    if pb.enable_separate_recognition_per_channel:
        raise InvalidArgument("config.enable_separate_recognition_per_channel",
                              "per-channel recognition is not supported; send mono audio")
    if pb.audio_channel_count > 1 and not container:
        raise InvalidArgument("config.audio_channel_count",
                              f"raw audio must be mono, got {pb.audio_channel_count} channels "
                              "(a WAV/FLAC/Ogg file is mixed down to mono)")
    if pb.audio_channel_count < 0:
        raise InvalidArgument("config.audio_channel_count", f"must not be negative, got {pb.audio_channel_count}")
    if pb.diarization_config.enable_speaker_diarization:
        raise InvalidArgument("config.diarization_config.enable_speaker_diarization",
                              "speaker diarization is not supported by this server")
    if pb.custom_configuration:
        key = min(pb.custom_configuration)
        raise InvalidArgument(f"config.custom_configuration.{key}",
                              "unknown key (this server takes no custom configuration)")
    for i, context in enumerate(pb.speech_contexts):
        if context.boost < 0:
            raise InvalidArgument(f"config.speech_contexts[{i}].boost",
                                  "negative boosts (suppressing words) are not supported; phrases can only be hinted")


def _run_ms(history_field: str, history: int | None, threshold_field: str, threshold: float | None) -> int | None:
    """A Riva window and threshold as our endpointer's run length (consecutive ms).

    Riva starts (ends) an utterance when ``threshold`` of the last ``history`` ms are speech
    (blank); our endpointer counts consecutive 20 ms frames, which is the same rule at a
    threshold of 1.0, so the window and fraction become a run of ``history * threshold`` ms.
    """
    if threshold is not None and not 0.0 < threshold <= 1.0:
        raise InvalidArgument(f"config.endpointing_config.{threshold_field}", f"must be in (0, 1], got {threshold}")
    if history is None:
        if threshold is not None:
            raise InvalidArgument(f"config.endpointing_config.{threshold_field}",
                                  f"needs {history_field} (the window it is a fraction of)")
        return None
    if history <= 0:
        raise InvalidArgument(f"config.endpointing_config.{history_field}", f"must be positive, got {history}")
    return max(1, round(history * (1.0 if threshold is None else threshold)))


def endpointing_from_riva(pb: rasr.EndpointingConfig) -> t.EndpointingRequest:
    """Riva's start/stop windows and thresholds as our endpointing (None keeps the default)."""
    def opt(name: str):
        return getattr(pb, name) if pb.HasField(name) else None

    for name in ("stop_history_eou", "stop_threshold_eou"):
        if pb.HasField(name):
            raise InvalidArgument(f"config.endpointing_config.{name}",
                                  "a first-pass end of utterance is not supported: this server starts its final "
                                  "decode as soon as trailing silence begins; tune stop_history instead")
    return t.EndpointingRequest(
        speech_start_ms=_run_ms("start_history", opt("start_history"), "start_threshold", opt("start_threshold")),
        trailing_silence_ms=_run_ms("stop_history", opt("stop_history"), "stop_threshold", opt("stop_threshold")),
    )


def _language(code: str) -> str:
    return "" if code.strip().lower() == MULTILINGUAL else code


@dataclass(frozen=True)
class DecodedStream:
    """A FLAC / Ogg Opus stream decoded to 16-bit PCM at ``sample_rate_hertz`` on the way in."""

    encoding: str  # Riva's name of what came: FLAC | OGGOPUS
    sample_rate_hertz: int


def recognition_config_from_riva(pb: rasr.RecognitionConfig, audio: bytes, *, streaming: bool = False,
                                 header: WavHeader | None = None,
                                 decoded: DecodedStream | None = None) -> t.RecognitionConfig:
    """A Riva config as the service's (errors name ``config.<field>``).

    ``audio``: a Recognize call's whole audio (a WAV/FLAC/Ogg file decides its own format), or
    a stream's first audio bytes; ``header``: a stream's WAV header, which fills an unset
    encoding and rate; ``decoded``: a FLAC / Ogg Opus stream that the door decodes to PCM.
    """
    container = header is not None or decoded is not None or (not streaming and _is_container(audio))
    _check_unsupported(pb, container=container)
    encoding = RAW_ENCODINGS.get(pb.encoding, "")
    rate = pb.sample_rate_hertz
    if decoded is not None:
        if pb.encoding != raudio.ENCODING_UNSPECIFIED and encoding_riva_name(pb.encoding) != decoded.encoding:
            raise InvalidArgument("config.encoding", f"{encoding_riva_name(pb.encoding)} but the stream is "
                                                     f"{decoded.encoding} (its first bytes say so)")
        # the container decides the rate (Opus always decodes at 48 kHz): a set rate is the source's
        encoding, rate = "LINEAR16", decoded.sample_rate_hertz
    elif header is not None:
        if pb.encoding != raudio.ENCODING_UNSPECIFIED and encoding != header.encoding:
            raise InvalidArgument("config.encoding", f"{encoding_riva_name(pb.encoding)} but the stream's WAV header "
                                                     f"says {_riva_name(header.encoding)}")
        if rate and rate != header.sample_rate_hertz:
            raise InvalidArgument("config.sample_rate_hertz",
                                  f"{rate} Hz but the stream's WAV header says {header.sample_rate_hertz} Hz")
        encoding, rate = header.encoding, header.sample_rate_hertz
    elif not container:
        if pb.encoding in FILE_ENCODINGS:
            what = "a FLAC file (fLaC)" if pb.encoding == raudio.FLAC else "an Ogg Opus file (OggS)"
            where = "audio_content" if streaming else "audio"
            raise InvalidArgument(where,
                                  f"encoding {FILE_ENCODINGS[pb.encoding]} needs {what}; these bytes are not one")
        if not encoding:
            shown = "missing" if pb.encoding == raudio.ENCODING_UNSPECIFIED else encoding_riva_name(pb.encoding)
            raise InvalidArgument("config.encoding", f"{shown}: set {RIVA_RAW_NAMES} with sample_rate_hertz, "
                                                     "or send a WAV, FLAC or Ogg Opus file (its header says the rest)")
    return t.RecognitionConfig(
        encoding=encoding,
        sample_rate_hertz=rate,
        language_code=_language(pb.language_code),
        enable_word_time_offsets=pb.enable_word_time_offsets,
        endpointing=endpointing_from_riva(pb.endpointing_config) if pb.HasField("endpointing_config")
        else t.EndpointingRequest(),
        model=pb.model,
        phrase_hints=tuple(p for c in pb.speech_contexts for p in c.phrases),
        max_alternatives=pb.max_alternatives,
    )


def _is_container(data: bytes) -> bool:
    return data[:4] in (b"RIFF", b"RIFX", b"fLaC", b"OggS")


def _riva_name(encoding: str) -> str:
    return {v: raudio.AudioEncoding.Name(k) for k, v in RAW_ENCODINGS.items()}.get(encoding, encoding)


def file_request_from_riva(pb: rasr.RecognizeRequest) -> t.FileRecognitionRequest:
    config = recognition_config_from_riva(pb.config, pb.audio)
    return t.FileRecognitionRequest(audio=pb.audio, config=config, is_file=pb.config.encoding in FILE_ENCODINGS)


def streaming_config_from_riva(pb: rasr.StreamingRecognitionConfig, first_audio: bytes,
                               header: WavHeader | None = None,
                               decoded: DecodedStream | None = None) -> t.StreamingConfig:
    """``first_audio``: the stream's first audio bytes (after its WAV header, if any)."""
    try:
        config = recognition_config_from_riva(pb.config, first_audio, streaming=True, header=header, decoded=decoded)
    except InvalidArgument as exc:  # audio_content is the request's own field, the rest the config's
        raise (exc if exc.field == "audio_content" else exc.within("streaming_config")) from None
    return t.StreamingConfig(config, pb.interim_results)


# the service's field names -> Riva's
_RECOGNITION_FIELDS = {
    "config.phrase_hints": "config.speech_contexts",
    "config.endpointing.speech_start_ms": "config.endpointing_config.start_history",
    "config.endpointing.trailing_silence_ms": "config.endpointing_config.stop_history",
}
RECOGNIZE_FIELDS = {**_RECOGNITION_FIELDS, "audio_content": "audio"}
STREAMING_FIELDS = {f"streaming_config.{k}": f"streaming_config.{v}" for k, v in _RECOGNITION_FIELDS.items()}
SYNTHESIS_FIELDS = {"voice": "voice_name", "speaker_id": "voice_name", "sample_rate_hertz": "sample_rate_hz"}


def riva_error(exc: InvalidArgument, names: dict[str, str]) -> InvalidArgument:
    """``exc`` with its field as Riva names it."""
    return exc.renamed(names)


# -- recognition results ------------------------------------------------------------------------

def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def alternative_riva(result: RecognitionResult, transcript: str | None = None) -> rasr.SpeechRecognitionAlternative:
    return rasr.SpeechRecognitionAlternative(
        transcript=result.transcript if transcript is None else transcript,
        confidence=result.confidence,
        words=[rasr.WordInfo(word=w.word, start_time=_ms(w.start), end_time=_ms(w.end), confidence=w.confidence,
                             language_code=result.language) for w in result.words],
        language_code=[result.language] if result.language else [],
    )


def _final_text(text: str) -> str:
    # Riva's finals end with a space, so clients that join results (print_offline) keep words apart
    return f"{text} " if text else ""


def final_alternatives_riva(result: RecognitionResult) -> list[rasr.SpeechRecognitionAlternative]:
    """A final's alternatives, best first: the transcript (with its words), then the n-best
    readings (``max_alternatives``; text and confidence)."""
    language = [result.language] if result.language else []
    return [alternative_riva(result, _final_text(result.transcript)), *(
        rasr.SpeechRecognitionAlternative(transcript=_final_text(alt.text), confidence=alt.confidence,
                                          language_code=language)
        for alt in result.alternatives)]


def file_result_riva(result: t.FileRecognitionResult, request_id: str = "") -> rasr.RecognizeResponse:
    response = rasr.RecognizeResponse(results=[
        rasr.SpeechRecognitionResult(alternatives=final_alternatives_riva(r), channel_tag=1, audio_processed=r.end)
        for r in result.results])
    if request_id:
        response.id.value = request_id
    return response


def stream_output_riva(item: t.StreamOutput, request_id: str = "") -> rasr.StreamingRecognizeResponse | None:
    """A stream's output as a Riva response; None for what Riva has no message for (speech events)."""
    if isinstance(item, t.SpeechEvent):
        return None
    if isinstance(item, t.InterimUpdate):
        parts = [p for p in (item.committed, item.tail) if p.transcript]
        results = [
            rasr.StreamingRecognitionResult(
                # clients join the interim results' texts: keep a space between them
                alternatives=[alternative_riva(p, p.transcript + (" " if i < len(parts) - 1 else ""))],
                is_final=False, stability=p.stability, channel_tag=1, audio_processed=p.end)
            for i, p in enumerate(parts)]
    else:
        results = [rasr.StreamingRecognitionResult(alternatives=final_alternatives_riva(item),
                                                   is_final=True, channel_tag=1, audio_processed=item.end)]
    response = rasr.StreamingRecognizeResponse(results=results)
    if request_id:
        response.id.value = request_id
    return response


@dataclass(frozen=True)
class ModelInfo:
    name: str
    languages: tuple[str, ...]
    is_default: bool


def recognition_models_riva(models: Iterable[ModelInfo],
                            model_name: str = "") -> rasr.RivaSpeechRecognitionConfigResponse:
    """One config per model, language and mode: every model serves streams ("online") and whole
    files ("offline"), which is what ``transcribe_file.py --list-models`` and
    ``transcribe_file_offline.py --list-models`` filter on."""
    response = rasr.RivaSpeechRecognitionConfigResponse()
    for model in models:
        if model_name and model.name != model_name:
            continue
        for kind in ("online", "offline"):
            for language in model.languages:
                response.model_config.add(model_name=model.name, parameters={
                    "type": kind, "language_code": language, "streaming": str(kind == "online").lower(),
                    "default": str(model.is_default).lower()})
    return response


# -- synthesis ----------------------------------------------------------------------------------

SINGLE_SUBVOICE = "default"  # the subvoice name of a voice with one speaker


def subvoices(voice: VoiceInfo) -> tuple[str, ...]:
    return voice.speakers if voice.num_speakers > 1 and voice.speakers else (
        tuple(str(i) for i in range(voice.num_speakers)) if voice.num_speakers > 1 else (SINGLE_SUBVOICE,))


def voice_from_riva(voice_name: str, voices: Iterable[VoiceInfo]) -> tuple[str, int | None]:
    """Riva's ``voice_name`` ("<voice>" or "<voice>.<subvoice>", as ``talk.py --list-voices``
    prints them) as our voice name and speaker id."""
    by_name = {v.name: v for v in voices}
    if not voice_name or voice_name in by_name:
        return voice_name, None
    base, _, sub = voice_name.rpartition(".")
    voice = by_name.get(base)
    if voice is None:
        return voice_name, None  # the service says it is unknown, and which voices there are
    names = subvoices(voice)
    if sub in names:
        index = names.index(sub)
    elif sub.isdigit():
        index = int(sub)
    else:
        raise InvalidArgument("voice_name", f"voice {base} has no subvoice {sub!r} (it has {', '.join(names)})")
    return base, (index if voice.num_speakers > 1 else (None if index == 0 else index))


def synthesis_request_from_riva(pb: rtts.SynthesizeSpeechRequest, voices: Iterable[VoiceInfo]) -> t.SynthesisRequest:
    """A Riva request as the service's; for OGGOPUS the samples are asked at an Opus rate and
    the door encodes them (:func:`ogg_opus_bytes` for ``Synthesize``, Ogg pages as the audio
    comes for ``SynthesizeOnline``)."""
    if pb.zero_shot_data.audio_prompt:
        raise InvalidArgument("zero_shot_data.audio_prompt",
                              "zero-shot voice cloning is not supported; pick a voice from GetRivaSynthesisConfig")
    if pb.custom_dictionary:
        raise InvalidArgument("custom_dictionary", "custom pronunciations are not supported by this server")
    if pb.custom_configuration:
        key = min(pb.custom_configuration)
        raise InvalidArgument(f"custom_configuration.{key}", "unknown key (this server takes no custom configuration)")
    if pb.enable_word_time_offsets:
        raise InvalidArgument("enable_word_time_offsets", "word timings of synthesized speech are not available")
    rate = pb.sample_rate_hz
    if pb.encoding == raudio.ENCODING_UNSPECIFIED:
        encoding = "LINEAR16"
    elif pb.encoding in RAW_ENCODINGS:
        encoding = RAW_ENCODINGS[pb.encoding]
    elif pb.encoding == raudio.OGGOPUS:
        encoding, rate = "LINEAR16", opus_rate(rate)  # samples at a rate Opus takes, then encoded
    else:  # FLAC: a streamed FLAC cannot carry its length, and libsndfile reads none without it
        raise InvalidArgument("encoding", f"{encoding_riva_name(pb.encoding)} output is not supported "
                                          f"({RIVA_RAW_NAMES} or OGGOPUS)")
    voice, speaker = voice_from_riva(pb.voice_name, voices)
    return t.SynthesisRequest(text=pb.text, voice=voice, language_code=pb.language_code, encoding=encoding,
                              sample_rate_hertz=rate, speaker_id=speaker)


OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


def opus_rate(requested: int) -> int:
    """The rate to synthesize Ogg Opus output at: the lowest Opus rate at or above the request's
    (Opus codes 8, 12, 16, 24 or 48 kHz; decoders play it at 48 kHz), 48 kHz when none is asked."""
    if requested and requested < MIN_RATE:
        return requested  # the service names the bad rate
    return next((r for r in OPUS_RATES if r >= requested), OPUS_RATES[-1]) if requested else OPUS_RATES[-1]


def ogg_opus_bytes(pcm: bytes, rate: int) -> bytes:
    """Mono 16-bit ``pcm`` at an Opus rate as an Ogg Opus file (libsndfile's encoder; blocking)."""
    buf = io.BytesIO()
    sf.write(buf, np.frombuffer(pcm, "<i2"), rate, format="OGG", subtype="OPUS")
    return buf.getvalue()


def same_settings(first: rtts.SynthesizeSpeechRequest, later: rtts.SynthesizeSpeechRequest) -> None:
    """A later request of a SynthesizeOnline stream may repeat the first one's settings (the
    installed client re-sends them with every text) or leave them unset, not change them."""
    for name in ("language_code", "encoding", "sample_rate_hz", "voice_name", "custom_dictionary"):
        value = getattr(later, name)
        if value and value != getattr(first, name):
            raise InvalidArgument(name, "must stay the same for the whole SynthesizeOnline stream "
                                        f"(first {getattr(first, name)!r}, now {value!r})")


def audio_riva(audio: bytes, text: str = "", request_id: str = "") -> rtts.SynthesizeSpeechResponse:
    response = rtts.SynthesizeSpeechResponse(audio=audio)
    if text:
        response.meta.text = text
    if request_id:
        response.id.value = request_id
    return response


def voices_riva(voices: Iterable[tuple[VoiceInfo, bool]], model_name: str = "") -> rtts.RivaSynthesisConfigResponse:
    """One config per voice, with what ``talk.py --list-voices`` reads: ``language_code``,
    ``voice_name`` and ``subvoices`` ("name:index,...")."""
    response = rtts.RivaSynthesisConfigResponse()
    for voice, is_default in voices:
        if model_name and voice.name != model_name:
            continue
        response.model_config.add(model_name=voice.name, parameters={
            "language_code": voice.language,
            "voice_name": voice.name,
            "subvoices": ",".join(f"{name}:{i}" for i, name in enumerate(subvoices(voice))),
            "sample_rate_hz": str(voice.sample_rate),
            "quality": voice.quality,
            "engine": voice.engine,
            "neural": str(voice.neural).lower(),
            "default": str(is_default).lower(),
        })
    return response
