"""OpenAI REST door vs the gRPC ``voice.v1`` calls, same audio, same server, one run.

    .venv/bin/python bench/openai_http.py [--prompts 8] [--runs 2]

Starts ``voice serve --http-port`` on free loopback ports (one process: both doors on the same
service and engine) and sends each request through both doors, alternating which goes first:

* recognition: a Debian prompt's WAV file as ``POST /v1/audio/transcriptions`` (multipart,
  ``language=en``, json) vs ``Recognizer.Recognize`` (the same WAV bytes, ``language_code=en``);
* the same with 1 s of silence (nothing to decode: the doors' own cost, without the decode's
  noise);
* synthesis: a sentence as ``POST /v1/audio/speech`` (``pcm``, read as it streams) vs
  ``Synthesizer.Synthesize`` (LINEAR16, 24 kHz, the same audio), time to the first audio
  byte and to the last.

REST goes through a plain HTTP client (httpx2, the openai package's own) and through the
``openai`` SDK itself (what callers use; its response parsing is part of its figure). The
overhead is per request: REST time minus the gRPC time of the same audio in the same round,
p50 / p95 over all requests. The decode or synthesis itself is the same work on both paths,
so the difference is the door: multipart parsing, file decoding, JSON, HTTP. Run it alone:
the client and the server share the machine's cores.
"""

from __future__ import annotations

import os
import sys

# this script is named http.py: run as a script, its folder comes first on sys.path and it
# would stand in for the standard library's http package (httpx2 and grpc import that)
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import grpc  # noqa: E402
import httpx2  # noqa: E402
import openai  # noqa: E402

from voice.core.audio import Encoding, wav_bytes  # noqa: E402
from voice.testing.harness import free_port, pct, start_server  # noqa: E402
from voice.testing.prompts import pick_prompts  # noqa: E402
from voice_api.v1 import audio_pb2, recognizer_pb2, recognizer_pb2_grpc, synthesizer_pb2, synthesizer_pb2_grpc  # noqa: E402

RATE = 24000
TEXTS = [
    "Your card is blocked. A new one is on its way.",
    "Please hold while I transfer you to an agent.",
    "Thank you for calling. How can I help you today?",
    "Your balance is one hundred and twenty dollars.",
    "I did not catch that. Could you say it again?",
    "The office is open from nine to five, Monday to Friday.",
    "Press one for sales, or two for support.",
    "Goodbye, and have a nice day.",
]


def wait_http(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("HTTP door did not become healthy")


def timed(fn, *args) -> tuple[float, float]:
    """(seconds to the first result, seconds to the end) of ``fn(*args)``, which returns the
    time its first audio arrived (or None: the same as the end)."""
    t0 = time.perf_counter()
    first = fn(*args)
    end = time.perf_counter() - t0
    return (end if first is None else first - t0), end


# -- recognition ---------------------------------------------------------------------------------

def grpc_recognize(stub, wav: bytes):
    stub.Recognize(recognizer_pb2.RecognizeRequest(
        config=recognizer_pb2.RecognitionConfig(language_code="en"), audio_content=wav), timeout=120)


def http_transcribe(http: httpx2.Client, wav: bytes):
    r = http.post("/v1/audio/transcriptions", data={"model": "whisper-1", "language": "en"},
                  files={"file": ("a.wav", wav, "audio/wav")})
    r.raise_for_status()
    r.json()


def sdk_transcribe(client: openai.OpenAI, wav: bytes):
    client.audio.transcriptions.create(model="whisper-1", file=("a.wav", wav, "audio/wav"), language="en")


# -- synthesis -----------------------------------------------------------------------------------

def grpc_speak(stub, text: str):
    first = None
    for _ in stub.Synthesize(synthesizer_pb2.SynthesizeRequest(text=text, encoding=audio_pb2.LINEAR16,
                                                               sample_rate_hertz=RATE), timeout=120):
        if first is None:
            first = time.perf_counter()
    return first


def http_speak(http: httpx2.Client, text: str):
    first = None
    with http.stream("POST", "/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": text,
                                                        "response_format": "pcm"}) as r:
        r.raise_for_status()
        for piece in r.iter_bytes():
            if piece and first is None:
                first = time.perf_counter()
    return first


def sdk_speak(client: openai.OpenAI, text: str):
    first = None
    with client.audio.speech.with_streaming_response.create(model="tts-1", voice="alloy", input=text,
                                                            response_format="pcm") as r:
        for piece in r.iter_bytes():
            if piece and first is None:
                first = time.perf_counter()
    return first


def row(name: str, times: list[tuple[float, float]], ref: list[tuple[float, float]] | None, which: int) -> str:
    values = [t[which] for t in times]
    cells = [f"{name:<42}", f"{pct(values, 50) * 1000:8.1f}", f"{pct(values, 95) * 1000:8.1f}"]
    if ref is None:
        cells += [f"{'-':>9}", f"{'-':>9}", f"{'-':>7}"]
    else:
        diff = [a[which] - b[which] for a, b in zip(times, ref)]
        ratio = statistics.median(values) / statistics.median([t[which] for t in ref])
        cells += [f"{pct(diff, 50) * 1000:+9.1f}", f"{pct(diff, 95) * 1000:+9.1f}", f"{ratio:6.3f}x"]
    return " ".join(cells)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prompts", type=int, default=8, help="English Debian prompts (and as many sentences)")
    ap.add_argument("--runs", type=int, default=2, help="rounds over them")
    args = ap.parse_args(argv)

    wavs = [p.path.read_bytes() for p in pick_prompts("en", args.prompts)]
    silence = wav_bytes(bytes(16000), 8000, Encoding.LINEAR16)
    texts = (TEXTS * (args.prompts // len(TEXTS) + 1))[:args.prompts]
    grpc_port, http_port = free_port(), free_port()
    proc = start_server(grpc_port, args=["--http-port", str(http_port)])
    base = f"http://127.0.0.1:{http_port}"
    try:
        wait_http(base)
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as ch, \
                httpx2.Client(base_url=base, timeout=120) as http, \
                openai.OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0, timeout=120) as sdk:
            rec = recognizer_pb2_grpc.RecognizerStub(ch)
            syn = synthesizer_pb2_grpc.SynthesizerStub(ch)
            asr = {"grpc": (grpc_recognize, rec), "http": (http_transcribe, http), "sdk": (sdk_transcribe, sdk)}
            tts = {"grpc": (grpc_speak, syn), "http": (http_speak, http), "sdk": (sdk_speak, sdk)}
            for fn, target in [*asr.values(), *tts.values()]:  # warm-up, not counted
                fn(target, wavs[0] if fn in (grpc_recognize, http_transcribe, sdk_transcribe) else texts[0])
            results = {(kind, k): [] for kind in ("asr", "tts", "nil") for k in asr}
            order = list(asr)
            for run in range(args.runs):
                for i in range(args.prompts):
                    turn = order[(run + i) % 3:] + order[:(run + i) % 3]  # who goes first rotates
                    for k in turn:
                        fn, target = asr[k]
                        results[("asr", k)].append(timed(fn, target, wavs[i]))
                    for k in turn:
                        fn, target = asr[k]
                        results[("nil", k)].append(timed(fn, target, silence))
                    for k in turn:
                        fn, target = tts[k]
                        results[("tts", k)].append(timed(fn, target, texts[i]))
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    n = args.prompts * args.runs
    print(f"{n} requests per path; ms; overhead = REST - gRPC of the same audio in the same round")
    print(f"{'':<42} {'p50':>8} {'p95':>8} {'over p50':>9} {'over p95':>9} {'ratio':>7}")
    grpc_asr, grpc_tts = results[("asr", "grpc")], results[("tts", "grpc")]
    print(row("Recognize (gRPC)", grpc_asr, None, 1))
    print(row("/v1/audio/transcriptions (HTTP)", results[("asr", "http")], grpc_asr, 1))
    print(row("/v1/audio/transcriptions (openai)", results[("asr", "sdk")], grpc_asr, 1))
    grpc_nil = results[("nil", "grpc")]
    print(row("Recognize, 1 s silence (gRPC)", grpc_nil, None, 1))
    print(row("/v1/audio/transcriptions, silence (HTTP)", results[("nil", "http")], grpc_nil, 1))
    print(row("/v1/audio/transcriptions, silence (openai)", results[("nil", "sdk")], grpc_nil, 1))
    print(row("Synthesize first audio (gRPC)", grpc_tts, None, 0))
    print(row("/v1/audio/speech first audio (HTTP)", results[("tts", "http")], grpc_tts, 0))
    print(row("/v1/audio/speech first audio (openai)", results[("tts", "sdk")], grpc_tts, 0))
    print(row("Synthesize whole (gRPC)", grpc_tts, None, 1))
    print(row("/v1/audio/speech whole (HTTP)", results[("tts", "http")], grpc_tts, 1))
    print(row("/v1/audio/speech whole (openai)", results[("tts", "sdk")], grpc_tts, 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
