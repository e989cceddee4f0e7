"""``voice-client say`` and ``voice-client voices``: the Synthesizer side of the client."""

from __future__ import annotations

import json
import sys
import time

import grpc
from google.protobuf.json_format import MessageToDict
from voice_api.v1 import audio_pb2, synthesizer_pb2, synthesizer_pb2_grpc

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
    s.add_argument("--ssml", action="store_true", help="TEXT is SSML")
    s.add_argument("--speaking-rate", type=float, default=0.0, help="speaking rate multiplier, 0.25-4 (default 1)")
    s.add_argument("--volume-db", type=float, default=0.0, help="volume change in dB, -40 to 12")
    s.add_argument("--sentence-silence-ms", type=int, default=None)
    s.add_argument("--speaker", type=int, default=None, help="speaker id of a multi-speaker voice")
    s.add_argument("--chunk-ms", type=int, default=0, help="streamed chunk length (default 50)")
    s.add_argument("-o", "--output", required=True)
    s.add_argument("--json", action="store_true", help="print time to first audio, chunk count, ... as JSON")

    v = sub.add_parser("voices", help="list the server's voices")
    v.add_argument("--server", default="localhost:50051")
    v.add_argument("--language", default="", help="only voices for this language")
    v.add_argument("--json", action="store_true")


def cmd_say(args) -> int:
    encoding = args.encoding.upper()
    request = synthesizer_pb2.SynthesizeRequest(
        text=args.text, voice=args.voice, language_code=args.language,
        encoding=ENCODINGS[encoding], sample_rate_hertz=args.rate, ssml=args.ssml,
        speaking_rate=args.speaking_rate, volume_gain_db=args.volume_db, chunk_duration_ms=args.chunk_ms)
    if args.sentence_silence_ms is not None:
        request.sentence_silence_ms = args.sentence_silence_ms
    if args.speaker is not None:
        request.speaker_id = args.speaker
    chunks: list[bytes] = []
    rate = 0
    voice = ""
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
                voice = voice or response.voice
        except grpc.RpcError as exc:
            print(f"voice-client: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    data = b"".join(chunks)
    write_wav(args.output, data, rate, encoding)
    if args.json:
        width = 2 if encoding == "LINEAR16" else 1
        print(json.dumps({"output": args.output, "voice": voice, "chunks": len(chunks), "sample_rate_hertz": rate,
                          "encoding": encoding, "audio_seconds": round(len(data) / width / max(rate, 1), 3),
                          "time_to_first_audio_s": round(first or 0.0, 3),
                          "total_s": round(time.monotonic() - start, 3)}))
    return 0


def cmd_voices(args) -> int:
    with grpc.insecure_channel(args.server) as channel:
        stub = synthesizer_pb2_grpc.SynthesizerStub(channel)
        try:
            response = stub.ListVoices(synthesizer_pb2.ListVoicesRequest(language_code=args.language))
        except grpc.RpcError as exc:
            print(f"voice-client: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    for voice in response.voices:
        if args.json:
            print(json.dumps(MessageToDict(voice, preserving_proto_field_name=True)))
        else:
            kind = "neural" if voice.neural else "fallback (espeak-ng)"
            speakers = f"\t{voice.num_speakers} speakers" if voice.num_speakers > 1 else ""
            default = "\tdefault" if voice.is_default else ""
            print(f"{voice.name}\t{voice.language_code}\t{voice.sample_rate_hertz} Hz\t{voice.quality}\t{kind}{speakers}{default}")
    return 0
