"""``voice-client say`` and ``voice-client voices``: the Synthesizer side of the client."""

from __future__ import annotations

import json
import sys
import time

import grpc
from google.protobuf.json_format import MessageToDict

from voice.v1 import audio_pb2, synthesizer_pb2, synthesizer_pb2_grpc

from .wavio import write_wav

ENCODINGS = {"LINEAR16": audio_pb2.LINEAR16, "MULAW": audio_pb2.MULAW, "ALAW": audio_pb2.ALAW}


def add_tts_commands(sub) -> None:
    s = sub.add_parser("say", help="synthesize TEXT on the server into a WAV file")
    s.add_argument("text")
    s.add_argument("--server", default="localhost:50051")
    s.add_argument("--voice", default="")
    s.add_argument("--language", default="")
    s.add_argument("--encoding", default="linear16", choices=["linear16", "mulaw", "alaw"])
    s.add_argument("--rate", type=int, default=0, help="output sample rate (default: the voice's)")
    s.add_argument("-o", "--output", required=True)
    s.add_argument("--json", action="store_true")

    v = sub.add_parser("voices", help="list the server's voices")
    v.add_argument("--server", default="localhost:50051")
    v.add_argument("--json", action="store_true")


def cmd_say(args) -> int:
    encoding = args.encoding.upper()
    request = synthesizer_pb2.SynthesizeRequest(
        text=args.text, voice=args.voice, language_code=args.language,
        encoding=ENCODINGS[encoding], sample_rate_hertz=args.rate)
    chunks: list[bytes] = []
    rate = 0
    start = time.monotonic()
    first = None
    with grpc.insecure_channel(args.server) as channel:
        stub = synthesizer_pb2_grpc.SynthesizerStub(channel)
        try:
            for response in stub.Synthesize(request):
                if first is None:
                    first = time.monotonic() - start
                chunks.append(response.audio_content)
                rate = response.sample_rate_hertz
        except grpc.RpcError as exc:
            print(f"voice-client: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    data = b"".join(chunks)
    write_wav(args.output, data, rate, encoding)
    if args.json:
        width = 2 if encoding == "LINEAR16" else 1
        print(json.dumps({"output": args.output, "chunks": len(chunks), "sample_rate_hertz": rate,
                          "encoding": encoding, "audio_seconds": round(len(data) / width / max(rate, 1), 3),
                          "time_to_first_audio_s": round(first or 0.0, 3),
                          "total_s": round(time.monotonic() - start, 3)}))
    return 0


def cmd_voices(args) -> int:
    with grpc.insecure_channel(args.server) as channel:
        stub = synthesizer_pb2_grpc.SynthesizerStub(channel)
        try:
            response = stub.ListVoices(synthesizer_pb2.ListVoicesRequest())
        except grpc.RpcError as exc:
            print(f"voice-client: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    for voice in response.voices:
        if args.json:
            print(json.dumps(MessageToDict(voice, preserving_proto_field_name=True)))
        else:
            kind = "neural" if voice.neural else "fallback"
            print(f"{voice.name}\t{voice.language_code}\t{voice.sample_rate_hertz} Hz\t{voice.quality}\t{kind}")
    return 0
