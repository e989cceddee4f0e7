"""OpenAI's audio REST wire <-> the service's types: request fields to requests, results to the
response formats, synthesized samples to the audio formats, service errors to OpenAI's error JSON.

Nothing here awaits or knows aiohttp: :mod:`voice.api.openai.rest` reads the HTTP request into
plain values, calls these, and writes what they return.

Names clients send that mean "whatever you have" are accepted: the OpenAI transcription models
(``whisper-1``, ``gpt-4o-transcribe``, ...) pick the server's default Whisper model, the OpenAI
voices (``alloy``, ``nova``, ...) its default voice, and the speech ``model`` is not used (the
voice picks the speaker). Any other value is checked by the service and a bad one is a 400
naming the parameter.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass

from ...core.audio import AudioFormatError
from ...core.containers import container_encoder, container_formats
from ...core.errors import InvalidArgument, ResourceExhausted, ServiceError, Unavailable, Unimplemented
from ...core.languages import base_language
from ...core.results import RecognitionResult
from ...engines.voices import VoiceInfo
from ...service.types import FileRecognitionRequest, FileRecognitionResult, RecognitionConfig, SynthesisRequest

OUTPUT_RATE = 24000  # OpenAI's speech rate (its "pcm" is 24 kHz by definition); Opus needs 8/12/16/24/48 kHz
MAX_FILE_BYTES = 25 * 1024 * 1024  # OpenAI's upload limit
TRANSCRIPTION_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
GRANULARITIES = ("segment", "word")
# OpenAI's transcription models: on this server, the default Whisper model
OPENAI_ASR_MODELS = frozenset({"whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", "gpt-transcribe",
                               "gpt-4o-mini-transcribe-2025-12-15", "gpt-4o-transcribe-diarize"})
ASR_ALIAS = "whisper-1"
SPEECH_MODEL = "tts-1"  # what /v1/models lists for speech; any speech model name is accepted
OPENAI_VOICES = frozenset({"alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar",
                           "fable", "onyx", "nova"})

# the service's field names -> OpenAI's parameter names (for the error's "param")
_RECOGNITION_PARAMS = {"audio_content": "file", "config.language_code": "language", "config.model": "model",
                       "config.phrase_hints": "prompt", "task": "model", "temperature": "temperature"}
_SPEECH_PARAMS = {"text": "input", "voice": "voice", "language_code": "language", "speaking_rate": "speed"}


# -- errors -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ErrorReply:
    status: int
    body: dict
    headers: dict


def error_body(message: str, type_: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict:
    """OpenAI's error shape."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def bad_request(param: str, reason: str, code: str = "invalid_value") -> ErrorReply:
    return ErrorReply(400, error_body(f"{param}: {reason}", param=param, code=code), {})


def error_reply(exc: ServiceError, params: dict[str, str] | None = None) -> ErrorReply:
    """A service error as OpenAI's status and error JSON (the one mapping of this door)."""
    if isinstance(exc, InvalidArgument):
        field = exc.field
        param = (params or {}).get(field, field.rpartition(".")[2] or None)
        return ErrorReply(400, error_body(f"{param}: {exc.reason}" if param else exc.reason, param=param,
                                          code="invalid_value"), {})
    if isinstance(exc, ResourceExhausted):
        retry = max(1, math.ceil(exc.retry_after_s))
        return ErrorReply(429, error_body(str(exc), "requests", code="rate_limit_exceeded"),
                          {"Retry-After": str(retry)})
    if isinstance(exc, Unavailable):
        return ErrorReply(503, error_body(str(exc), "server_error", code="unavailable"), {"Retry-After": "1"})
    if isinstance(exc, Unimplemented):
        return ErrorReply(501, error_body(str(exc), "invalid_request_error", code="not_implemented"), {})
    return ErrorReply(500, error_body(str(exc), "server_error"), {})


def recognition_error(exc: ServiceError) -> ErrorReply:
    if isinstance(exc, AudioFormatError):  # say what this server does read; libsndfile's reason last
        detail = exc.reason.rsplit(": ", 1)[-1].rstrip(")")
        exc = InvalidArgument("file", f"not an audio file this server reads ({', '.join(input_formats())}): "
                                      f"{detail}")
    return error_reply(exc, _RECOGNITION_PARAMS)


@functools.cache
def input_formats() -> tuple[str, ...]:
    """The upload formats libsndfile reads here (MP3 and Opus are build options)."""
    import soundfile as sf

    have = sf.available_formats()
    out = [name for fmt, name in (("WAV", "wav"), ("FLAC", "flac")) if fmt in have]
    if "OGG" in have:
        out.append(f"ogg ({', '.join(sorted(s.lower() for s in sf.available_subtypes('OGG')))})")
    if "MP3" in have:
        out.append("mp3")
    return tuple(out)


def speech_error(exc: ServiceError) -> ErrorReply:
    return error_reply(exc, _SPEECH_PARAMS)


# -- transcriptions and translations --------------------------------------------------------------

@dataclass(frozen=True)
class TranscriptionOptions:
    """How to answer: the response format, which timestamps, server-sent events or not."""

    response_format: str = "json"
    granularities: tuple[str, ...] = ()
    stream: bool = False
    translate: bool = False


def _one(fields: dict[str, list[str]], name: str) -> str:
    values = fields.get(name) or [""]
    return values[-1].strip()


def _bool(value: str, param: str) -> bool:
    low = value.lower()
    if low in ("", "false", "0"):
        return False
    if low in ("true", "1"):
        return True
    raise InvalidArgument(param, f"must be true or false, got {value!r}")


def transcription_request(fields: dict[str, list[str]], audio: bytes | None, *,
                          translate: bool) -> tuple[FileRecognitionRequest, TranscriptionOptions]:
    """The form fields of ``/v1/audio/transcriptions`` (or ``/translations``) as a request.
    Raises :class:`InvalidArgument` naming OpenAI's parameter."""
    if audio is None:
        raise InvalidArgument("file", "missing: send the audio as the multipart field 'file'")
    fmt = _one(fields, "response_format") or "json"
    if fmt not in TRANSCRIPTION_FORMATS:
        raise InvalidArgument("response_format", f"unsupported {fmt!r} (use {', '.join(TRANSCRIPTION_FORMATS)})")
    grains: list[str] = []
    for name in ("timestamp_granularities[]", "timestamp_granularities"):
        for value in fields.get(name, ()):
            for grain in value.split(","):
                grain = grain.strip()
                if grain not in GRANULARITIES:
                    raise InvalidArgument("timestamp_granularities", f"unsupported {grain!r} (segment or word)")
                grains.append(grain)
    temperature = None
    if raw := _one(fields, "temperature"):
        try:
            temperature = float(raw)
        except ValueError:
            raise InvalidArgument("temperature", f"must be a number between 0 and 1, got {raw!r}") from None
        if not math.isfinite(temperature):
            raise InvalidArgument("temperature", f"must be a number between 0 and 1, got {raw!r}")
    stream = _bool(_one(fields, "stream"), "stream")
    model = _one(fields, "model")
    prompt = _one(fields, "prompt")
    config = RecognitionConfig(
        language_code=_one(fields, "language"),
        model="" if model in OPENAI_ASR_MODELS else model,
        phrase_hints=(prompt,) if prompt else (),
        enable_word_time_offsets="word" in grains,
    )
    request = FileRecognitionRequest(audio=audio, config=config, is_file=True,
                                     task="translate" if translate else "transcribe", temperature=temperature)
    return request, TranscriptionOptions(fmt, tuple(dict.fromkeys(grains)), stream, translate)


def _text(results) -> str:
    return " ".join(r.transcript.strip() for r in results if r.transcript.strip())


def _segment(i: int, r: RecognitionResult, temperature: float) -> dict:
    return {"id": i, "seek": 0, "start": round(r.start, 3), "end": round(r.end, 3), "text": r.transcript,
            "tokens": [], "temperature": temperature,
            "avg_logprob": round(math.log(r.confidence), 4) if r.confidence > 0 else -10.0,
            "compression_ratio": 0.0, "no_speech_prob": 0.0}


def transcription_body(result: FileRecognitionResult, options: TranscriptionOptions,
                       temperature: float | None = None) -> tuple[str, str]:
    """(body, content type) of a finished transcription in ``options.response_format``."""
    results = result.results
    text = _text(results)
    fmt = options.response_format
    if fmt == "text":
        return text + "\n", "text/plain"
    if fmt in ("srt", "vtt"):
        return subtitles(results, vtt=fmt == "vtt"), "text/vtt" if fmt == "vtt" else "application/x-subrip"
    body: dict = {"text": text}
    if fmt == "verbose_json":
        languages = [r.language for r in results if r.language]
        language = "en" if options.translate else (max(set(languages), key=languages.count) if languages else "")
        body = {"task": "translate" if options.translate else "transcribe", "language": language_name(language),
                "duration": round(result.duration_s, 3), "text": text}
        if not options.granularities or "segment" in options.granularities:
            body["segments"] = [_segment(i, r, temperature or 0.0) for i, r in enumerate(results)]
        if "word" in options.granularities:
            body["words"] = [{"word": w.word, "start": w.start, "end": w.end} for r in results for w in r.words]
        body["usage"] = {"type": "duration", "seconds": math.ceil(result.duration_s)}
    return json.dumps(body, ensure_ascii=False), "application/json"


def _stamp(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def subtitles(results, *, vtt: bool) -> str:
    """SubRip or WebVTT cues, one per utterance."""
    cues = []
    for i, r in enumerate(results, 1):
        sep = "." if vtt else ","
        timing = f"{_stamp(r.start, sep)} --> {_stamp(r.end, sep)}"
        cues.append(f"{timing}\n{r.transcript.strip()}\n" if vtt else f"{i}\n{timing}\n{r.transcript.strip()}\n")
    return ("WEBVTT\n\n" if vtt else "") + "\n".join(cues)


def sse(event: dict) -> bytes:
    """One server-sent event (``data:`` only, as OpenAI sends them)."""
    return b"data: " + json.dumps(event, ensure_ascii=False).encode() + b"\n\n"


def text_delta(result: RecognitionResult, first: bool) -> dict:
    text = result.transcript.strip()
    return {"type": "transcript.text.delta", "delta": text if first else " " + text}


def text_done(text: str) -> dict:
    return {"type": "transcript.text.done", "text": text}


# -- speech -------------------------------------------------------------------------------------

SPEECH_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
STREAM_FORMATS = ("audio", "sse")


@dataclass(frozen=True)
class SpeechOptions:
    response_format: str = "mp3"
    stream_format: str = "audio"


def speech_request(body: object) -> tuple[SynthesisRequest, SpeechOptions]:
    """The JSON body of ``/v1/audio/speech`` as a request; raises :class:`InvalidArgument`
    naming OpenAI's parameter."""
    if not isinstance(body, dict):
        raise InvalidArgument("", "the body must be a JSON object")
    text = body.get("input")
    if not isinstance(text, str):
        raise InvalidArgument("input", "missing or not a string")
    voice = body.get("voice", "")
    if isinstance(voice, dict):
        voice = voice.get("id", "")
    if not isinstance(voice, str):
        raise InvalidArgument("voice", "must be a voice name (see GET /v1/audio/voices)")
    fmt = body.get("response_format") or "mp3"
    if fmt not in SPEECH_FORMATS:
        raise InvalidArgument("response_format", f"unsupported {fmt!r} (use {', '.join(SPEECH_FORMATS)})")
    stream_format = body.get("stream_format") or "audio"
    if stream_format not in STREAM_FORMATS:
        raise InvalidArgument("stream_format", f"unsupported {stream_format!r} (audio or sse)")
    speed = body.get("speed", 1.0)
    if speed is None:
        speed = 1.0
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not math.isfinite(speed):
        raise InvalidArgument("speed", f"must be a number between 0.25 and 4.0, got {speed!r}")
    language = body.get("language") or ""  # ours: the voice for a language when no voice is named
    if not isinstance(language, str):
        raise InvalidArgument("language", "must be a language code such as 'en' or 'fr-FR'")
    request = SynthesisRequest(text=text, voice="" if voice.lower() in OPENAI_VOICES else voice,
                               language_code=language, encoding="LINEAR16", sample_rate_hertz=OUTPUT_RATE,
                               speaking_rate=float(speed))
    return request, SpeechOptions(fmt, stream_format)


def audio_delta(data: bytes) -> dict:
    import base64

    return {"type": "speech.audio.delta", "audio": base64.b64encode(data).decode("ascii")}


def audio_done(characters: int) -> dict:
    return {"type": "speech.audio.done",
            "usage": {"input_tokens": characters, "output_tokens": 0, "total_tokens": characters}}


# -- audio encoders --------------------------------------------------------------------------------

def speech_formats() -> tuple[str, ...]:
    """The ``response_format`` values this server can write."""
    return container_formats()


def encoder(fmt: str, rate: int = OUTPUT_RATE):
    """The encoder for ``response_format`` (checked by :func:`speech_request`); raises
    :class:`InvalidArgument` for a format this server's libsndfile cannot write."""
    return container_encoder(fmt, rate, field="response_format")


# -- listings -----------------------------------------------------------------------------------

def models_body(models: list[tuple[str, bool]]) -> dict:
    return {"object": "list", "data": [model_entry(name) for name in model_ids(models)]}


def model_ids(models: list[tuple[str, bool]]) -> list[str]:
    """The recognition models by name, the alias OpenAI clients use for the default, and the
    speech model."""
    return [*(name for name, _ in models), ASR_ALIAS, SPEECH_MODEL]


def model_entry(name: str) -> dict:
    return {"id": name, "object": "model", "created": 0, "owned_by": "voice"}


def voices_body(voices: list[tuple[VoiceInfo, bool]]) -> dict:
    """``{"voices": [...]}``, the shape OpenAI-compatible speech servers answer (Open WebUI reads it)."""
    return {"voices": [{"id": v.name, "name": v.name, "language": v.language, "sample_rate": v.sample_rate,
                        "engine": v.engine, "quality": v.quality, "default": default} for v, default in voices]}


# Whisper's languages by name (OpenAI's verbose_json says "english", not "en")
_NAMES = dict(pair.split(":") for pair in (
    "en:english zh:chinese de:german es:spanish ru:russian ko:korean fr:french ja:japanese pt:portuguese "
    "tr:turkish pl:polish ca:catalan nl:dutch ar:arabic sv:swedish it:italian id:indonesian hi:hindi "
    "fi:finnish vi:vietnamese he:hebrew uk:ukrainian el:greek ms:malay cs:czech ro:romanian da:danish "
    "hu:hungarian ta:tamil no:norwegian th:thai ur:urdu hr:croatian bg:bulgarian lt:lithuanian la:latin "
    "mi:maori ml:malayalam cy:welsh sk:slovak te:telugu fa:persian lv:latvian bn:bengali sr:serbian "
    "az:azerbaijani sl:slovenian kn:kannada et:estonian mk:macedonian br:breton eu:basque is:icelandic "
    "hy:armenian ne:nepali mn:mongolian bs:bosnian kk:kazakh sq:albanian sw:swahili gl:galician mr:marathi "
    "pa:punjabi si:sinhala km:khmer sn:shona yo:yoruba so:somali af:afrikaans oc:occitan ka:georgian "
    "be:belarusian tg:tajik sd:sindhi gu:gujarati am:amharic yi:yiddish lo:lao uz:uzbek fo:faroese "
    "ht:haitian_creole ps:pashto tk:turkmen nn:nynorsk mt:maltese sa:sanskrit lb:luxembourgish my:myanmar "
    "bo:tibetan tl:tagalog mg:malagasy as:assamese tt:tatar haw:hawaiian ln:lingala ha:hausa ba:bashkir "
    "jw:javanese su:sundanese yue:cantonese").split())


def language_name(code: str) -> str:
    """Whisper's name of a language code ("en" -> "english"); the code itself when unknown."""
    base = base_language(code)
    return _NAMES.get(base, base).replace("_", " ")
