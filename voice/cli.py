"""``voice``: run the server, or transcribe / speak locally without one.

    voice serve [--host H] [--port P] [--config FILE]
    voice transcribe FILE... [--language xx] [--model NAME] [--json]
    voice say TEXT [--voice NAME] [--language xx] -o out.wav
    voice understand TEXT --language xx [--intents FILE] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys

from .config import ConfigError, load_config


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="voice", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="TOML config file")
    p.add_argument("--log-level", default="INFO")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the gRPC server")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--config", dest="sub_config", help="TOML config file")

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

    u = sub.add_parser("understand", help="intent and slots of TEXT, locally (no server)")
    u.add_argument("text")
    u.add_argument("--language", required=True, help="language code, e.g. en")
    u.add_argument("--intents", default="", help="intents file (YAML/JSON); default: the call-centre domain")
    u.add_argument("--previous-intent", default="", help="context: the conversation's previous intent")
    u.add_argument("--json", action="store_true")
    return p


def cmd_understand(args, config) -> int:
    from pathlib import Path

    from .engines.intent import IntentEngine, IntentFileError

    try:
        intents = IntentEngine.load(Path(args.intents) if args.intents else (Path(config.intent.file) if config.intent.file else None),
                                    None, Path(config.cache_dir) / "intents")
        ctx = {"previous_intent": args.previous_intent} if args.previous_intent else None
        result = intents.understand(args.text, args.language, ctx)
    except (IntentFileError, ValueError, OSError) as exc:
        print(f"voice understand: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        slots = ", ".join(f"{s.name}={s.value}" for s in result.slots)
        print(f"{result.intent} ({result.confidence:.2f}){' ' + slots if slots else ''}")
    return 0


def _engine(config):
    from .runtime.engine import SpeechEngine

    return SpeechEngine(config)


def cmd_transcribe(args, config) -> int:
    from .core.audio import (
        MAX_RATE,
        MIN_RATE,
        SAMPLE_RATE,
        AudioFormatError,
        read_audio_file,
        resample,
    )
    from .core.languages import normalize_language
    from .core.session import StreamOptions
    from .service.files import recognize_audio

    engine = _engine(config)
    try:
        options = StreamOptions(language=normalize_language(args.language), word_time_offsets=args.words,
                                endpointing=config.endpointing, model=args.model or None)
        engine.recognizer(options.model).check_language(options.language)
    except (KeyError, ValueError) as exc:
        print(f"voice transcribe: {exc.args[0]}", file=sys.stderr)
        return 2
    status = 0
    for path in args.files:
        try:
            decoded = read_audio_file(path)
        except (OSError, AudioFormatError) as exc:
            print(f"voice transcribe: {path}: {exc}", file=sys.stderr)
            status = 1
            continue
        audio, rate = decoded.audio, decoded.sample_rate
        if not MIN_RATE <= rate <= MAX_RATE:
            audio, rate = resample(audio, rate, SAMPLE_RATE), SAMPLE_RATE
        for r in recognize_audio(engine, audio, rate, options):
            if args.json:
                print(json.dumps({
                    "file": path, "utterance_index": r.utterance_index, "transcript": r.transcript,
                    "confidence": round(r.confidence, 4), "language_code": r.language,
                    "start": r.start, "end": r.end,
                    "words": [w.__dict__ for w in r.words],
                }, ensure_ascii=False))
            else:
                print(f"{path} [{r.start:.2f}-{r.end:.2f}] ({r.language}) {r.transcript}")
    engine.close()
    return status


def cmd_say(args, config) -> int:
    engine = _engine(config)
    try:
        voice = engine.catalogue.select(args.voice, args.language)
    except KeyError as exc:
        print(f"voice say: {exc.args[0]}", file=sys.stderr)
        return 2
    if not args.text.strip():
        print("voice say: TEXT must not be empty", file=sys.stderr)
        return 2
    from .core.audio import Encoding, wav_bytes
    from .core.planning import plan_pieces
    from .core.ssml import SsmlError
    from .core.synthesis import SynthesisJob, SynthesisOptions

    try:
        pieces = plan_pieces(args.text, voice.language, is_ssml=args.ssml, speaking_rate=args.rate)
    except SsmlError as exc:
        print(f"voice say: {exc}", file=sys.stderr)
        return 2
    job = SynthesisJob(engine.synthesizer(voice), pieces,
                       SynthesisOptions(deterministic=engine.config.tts.deterministic))
    data = b"".join(chunk.audio for chunk in job.run())
    with open(args.output, "wb") as fh:
        fh.write(wav_bytes(data, voice.sample_rate, Encoding.LINEAR16))
    engine.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.log_level.upper() == "INFO":  # faster-whisper logs every decode at INFO
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    try:
        config = load_config(getattr(args, "sub_config", None) or args.config,
                             host=getattr(args, "host", None), port=getattr(args, "port", None))
    except ConfigError as exc:
        print(f"voice: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        from .api.grpc.server import serve

        asyncio.run(serve(config))
        return 0
    if args.command == "transcribe":
        return cmd_transcribe(args, config)
    if args.command == "understand":
        return cmd_understand(args, config)
    return cmd_say(args, config)


if __name__ == "__main__":
    sys.exit(main())
