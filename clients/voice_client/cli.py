"""``voice-client``: talk to a voice server over gRPC.

    voice-client transcribe FILE --server HOST:PORT [--language xx] [--realtime] [--json]
                            [--expect digits|number|amount|date|time|yes_no|spelling]
                            [--expect-length N|MIN-MAX] [--verbatim]
                            [--alternatives N]
    voice-client say TEXT --server HOST:PORT [--voice NAME] -o out.wav
    voice-client voices --server HOST:PORT [--json]
    voice-client health --server HOST:PORT      (exit 0 when SERVING; for healthchecks)
    voice-client understand TEXT --language xx --server HOST:PORT [--json]

``transcribe`` streams a WAV file (any rate; 8 kHz mu-law / A-law telephone audio is sent
as is) over StreamingRecognize in chunks of ``--chunk-ms`` (20-100 ms), optionally at
real-time pace, and prints interim and final results. ``--json`` prints one JSON object per
response (fields as in the proto; with ``--realtime`` finals also carry
``client_latency_s``: time from the end of speech being sent to the final arriving). Interim
responses hold the committed prefix (stability >= 0.9, never changes) and the unstable tail.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import grpc
from google.protobuf.json_format import MessageToDict
from voice_api.v1 import recognizer_pb2, recognizer_pb2_grpc

from .tts_commands import ENCODINGS, add_tts_commands, cmd_say, cmd_voices
from .wavio import read_raw

def answer_length(text: str) -> tuple[int, int]:
    """``--expect-length``: "6" -> (6, 6), "4-8" -> (4, 8)."""
    low, sep, high = text.partition("-")
    try:
        pair = (int(low), int(high) if sep else int(low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or MIN-MAX (e.g. 6 or 4-8), got {text!r}") from None
    if pair[0] < 1 or pair[1] < pair[0]:
        raise argparse.ArgumentTypeError(f"expected 1 <= MIN <= MAX, got {text!r}")
    return pair


EXPECTED = ("free", "digits", "number", "amount", "date", "time", "yes_no", "spelling")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="voice-client", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("transcribe", help="stream a WAV file to the server")
    t.add_argument("file")
    t.add_argument("--server", default="localhost:50051")
    t.add_argument("--language", default="")
    t.add_argument("--model", default="")
    t.add_argument("--realtime", action="store_true", help="send at real-time pace")
    t.add_argument("--chunk-ms", type=int, default=100, help="audio per message, 20-100 ms")
    t.add_argument("--interim", action="store_true", help="ask for interim results (committed + tail)")
    t.add_argument("--language-candidates", default="",
                   help="comma-separated languages the speaker may use, e.g. en,fr,es (detection limited to them)")
    t.add_argument("--hotwords", default="", help="comma-separated phrase hints, e.g. 'Acme,pound key'")
    t.add_argument("--speech-timeout-ms", type=int, default=0, help="send SPEECH_TIMEOUT after this much silence")
    t.add_argument("--words", action="store_true", help="ask for word time offsets")
    t.add_argument("--expect", default="", choices=["", *EXPECTED],
                   help="the answer expected (constrains recognition; finals carry its normalised value): "
                        + ", ".join(EXPECTED))
    t.add_argument("--expect-length", default=None, type=answer_length, metavar="N|MIN-MAX",
                   help="how many digits / characters a digits or spelling answer has, e.g. 6 or 4-8")
    t.add_argument("--verbatim", action="store_true", help="no inverse text normalisation (numbers stay words)")
    t.add_argument("--alternatives", type=int, default=0, metavar="N",
                   help="up to N distinct readings of each final, best first (n-best)")
    t.add_argument("--json", action="store_true")

    add_tts_commands(sub)

    u = sub.add_parser("understand", help="intent and slots of TEXT")
    u.add_argument("text")
    u.add_argument("--language", required=True)
    u.add_argument("--server", default="localhost:50051")
    u.add_argument("--previous-intent", default="")
    u.add_argument("--json", action="store_true")

    h = sub.add_parser("health", help="exit 0 when the server reports SERVING")
    h.add_argument("--server", default="localhost:50051")
    h.add_argument("--service", default="", help="service name (default: the whole server)")
    h.add_argument("--timeout", type=float, default=5.0)
    return p


def _requests(raw, args, sent_at: dict):
    config = recognizer_pb2.RecognitionConfig(
        encoding=ENCODINGS[raw.encoding], sample_rate_hertz=raw.sample_rate, language_code=args.language,
        enable_word_time_offsets=args.words, model=args.model,
        alternative_language_codes=[c.strip() for c in args.language_candidates.split(",") if c.strip()],
        phrase_hints=[h.strip() for h in args.hotwords.split(",") if h.strip()],
        expected_answer=recognizer_pb2.ExpectedAnswer.Value(f"EXPECT_{args.expect.upper()}") if args.expect else 0,
        verbatim=args.verbatim, max_alternatives=args.alternatives,
        expected_length=recognizer_pb2.AnswerLength(min=args.expect_length[0], max=args.expect_length[1])
        if args.expect_length else None,
        endpointing=recognizer_pb2.EndpointingConfig(speech_timeout_ms=args.speech_timeout_ms))
    yield recognizer_pb2.StreamingRecognizeRequest(streaming_config=recognizer_pb2.StreamingRecognitionConfig(
        config=config, interim_results=args.interim))
    width = 2 if raw.encoding == "LINEAR16" else 1
    step = raw.sample_rate * args.chunk_ms // 1000 * width
    start = time.monotonic()
    for offset in range(0, len(raw.data), step):
        chunk = raw.data[offset:offset + step]
        if args.realtime:
            due = start + offset / raw.bytes_per_second
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        yield recognizer_pb2.StreamingRecognizeRequest(audio_content=chunk)
        # stream time covered so far -> wall time it was sent
        sent_at[(offset + len(chunk)) / raw.bytes_per_second] = time.monotonic()


def _sent_time(sent_at: dict, stream_time: float) -> float | None:
    for t in sorted(sent_at):
        if t >= stream_time - 1e-6:
            return sent_at[t]
    return None


def cmd_transcribe(args) -> int:
    if not 20 <= args.chunk_ms <= 100:
        print("voice-client: --chunk-ms must be between 20 and 100", file=sys.stderr)
        return 2
    try:
        raw = read_raw(args.file)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a usage error
        print(f"voice-client: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    sent_at: dict[float, float] = {}
    with grpc.insecure_channel(args.server) as channel:
        stub = recognizer_pb2_grpc.RecognizerStub(channel)
        try:
            for response in stub.StreamingRecognize(_requests(raw, args, sent_at)):
                now = time.monotonic()
                if args.json:
                    obj = MessageToDict(response, preserving_proto_field_name=True,
                                          always_print_fields_with_no_presence=True)
                    for result in response.results:
                        if result.is_final and args.realtime:
                            sent = _sent_time(sent_at, result.result_end_time.ToTimedelta().total_seconds())
                            if sent is not None:
                                obj["client_latency_s"] = round(now - sent, 3)
                    print(json.dumps(obj, ensure_ascii=False), flush=True)
                    continue
                if response.results and not response.results[0].is_final:
                    stable = " ".join(r.alternatives[0].transcript for r in response.results if r.stability >= 0.9)
                    tail = " ".join(r.alternatives[0].transcript for r in response.results if r.stability < 0.9)
                    lang = response.results[0].language_code
                    print(f"[interim #{response.utterance_index} {lang}] {stable} | {tail}".rstrip(" |"), flush=True)
                for result in response.results:
                    if result.is_final:
                        alt = result.alternatives[0]
                        answer = f" => {result.answer.value or '(no answer)'}" if result.HasField("answer") else ""
                        print(f"[final #{result.utterance_index} {result.language_code}] {alt.transcript}{answer}",
                              flush=True)
                        for other in result.alternatives[1:]:
                            print(f"    or ({other.confidence:.2f}) {other.transcript}", flush=True)
                if response.speech_event_type:
                    name = recognizer_pb2.SpeechEventType.Name(response.speech_event_type)
                    t = response.speech_event_time.ToTimedelta().total_seconds()
                    print(f"({name.lower()} #{response.utterance_index} at {t:.2f}s)", flush=True)
        except grpc.RpcError as exc:
            print(f"voice-client: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    return 0


def cmd_understand(args) -> int:
    from voice_api.v1 import understander_pb2, understander_pb2_grpc

    with grpc.insecure_channel(args.server) as channel:
        try:
            r = understander_pb2_grpc.UnderstanderStub(channel).Understand(understander_pb2.UnderstandRequest(
                text=args.text, language_code=args.language, previous_intent=args.previous_intent))
        except grpc.RpcError as exc:
            print(f"voice-client: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps({
            "intent": r.intent, "confidence": round(r.confidence, 4),
            "slots": [{"name": s.name, "value": s.value, "start": s.start, "end": s.end} for s in r.slots],
            "alternatives": [{"intent": a.intent, "confidence": round(a.confidence, 4)} for a in r.alternatives],
        }, ensure_ascii=False))
    else:
        slots = ", ".join(f"{s.name}={s.value}" for s in r.slots)
        print(f"{r.intent} ({r.confidence:.2f}){' ' + slots if slots else ''}")
    return 0


def cmd_health(args) -> int:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(args.server) as channel:
        try:
            resp = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout)
        except grpc.RpcError as exc:
            print(f"voice-client: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
    print(status)
    return 0 if resp.status == health_pb2.HealthCheckResponse.SERVING else 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {"transcribe": cmd_transcribe, "say": cmd_say, "voices": cmd_voices, "health": cmd_health,
                "understand": cmd_understand}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
