"""``voice``: run the server, or transcribe / speak locally without one.

    voice serve [--host H] [--port P] [--config FILE]
    voice transcribe FILE... [--language xx] [--model NAME] [--json]
    voice say TEXT [--voice NAME] [--language xx] -o out.wav
    voice understand TEXT --language xx [--intents FILE] [--json]
    voice voices list [--language xx] [--json]
    voice voices add PATH [--language xx] [--name NAME] [--replace]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from dataclasses import replace

from .config import ConfigError, load_config
from .core.errors import ServiceError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="voice", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="TOML config file")
    p.add_argument("--log-level", default="INFO")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the gRPC server")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--config", dest="sub_config", help="TOML config file")
    s.add_argument("--audiosocket", metavar="HOST:PORT", help="also serve Asterisk AudioSocket calls here")
    s.add_argument("--http-port", type=int, help="also serve HTTP/WebSocket doors (Twilio media streams, OpenAI API) here")
    s.add_argument("--reply-webhook", metavar="URL", help="POST each caller turn here; its body is the reply")
    s.add_argument("--wyoming", metavar="HOST:PORT",
                   help="also serve the Wyoming protocol (Home Assistant: STT, TTS, intents) here")
    s.add_argument("--zeroconf", action="store_true", default=None,
                   help="advertise the Wyoming door over zeroconf/mDNS (Home Assistant discovers it)")
    s.add_argument("--intents", dest="serve_intents", metavar="FILE|NAME",
                   help="intents file, or a built-in domain: call-centre (default), home-assistant")
    s.add_argument("--metrics-port", type=int, help="serve Prometheus metrics (GET /metrics) on this port")
    s.add_argument("--tls-cert", metavar="PEM", help="TLS certificate (chain) for every listener")
    s.add_argument("--tls-key", metavar="PEM", help="its private key")
    s.add_argument("--tls-client-ca", metavar="PEM", help="require client certificates signed by this CA (mTLS)")
    s.add_argument("--api-keys", metavar="FILE", help="API keys file (hashed keys and their limits; voice keys add)")
    s.add_argument("--log-format", choices=("text", "json"), help="log lines as text or JSON objects")
    s.add_argument("--tracing", action="store_true", default=None, help="OpenTelemetry spans (the tracing extra)")

    k = sub.add_parser("keys", help="make API keys for --api-keys files")
    ksub = k.add_subparsers(dest="keys_command", required=True)
    ka = ksub.add_parser("add", help="make a key, append it (hashed) to FILE, print the key once")
    ka.add_argument("file", metavar="FILE")
    ka.add_argument("--name", required=True, help="shown in logs and metrics instead of the key")
    ka.add_argument("--services", default="*", help="comma-separated: asr,tts,intents,conversation (default: all)")
    ka.add_argument("--max-streams", type=int, default=0, help="concurrent streams (0: no limit)")
    ka.add_argument("--requests-per-minute", type=int, default=0, help="(0: no limit)")
    ka.add_argument("--audio-minutes-per-day", type=float, default=0, help="(0: no limit)")
    kh = ksub.add_parser("hash", help="print the sha256 line for a key (read from stdin when not given)")
    kh.add_argument("key", nargs="?")

    t = sub.add_parser("transcribe", help="transcribe audio files locally (no server)")
    t.add_argument("files", nargs="+", metavar="FILE")
    t.add_argument("--language", default="", help="language code (default: detect)")
    t.add_argument("--model", default="", help="ASR model name or CTranslate2 directory")
    t.add_argument("--words", action="store_true", help="include word timings")
    t.add_argument("--json", action="store_true", help="one JSON object per utterance")

    y = sub.add_parser("say", help="synthesize speech locally into a WAV file")
    y.add_argument("text")
    y.add_argument("--voice", default="")
    y.add_argument("--language", default="")
    y.add_argument("--rate", type=float, default=1.0, help="speaking rate multiplier")
    y.add_argument("--ssml", action="store_true", help="TEXT is SSML")
    y.add_argument("-o", "--output", required=True, help="output .wav")

    v = sub.add_parser("voices", help="list the voice catalogue, or install a Piper voice or Kokoro pack")
    vsub = v.add_subparsers(dest="voices_command", required=True)
    vl = vsub.add_parser("list", help="every voice: engine, label, measured round-trip WER")
    vl.add_argument("--language", default="", help="only voices of this language")
    vl.add_argument("--json", action="store_true")
    va = vsub.add_parser("add", help="validate and install a Piper .onnx (+ .onnx.json) or a Kokoro pack "
                                     "(.npz, .npy, .pt, .bin) into tts.voices_dir")
    va.add_argument("path")
    va.add_argument("--language", default="", help="a Kokoro pack's own language, when its name does not say it")
    va.add_argument("--name", default="", help="install a single Kokoro pack under this name")
    va.add_argument("--replace", action="store_true", help="overwrite an installed voice of the same file name")

    u = sub.add_parser("understand", help="intent and slots of TEXT, locally (no server)")
    u.add_argument("text")
    u.add_argument("--language", required=True, help="language code, e.g. en")
    u.add_argument("--intents", default="", help="intents file (YAML/JSON), or a built-in domain: call-centre "
                   "(default), home-assistant")
    u.add_argument("--previous-intent", default="", help="context: the conversation's previous intent")
    u.add_argument("--json", action="store_true")
    return p


def _local_service(config, *, intents: bool = False):
    """The service over an engine whose models load on first use (no server, no warm-up)."""
    from .runtime.engine import SpeechEngine
    from .service import VoiceService

    engine = SpeechEngine(config)
    if intents:
        engine.load_intents()
    engine.ready.set()  # models load lazily on first use; nothing to wait for here
    return VoiceService(engine)


def cmd_understand(args, config) -> int:
    from .engines.intent import IntentFileError
    from .service.types import UnderstandRequest

    if args.intents:
        config = config.replace("intent", file=args.intents, enabled=True)
    try:
        service = _local_service(config, intents=True)
        result = asyncio.run(service.understanding.understand(
            UnderstandRequest(args.text, args.language, args.previous_intent)))
    except (IntentFileError, ServiceError, ValueError, OSError) as exc:
        print(f"voice understand: {exc}", file=sys.stderr)
        return 2
    service.engine.close()
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        slots = ", ".join(f"{s.name}={s.value}" for s in result.slots)
        print(f"{result.intent} ({result.confidence:.2f}){' ' + slots if slots else ''}")
    return 0


def _file_request(path: str, language: str, model: str, words: bool):
    """A file as a recognition request: its bytes, or LINEAR16 at 16 kHz when its rate is
    outside what the service accepts (resampled here)."""
    import kernels

    from .core.audio import MAX_RATE, MIN_RATE, SAMPLE_RATE, read_audio_bytes, resample
    from .service.types import FileRecognitionRequest, RecognitionConfig

    with open(path, "rb") as fh:
        data = fh.read()
    config = RecognitionConfig(language_code=language, model=model, enable_word_time_offsets=words)
    decoded = read_audio_bytes(data, field=path)
    if MIN_RATE <= decoded.sample_rate <= MAX_RATE:
        return FileRecognitionRequest(data, config)
    audio = resample(decoded.audio, decoded.sample_rate, SAMPLE_RATE)
    raw = kernels.float32_to_int16(audio).tobytes()
    return FileRecognitionRequest(raw, replace(config, encoding="LINEAR16", sample_rate_hertz=SAMPLE_RATE))


def cmd_transcribe(args, config) -> int:
    from .core.audio import AudioFormatError
    from .service.types import RecognitionConfig

    service = _local_service(config)
    recognition = service.recognition
    try:  # the options once, before any file: a bad language or model is a usage error
        recognition.prepare(RecognitionConfig(language_code=args.language, model=args.model), raw_audio=False)
    except ServiceError as exc:
        print(f"voice transcribe: {exc}".replace("config.", "", 1), file=sys.stderr)
        return 2
    status = 0
    for path in args.files:
        try:
            request = _file_request(path, args.language, args.model, args.words)
            result = asyncio.run(recognition.recognize(request))
        except (OSError, AudioFormatError) as exc:
            print(f"voice transcribe: {path}: {exc}", file=sys.stderr)
            status = 1
            continue
        for r in result.results:
            if args.json:
                print(json.dumps({
                    "file": path, "utterance_index": r.utterance_index, "transcript": r.transcript,
                    "confidence": round(r.confidence, 4), "language_code": r.language,
                    "start": r.start, "end": r.end,
                    "words": [w.__dict__ for w in r.words],
                }, ensure_ascii=False))
            else:
                print(f"{path} [{r.start:.2f}-{r.end:.2f}] ({r.language}) {r.transcript}")
    service.engine.close()
    return status


def cmd_say(args, config) -> int:
    from .service.types import SynthesisRequest

    service = _local_service(config)
    request = SynthesisRequest(text=args.text, ssml=args.ssml, voice=args.voice, language_code=args.language,
                               speaking_rate=args.rate, container="wav")
    try:
        result = asyncio.run(service.synthesis.synthesize(request))
    except ServiceError as exc:
        print(f"voice say: {exc}", file=sys.stderr)
        return 2
    with open(args.output, "wb") as fh:
        fh.write(result.audio)
    service.engine.close()
    return 0


def cmd_keys(args) -> int:
    from .api.ops.keys import SERVICES, KeyFileError, hash_key, key_entry, load_keys, new_secret

    if args.keys_command == "hash":
        secret = args.key if args.key is not None else sys.stdin.readline().strip()
        print(f'sha256 = "{hash_key(secret)}"')
        return 0
    services = [s.strip() for s in args.services.split(",") if s.strip()] or ["*"]
    wrong = [s for s in services if s != "*" and s not in SERVICES]
    if wrong:
        print(f"voice keys add: unknown service(s) {', '.join(wrong)} (of {', '.join(SERVICES)})", file=sys.stderr)
        return 2
    secret = new_secret()
    entry = key_entry(args.name, secret, services, args.max_streams, args.requests_per_minute,
                      args.audio_minutes_per_day)
    existing = ""
    try:
        if os.path.exists(args.file):
            existing = open(args.file).read()
            load_keys(args.file)  # append only to a file that is valid now
    except KeyFileError as exc:
        print(f"voice keys add: {exc}", file=sys.stderr)
        return 2
    with open(args.file, "a") as fh:
        fh.write(("\n" if existing and not existing.endswith("\n\n") else "") + entry)
    os.chmod(args.file, 0o600)
    print(secret)
    print(f"voice keys add: key {args.name!r} added to {args.file} (only its hash is stored; keep the key)",
          file=sys.stderr)
    return 0


def cmd_voices(args, config) -> int:
    from .runtime.models import ModelNotFound, VoiceFileError, install_voice, voices_dir

    if args.voices_command == "add":
        directory = voices_dir(config.tts.voices_dir, config.cache_dir)
        try:
            written = install_voice(args.path, directory, language=args.language, name=args.name,
                                    replace=args.replace)
        except (VoiceFileError, OSError) as exc:
            print(f"voice voices add: {exc}", file=sys.stderr)
            return 2
        for path in written:
            print(f"installed {path}")
    try:
        from .runtime.engine import SpeechEngine

        catalogue = SpeechEngine(config).catalogue
    except (ModelNotFound, ValueError, OSError) as exc:
        print(f"voice voices: {exc}", file=sys.stderr)
        return 2
    if args.voices_command == "add":
        added = {str(p) for p in written}
        voices = [v for v in catalogue if str(v.pack_path or v.model_path or "") in added]
    else:
        from .core.languages import same_language

        voices = [v for v in catalogue if not args.language or same_language(v.language, args.language)]
    best = {}
    for v in voices:
        if v.base_language not in best:
            best[v.base_language] = catalogue.for_language(v.base_language)
    for v in voices:
        chosen = best.get(v.base_language) is not None and best[v.base_language].name == v.name
        if getattr(args, "json", False):
            print(json.dumps({"name": v.name, "language": v.language, "engine": v.engine, "label": v.label,
                              "round_trip_wer": v.wer, "sample_rate": v.sample_rate,
                              "default": v.name == catalogue.default.name, "best_for_language": chosen},
                             ensure_ascii=False))
        else:
            wer = "WER -" if v.wer is None else f"WER {v.wer:.1%}"
            mark = f"  <- {v.base_language}" if chosen else ""
            print(f"{v.name:<32} {v.language:<8} {v.engine:<9} {v.label:<17} {wer:<10}{mark}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "keys":
        return cmd_keys(args)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.log_level.upper() == "INFO":  # faster-whisper logs every decode at INFO
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    try:
        config = load_config(getattr(args, "sub_config", None) or args.config,
                             host=getattr(args, "host", None), port=getattr(args, "port", None),
                             audiosocket=getattr(args, "audiosocket", None), http_port=getattr(args, "http_port", None),
                             reply_webhook=getattr(args, "reply_webhook", None),
                             metrics_port=getattr(args, "metrics_port", None), log_format=getattr(args, "log_format", None),
                             tracing=getattr(args, "tracing", None), tls_cert=getattr(args, "tls_cert", None),
                             tls_key=getattr(args, "tls_key", None), tls_client_ca=getattr(args, "tls_client_ca", None),
                             api_keys=getattr(args, "api_keys", None), wyoming=getattr(args, "wyoming", None),
                             zeroconf=getattr(args, "zeroconf", None), intents=getattr(args, "serve_intents", None))
    except ConfigError as exc:
        print(f"voice: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        from .api.ops.logs import configure
        from .api.runner import serve

        configure(args.log_level, config.server.log_format)
        if args.log_level.upper() == "INFO":
            logging.getLogger("faster_whisper").setLevel(logging.WARNING)

        from .api.ops.keys import KeyFileError

        try:
            asyncio.run(serve(config))
        except (KeyFileError, OSError) as exc:  # a bad keys file or certificate, a port in use
            print(f"voice serve: {exc}", file=sys.stderr)
            return 2
        return 0
    if args.command == "transcribe":
        return cmd_transcribe(args, config)
    if args.command == "understand":
        return cmd_understand(args, config)
    if args.command == "voices":
        return cmd_voices(args, config)
    return cmd_say(args, config)


if __name__ == "__main__":
    sys.exit(main())
