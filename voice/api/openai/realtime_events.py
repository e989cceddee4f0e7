"""The OpenAI Realtime protocol's wire shapes, both of them: mapping only, no I/O.

OpenAI renamed much of the Realtime API at GA (and retired the beta header on 2026-05-07), so
clients of both shapes exist. A connection answers in the shape its client speaks:

* **beta** (header ``OpenAI-Beta: realtime=v1``, or the browser subprotocol
  ``openai-beta.realtime-v1``, or a flat ``session.update``): formats ``pcm16`` /
  ``g711_ulaw`` / ``g711_alaw``, ``input_audio_transcription``, ``turn_detection`` at the
  session's top level, ``transcription_session.update``, ``conversation.item.created``,
  ``response.audio.delta``, ``response.audio_transcript.delta``, content parts ``audio``;
* **GA** (the default): ``session.type`` ``realtime`` / ``transcription``,
  ``audio.input.format`` ``{"type": "audio/pcm", "rate": 24000}`` / ``audio/pcmu`` /
  ``audio/pcma``, ``audio.input.transcription``, ``audio.input.turn_detection``,
  ``audio.output.voice``, ``conversation.item.added`` (+ ``.done``),
  ``response.output_audio.delta``, ``response.output_audio_transcript.delta``, parts
  ``output_audio``.

:class:`Session` is the shape-free session; :func:`update_session` reads either shape into it
(errors name the parameter as the client wrote it) and :func:`session_object` writes it back;
:func:`conversation_config` / :func:`streaming_config` turn it into the service's requests and
:func:`param_for` names a service error's field in the client's shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from ...service.types import (
    BargeInConfig,
    ConversationConfig,
    EndpointingRequest,
    Pacing,
    RecognitionConfig,
    ReplySource,
    StreamingConfig,
)

BETA, GA = "beta", "ga"
REALTIME, TRANSCRIPTION = "realtime", "transcription"

# beta format name -> (service encoding, sample rate)
FORMATS = {"pcm16": ("LINEAR16", 24000), "g711_ulaw": ("MULAW", 8000), "g711_alaw": ("ALAW", 8000)}
GA_FORMATS = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}
BETA_TO_GA_FORMAT = {v: k for k, v in GA_FORMATS.items()}

# OpenAI's own voice and model names: this server has none of them; its default voice for the
# session's language (and its default Whisper) stands in
OPENAI_VOICES = frozenset({"alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer",
                           "verse", "marin", "cedar"})
OPENAI_MODEL_PREFIXES = ("whisper-1", "gpt-")

# server events renamed at GA (beta name -> GA name)
GA_NAMES = {
    "conversation.item.created": "conversation.item.added",
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "transcription_session.updated": "session.updated",
}
GA_PART_TYPES = {"audio": "output_audio", "text": "output_text"}

MIN_SILENCE_MS, MAX_SILENCE_MS = 100, 5000  # the service's trailing-silence range
MAX_PADDING_MS = 1000
MIN_IDLE_MS, MAX_IDLE_MS = 5000, 30000  # OpenAI's range for idle_timeout_ms
MANUAL_SILENCE_MS = MAX_SILENCE_MS  # no turn detection: only a commit (or a long pause) ends a turn


class RealtimeError(Exception):
    """A client event the server cannot take: an ``error`` event naming ``param``."""

    def __init__(self, message: str, param: str | None = None, code: str = "invalid_value",
                 type: str = "invalid_request_error"):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.type = type


@dataclass(frozen=True)
class TurnDetection:
    type: str = "server_vad"  # server_vad | semantic_vad
    threshold: float | None = None  # None: the server's VAD aggressiveness
    prefix_padding_ms: int = 300
    silence_duration_ms: int | None = None  # None: the server's trailing silence
    create_response: bool = False  # no language model here: the client asks for each response
    interrupt_response: bool = True
    eagerness: str = "auto"
    idle_timeout_ms: int | None = None  # no speech for this long: input_audio_buffer.timeout_triggered


@dataclass(frozen=True)
class Session:
    id: str
    kind: str = REALTIME  # realtime | transcription
    model: str = ""
    input_format: str = "pcm16"  # beta names (FORMATS)
    output_format: str = "pcm16"
    voice: str = ""  # "" or an OpenAI voice: the server's default for the language
    transcription: bool = True  # beta: input_audio_transcription is not null
    transcription_model: str = "whisper-1"
    language: str = ""
    languages: tuple[str, ...] = ()
    prompt: str = ""
    keywords: tuple[str, ...] = ()
    turn: TurnDetection | None = field(default_factory=TurnDetection)
    instructions: str = ""
    modalities: tuple[str, ...] = ("audio",)
    speed: float = 1.0

    @property
    def input_rate(self) -> int:
        return FORMATS[self.input_format][1]

    @property
    def input_bytes_per_second(self) -> int:
        encoding, rate = FORMATS[self.input_format]
        return rate * (2 if encoding == "LINEAR16" else 1)


def event_name(shape: str, beta_name: str) -> str:
    return GA_NAMES.get(beta_name, beta_name) if shape == GA else beta_name


def part_type(shape: str, beta_type: str) -> str:
    return GA_PART_TYPES.get(beta_type, beta_type) if shape == GA else beta_type


def looks_ga(session: dict) -> bool | None:
    """Which shape a session object is in (None: it does not say)."""
    if "type" in session or "audio" in session or "output_modalities" in session:
        return True
    beta_keys = ("input_audio_format", "output_audio_format", "input_audio_transcription", "turn_detection",
                 "modalities", "voice", "input_audio_noise_reduction")
    if any(k in session for k in beta_keys):
        return False
    return None


# -- reading session updates ------------------------------------------------------------------

def _obj(value, param: str) -> dict:
    if not isinstance(value, dict):
        raise RealtimeError(f"Invalid type for '{param}': expected an object, but got {_kind(value)}.", param,
                            "invalid_type")
    return value


def _str(value, param: str) -> str:
    if not isinstance(value, str):
        raise RealtimeError(f"Invalid type for '{param}': expected a string, but got {_kind(value)}.", param,
                            "invalid_type")
    return value


def _int(value, param: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value != int(value):
        raise RealtimeError(f"Invalid type for '{param}': expected an integer, but got {_kind(value)}.", param,
                            "invalid_type")
    if not lo <= value <= hi:
        raise RealtimeError(f"Invalid '{param}': {value} is out of range; it must be between {lo} and {hi}.", param)
    return int(value)


def _num(value, param: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RealtimeError(f"Invalid type for '{param}': expected a number, but got {_kind(value)}.", param,
                            "invalid_type")
    if not lo <= value <= hi:
        raise RealtimeError(f"Invalid '{param}': {value} is out of range; it must be between {lo:g} and {hi:g}.",
                            param)
    return float(value)


def _bool(value, param: str) -> bool:
    if not isinstance(value, bool):
        raise RealtimeError(f"Invalid type for '{param}': expected a boolean, but got {_kind(value)}.", param,
                            "invalid_type")
    return value


def _strings(value, param: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise RealtimeError(f"Invalid type for '{param}': expected an array of strings, but got {_kind(value)}.",
                            param, "invalid_type")
    return tuple(_str(v, f"{param}[{i}]") for i, v in enumerate(value))


def _kind(value) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null",
            int: "an integer", float: "a number"}.get(type(value), type(value).__name__)


def _beta_format(value, param: str) -> str:
    name = _str(value, param)
    if name not in FORMATS:
        raise RealtimeError(f"Invalid value: '{name[:40]}'. Supported values are: 'pcm16', 'g711_ulaw', and "
                            "'g711_alaw'.", param)
    return name


def _ga_format(value, param: str) -> str:
    fmt = _obj(value, param)
    kind = _str(fmt.get("type"), f"{param}.type")
    if kind not in GA_FORMATS:
        raise RealtimeError(f"Invalid value: '{kind[:40]}'. Supported values are: 'audio/pcm', 'audio/pcmu', and "
                            "'audio/pcma'.", f"{param}.type")
    if kind == "audio/pcm" and "rate" in fmt and fmt["rate"] != 24000:
        raise RealtimeError(f"Invalid value: {fmt['rate']!r}. Supported values are: 24000.", f"{param}.rate")
    return GA_FORMATS[kind]


def _voice(value, param: str) -> str:
    if isinstance(value, dict):  # GA: {"id": "voice_..."} (custom voices)
        value = value.get("id")
        param = f"{param}.id"
    name = _str(value, param).strip()
    return "" if name.lower() in OPENAI_VOICES else name


def _transcription(value, param: str, session: Session) -> Session:
    if value is None:
        return replace(session, transcription=False)
    t = _obj(value, param)
    out = replace(session, transcription=True)
    if "model" in t:
        out = replace(out, transcription_model=_str(t["model"], f"{param}.model"))
    if "language" in t:
        out = replace(out, language=_str(t["language"], f"{param}.language").strip())
    if "languages" in t:
        out = replace(out, languages=tuple(s.strip() for s in _strings(t["languages"], f"{param}.languages")))
    if "prompt" in t:
        out = replace(out, prompt=_str(t["prompt"], f"{param}.prompt"))
    if "keywords" in t:
        out = replace(out, keywords=_strings(t["keywords"], f"{param}.keywords"))
    return out


def _turn(value, param: str, current: TurnDetection | None) -> TurnDetection | None:
    if value is None:
        return None
    t = _obj(value, param)
    kind = _str(t.get("type", "server_vad"), f"{param}.type")
    if kind not in ("server_vad", "semantic_vad"):
        raise RealtimeError(f"Invalid value: '{kind[:40]}'. Supported values are: 'server_vad' and 'semantic_vad'.",
                            f"{param}.type")
    out = replace(current or TurnDetection(), type=kind)
    if t.get("threshold") is not None:
        out = replace(out, threshold=_num(t["threshold"], f"{param}.threshold", 0.0, 1.0))
    if t.get("prefix_padding_ms") is not None:
        out = replace(out, prefix_padding_ms=_int(t["prefix_padding_ms"], f"{param}.prefix_padding_ms", 0,
                                                  MAX_PADDING_MS))
    if t.get("silence_duration_ms") is not None:
        out = replace(out, silence_duration_ms=_int(t["silence_duration_ms"], f"{param}.silence_duration_ms",
                                                    MIN_SILENCE_MS, MAX_SILENCE_MS))
    if t.get("interrupt_response") is not None:
        out = replace(out, interrupt_response=_bool(t["interrupt_response"], f"{param}.interrupt_response"))
    if "idle_timeout_ms" in t:
        value = t["idle_timeout_ms"]
        out = replace(out, idle_timeout_ms=None if value is None else _int(value, f"{param}.idle_timeout_ms",
                                                                            MIN_IDLE_MS, MAX_IDLE_MS))
    if t.get("create_response") is not None:
        out = replace(out, create_response=_bool(t["create_response"], f"{param}.create_response"))
    if t.get("eagerness") is not None:
        eagerness = _str(t["eagerness"], f"{param}.eagerness")
        if eagerness not in ("low", "medium", "high", "auto"):
            raise RealtimeError(f"Invalid value: '{eagerness[:40]}'. Supported values are: 'low', 'medium', "
                                "'high', and 'auto'.", f"{param}.eagerness")
        out = replace(out, eagerness=eagerness)
    return out


def parse_modalities(value, param: str) -> tuple[str, ...]:
    names = _strings(value, param)
    for i, name in enumerate(names):
        if name not in ("text", "audio"):
            raise RealtimeError(f"Invalid value: '{name[:40]}'. Supported values are: 'text' and 'audio'.",
                                f"{param}[{i}]")
    if not names:
        raise RealtimeError(f"Invalid '{param}': must not be empty.", param)
    return tuple(dict.fromkeys(names))


def update_session(session: Session, payload, shape: str, transcription_event: bool = False) -> Session:
    """``session`` with the changes of a ``session.update`` (or beta
    ``transcription_session.update``) payload; raises :class:`RealtimeError` naming the param."""
    s = _obj(payload, "session")
    out = session
    if transcription_event:
        out = replace(out, kind=TRANSCRIPTION)
    if shape == GA:
        if "type" in s:
            kind = _str(s["type"], "session.type")
            if kind not in (REALTIME, TRANSCRIPTION):
                raise RealtimeError(f"Invalid value: '{kind[:40]}'. Supported values are: 'realtime' and "
                                    "'transcription'.", "session.type")
            out = replace(out, kind=kind)
        if "model" in s and s["model"] is not None:
            out = replace(out, model=_str(s["model"], "session.model"))
        if "instructions" in s:
            out = replace(out, instructions=_str(s["instructions"], "session.instructions"))
        if "output_modalities" in s:
            out = replace(out, modalities=parse_modalities(s["output_modalities"], "session.output_modalities"))
        audio = _obj(s.get("audio", {}), "session.audio")
        audio_in = _obj(audio.get("input", {}), "session.audio.input")
        if "format" in audio_in:
            out = replace(out, input_format=_ga_format(audio_in["format"], "session.audio.input.format"))
        if "transcription" in audio_in:
            out = _transcription(audio_in["transcription"], "session.audio.input.transcription", out)
        if "turn_detection" in audio_in:
            out = replace(out, turn=_turn(audio_in["turn_detection"], "session.audio.input.turn_detection", out.turn))
        audio_out = _obj(audio.get("output", {}), "session.audio.output")
        if "format" in audio_out:
            out = replace(out, output_format=_ga_format(audio_out["format"], "session.audio.output.format"))
        if audio_out.get("voice") is not None:
            out = replace(out, voice=_voice(audio_out["voice"], "session.audio.output.voice"))
        if audio_out.get("speed") is not None:
            out = replace(out, speed=_num(audio_out["speed"], "session.audio.output.speed", 0.25, 1.5))
        return out
    if "model" in s and s["model"] is not None:
        out = replace(out, model=_str(s["model"], "session.model"))
    if "instructions" in s:
        out = replace(out, instructions=_str(s["instructions"], "session.instructions"))
    if "modalities" in s:
        out = replace(out, modalities=parse_modalities(s["modalities"], "session.modalities"))
    if "input_audio_format" in s:
        out = replace(out, input_format=_beta_format(s["input_audio_format"], "session.input_audio_format"))
    if "output_audio_format" in s:
        out = replace(out, output_format=_beta_format(s["output_audio_format"], "session.output_audio_format"))
    if "input_audio_transcription" in s:
        out = _transcription(s["input_audio_transcription"], "session.input_audio_transcription", out)
    if "turn_detection" in s:
        out = replace(out, turn=_turn(s["turn_detection"], "session.turn_detection", out.turn))
    if s.get("voice") is not None:
        out = replace(out, voice=_voice(s["voice"], "session.voice"))
    if s.get("speed") is not None:
        out = replace(out, speed=_num(s["speed"], "session.speed", 0.25, 1.5))
    return out


# -- the service's requests -------------------------------------------------------------------

def _model(session: Session) -> str:
    name = session.transcription_model
    return "" if not name or name.startswith(OPENAI_MODEL_PREFIXES) else name


def _hints(session: Session) -> tuple[str, ...]:
    return tuple(h for h in (session.prompt.strip(), *session.keywords) if h)


def _endpointing(session: Session) -> EndpointingRequest:
    turn = session.turn
    if turn is None:
        return EndpointingRequest(trailing_silence_ms=MANUAL_SILENCE_MS)
    aggressiveness = None if turn.threshold is None else min(3, int(turn.threshold * 4))
    return EndpointingRequest(vad_aggressiveness=aggressiveness, trailing_silence_ms=turn.silence_duration_ms,
                              speech_timeout_ms=turn.idle_timeout_ms, pre_roll_ms=turn.prefix_padding_ms)


def _languages(session: Session) -> tuple[str, tuple[str, ...]]:
    """The declared language and the detection candidates (OpenAI's ``languages``)."""
    language = session.language
    candidates = tuple(code for code in session.languages if code and code != language)
    return language, candidates


def conversation_config(session: Session, call_id: str) -> ConversationConfig:
    in_encoding, in_rate = FORMATS[session.input_format]
    out_encoding, out_rate = FORMATS[session.output_format]
    language, candidates = _languages(session)
    turn = session.turn
    turns = "silence" if turn is None or turn.type == "server_vad" else ""
    return ConversationConfig(
        input_encoding=in_encoding, input_sample_rate_hertz=in_rate,
        output_encoding=out_encoding, output_sample_rate_hertz=out_rate,
        voice=session.voice, language_code=language, alternative_language_codes=candidates,
        endpointing=_endpointing(session), enable_intent=False, interim_results=session.transcription,
        phrase_hints=_hints(session), model=_model(session),
        barge_in=BargeInConfig(enabled=turn is not None and turn.interrupt_response),
        reply_source=ReplySource.CLIENT.value, greeting=False, call_id=call_id, pacing=Pacing.BUFFERED,
        turn_detection=turns,
    )


def streaming_config(session: Session) -> StreamingConfig:
    encoding, rate = FORMATS[session.input_format]
    language, candidates = _languages(session)
    return StreamingConfig(RecognitionConfig(
        encoding=encoding, sample_rate_hertz=rate, language_code=language, alternative_language_codes=candidates,
        endpointing=_endpointing(session), model=_model(session), phrase_hints=_hints(session),
    ), interim_results=True)


def param_for(field_name: str, shape: str) -> str:
    """A service error's field (``config.language_code``, ...) as the session param it came from."""
    name = field_name.removeprefix("streaming_config.")
    if shape == GA:
        transcription, turn = "session.audio.input.transcription", "session.audio.input.turn_detection"
        formats = ("session.audio.input.format", "session.audio.output.format")
        voice = "session.audio.output.voice"
    else:
        transcription, turn = "session.input_audio_transcription", "session.turn_detection"
        formats = ("session.input_audio_format", "session.output_audio_format")
        voice = "session.voice"
    names = {
        "config.input_encoding": formats[0], "config.input_sample_rate_hertz": formats[0],
        "config.encoding": formats[0], "config.sample_rate_hertz": formats[0],
        "config.output_encoding": formats[1], "config.output_sample_rate_hertz": formats[1],
        "config.output_chunk_ms": formats[1],
        "config.voice": voice,
        "config.language_code": f"{transcription}.language",
        "config.model": f"{transcription}.model",
        "config.phrase_hints": f"{transcription}.prompt",
        "config.endpointing.trailing_silence_ms": f"{turn}.silence_duration_ms",
        "config.endpointing.vad_aggressiveness": f"{turn}.threshold",
        "config.endpointing.speech_timeout_ms": f"{turn}.idle_timeout_ms",
        "config.turn_detection": f"{turn}.type",
        "config.barge_in.min_speech_ms": f"{turn}.interrupt_response",
    }
    if name in names:
        return names[name]
    if name.startswith("config.alternative_language_codes"):
        return f"{transcription}.languages" + name.removeprefix("config.alternative_language_codes")
    if name.startswith("config.endpointing"):
        return turn
    return name or "session"


# -- writing sessions back ----------------------------------------------------------------------

def _format_object(name: str, shape: str):
    if shape != GA:
        return name
    out = {"type": BETA_TO_GA_FORMAT[name]}
    if name == "pcm16":
        out["rate"] = 24000
    return out


def _turn_object(turn: TurnDetection | None, default_silence_ms: int) -> dict | None:
    if turn is None:
        return None
    if turn.type == "semantic_vad":
        return {"type": "semantic_vad", "eagerness": turn.eagerness, "create_response": turn.create_response,
                "interrupt_response": turn.interrupt_response}
    return {"type": "server_vad", "threshold": 0.5 if turn.threshold is None else turn.threshold,
            "prefix_padding_ms": turn.prefix_padding_ms,
            "silence_duration_ms": turn.silence_duration_ms or default_silence_ms,
            "create_response": turn.create_response, "interrupt_response": turn.interrupt_response,
            "idle_timeout_ms": turn.idle_timeout_ms}


def _transcription_object(session: Session, shape: str) -> dict | None:
    if not session.transcription:
        return None
    out = {"model": session.transcription_model, "language": session.language or None,
           "prompt": session.prompt}
    if shape == GA:
        out["languages"] = list(session.languages) or None
        out["keywords"] = list(session.keywords) or None
    return out


def session_object(session: Session, shape: str, default_silence_ms: int, default_voice: str) -> dict:
    """The session as the client's shape writes it (``session.created`` / ``.updated``)."""
    turn = _turn_object(session.turn, default_silence_ms)
    voice = session.voice or default_voice
    if shape == GA:
        audio_in = {"format": _format_object(session.input_format, GA), "noise_reduction": None,
                    "transcription": _transcription_object(session, GA), "turn_detection": turn}
        if session.kind == TRANSCRIPTION:
            return {"id": session.id, "object": "realtime.transcription_session", "type": TRANSCRIPTION,
                    "audio": {"input": audio_in}, "include": None}
        return {"id": session.id, "object": "realtime.session", "type": REALTIME, "model": session.model or None,
                "output_modalities": list(session.modalities), "instructions": session.instructions,
                "audio": {"input": audio_in, "output": {"format": _format_object(session.output_format, GA),
                                                        "voice": voice, "speed": session.speed}},
                "tools": [], "tool_choice": "auto", "max_output_tokens": "inf", "tracing": None, "include": None}
    if session.kind == TRANSCRIPTION:
        return {"id": session.id, "object": "realtime.transcription_session",
                "input_audio_format": session.input_format,
                "input_audio_transcription": _transcription_object(session, BETA), "turn_detection": turn,
                "input_audio_noise_reduction": None, "modalities": ["text"], "include": None}
    return {"id": session.id, "object": "realtime.session", "model": session.model or None,
            "modalities": ["text", "audio"] if "audio" in session.modalities else ["text"],
            "instructions": session.instructions, "voice": voice,
            "input_audio_format": session.input_format, "output_audio_format": session.output_format,
            "input_audio_transcription": _transcription_object(session, BETA), "turn_detection": turn,
            "input_audio_noise_reduction": None, "speed": session.speed, "tools": [], "tool_choice": "auto",
            "temperature": 0.8, "max_response_output_tokens": "inf", "tracing": None}


# -- items ----------------------------------------------------------------------------------------

def message_text(item: dict, param: str) -> tuple[str, str]:
    """(role, text) of a message item the client sends; text from its text / transcript parts."""
    item = _obj(item, param)
    kind = item.get("type", "message")
    if kind != "message":
        raise RealtimeError(f"Invalid value: '{str(kind)[:40]}'. This server takes only 'message' items (it runs "
                            "no model, so no function calls).", f"{param}.type")
    role = _str(item.get("role"), f"{param}.role")
    if role not in ("user", "assistant", "system"):
        raise RealtimeError(f"Invalid value: '{role[:40]}'. Supported values are: 'user', 'assistant', and "
                            "'system'.", f"{param}.role")
    content = item.get("content", [])
    if not isinstance(content, list):
        raise RealtimeError(f"Invalid type for '{param}.content': expected an array.", f"{param}.content",
                            "invalid_type")
    texts = []
    for i, part in enumerate(content):
        part = _obj(part, f"{param}.content[{i}]")
        for key in ("text", "transcript"):
            if isinstance(part.get(key), str) and part[key].strip():
                texts.append(part[key].strip())
                break
    return role, " ".join(texts)


def reply_text(response: dict, shape: str) -> str:
    """The text a ``response.create`` asks to be spoken: an assistant message in ``input``, else
    ``instructions`` (this server runs no model: the client supplies the words)."""
    if "input" in response and response["input"] is not None:
        items = response["input"]
        if not isinstance(items, list):
            raise RealtimeError("Invalid type for 'response.input': expected an array.", "response.input",
                                "invalid_type")
        texts = []
        for i, item in enumerate(items):
            if isinstance(item, dict) and item.get("type") == "item_reference":
                continue
            role, text = message_text(item, f"response.input[{i}]")
            if role == "assistant" and text:
                texts.append(text)
        if texts:
            return " ".join(texts)
    instructions = response.get("instructions")
    if instructions is not None:
        return _str(instructions, "response.instructions").strip()
    return ""
