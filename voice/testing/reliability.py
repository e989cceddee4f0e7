"""The reliability checks of bench/reliability.py (and their short form in
tests/integration/test_reliability.py): fuzzed requests, mid-stream disconnects, slow
readers, a decoder that fails mid-stream. Each returns a dict of figures."""

from __future__ import annotations

import random
import socket
import struct
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
from voice_api.v1 import (
    audio_pb2,
    conversation_pb2,
    recognizer_pb2,
    recognizer_pb2_grpc,
    synthesizer_pb2,
    synthesizer_pb2_grpc,
    understander_pb2,
)

from voice.testing.ops import sample, scrape
from voice.testing.streams import RATE, audio_requests, config_request, finals

CALL_TIMEOUT_S = 60.0
ACCEPTED = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT}
UNARY = ("/voice.v1.Recognizer/Recognize", "/voice.v1.Synthesizer/SynthesizeOnce",
         "/voice.v1.Understander/Understand", "/voice.v1.Synthesizer/ListVoices")
STREAMING = ("/voice.v1.Recognizer/StreamingRecognize", "/voice.v1.Conversation/Converse")


# -- fuzz --------------------------------------------------------------------------------------
def fuzz_cases(count: int, seed: int = 0) -> list[tuple[str, list[bytes]]]:
    """``count`` (method, request messages as bytes) drawn by hypothesis over the request
    messages' fields (odd values included), one in five random bytes instead."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    ints = st.one_of(st.integers(-2**31, 2**31 - 1), st.sampled_from([0, 1, 7999, 8000, 16000, 48000, 48001]))
    floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32), st.sampled_from([0.0, 1.0, -1.0]))
    langs = st.one_of(st.sampled_from(["", "en", "fr", "es-ES", "xx", "EN_us", "zz-ZZ"]), st.text(max_size=12))
    text = st.text(max_size=40)
    encodings = st.one_of(st.sampled_from([0, 1, 2, 3]), st.integers(-5, 50))
    audio = st.binary(max_size=3200)
    endpointing = st.builds(recognizer_pb2.EndpointingConfig, vad_aggressiveness=st.integers(-3, 8),
                            trailing_silence_ms=st.integers(-10, 100_000), max_utterance_seconds=floats,
                            speech_start_ms=st.integers(-10, 5000), speech_timeout_ms=st.integers(-10, 10**6))
    rconfig = st.builds(recognizer_pb2.RecognitionConfig, encoding=encodings, sample_rate_hertz=ints,
                        language_code=langs, alternative_language_codes=st.lists(langs, max_size=3),
                        phrase_hints=st.lists(text, max_size=3), enable_word_time_offsets=st.booleans(),
                        enable_intent=st.booleans(), model=st.sampled_from(["", "base", "nope"]),
                        endpointing=endpointing)
    recognize = st.builds(recognizer_pb2.RecognizeRequest, config=rconfig, audio_content=audio)
    first = st.builds(lambda c, i: recognizer_pb2.StreamingRecognizeRequest(
        streaming_config=recognizer_pb2.StreamingRecognitionConfig(config=c, interim_results=i)), rconfig, st.booleans())
    chunk = st.builds(lambda a, f: recognizer_pb2.StreamingRecognizeRequest(audio_content=a, flush=f), audio, st.booleans())
    streaming = st.lists(st.one_of(first, chunk), min_size=0, max_size=4)
    synth = st.builds(synthesizer_pb2.SynthesizeRequest, text=text, language_code=langs, encoding=encodings,
                      sample_rate_hertz=ints, speaking_rate=floats, volume_gain_db=floats,
                      chunk_duration_ms=st.integers(-5, 5000), voice=st.sampled_from(["", "nope", "en_US-joe-medium"]))
    understand = st.builds(understander_pb2.UnderstandRequest, text=text, language_code=langs)
    cconfig = st.builds(conversation_pb2.ConversationConfig, input_encoding=encodings, input_sample_rate_hertz=ints,
                        output_encoding=encodings, language_code=langs, voice=st.sampled_from(["", "nope"]))
    converse = st.lists(st.one_of(st.builds(lambda c: conversation_pb2.ConverseRequest(config=c), cconfig),
                                  st.builds(lambda a: conversation_pb2.ConverseRequest(audio=a), audio)), max_size=3)
    case = st.one_of(
        st.tuples(st.just(UNARY[0]), recognize.map(lambda m: [m.SerializeToString()])),
        st.tuples(st.just(UNARY[1]), synth.map(lambda m: [m.SerializeToString()])),
        st.tuples(st.just(UNARY[2]), understand.map(lambda m: [m.SerializeToString()])),
        st.tuples(st.just(STREAMING[0]), streaming.map(lambda ms: [m.SerializeToString() for m in ms])),
        st.tuples(st.just(STREAMING[1]), converse.map(lambda ms: [m.SerializeToString() for m in ms])),
        st.tuples(st.sampled_from(UNARY + STREAMING), st.lists(st.binary(min_size=1, max_size=64), min_size=1, max_size=3)),
    )
    out: list = []

    @settings(max_examples=count, database=None, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case)
    def draw(c):
        out.append(c)

    draw()
    random.Random(seed).shuffle(out)
    return out[:count]


def fuzz(address: str, count: int, workers: int = 8, seed: int = 0) -> dict:
    """Send ``count`` fuzzed requests; every answer must be OK or INVALID_ARGUMENT, within
    :data:`CALL_TIMEOUT_S` (else a hang)."""
    cases = fuzz_cases(count, seed)
    codes: Counter = Counter()
    bad: list = []
    lock = threading.Lock()
    with grpc.insecure_channel(address) as channel:
        def one(case):
            method, messages = case
            try:
                if method in UNARY:
                    channel.unary_unary(method)(messages[0], timeout=CALL_TIMEOUT_S)
                else:
                    for _ in channel.stream_stream(method)(iter(messages), timeout=CALL_TIMEOUT_S):
                        pass
                code = grpc.StatusCode.OK
            except grpc.RpcError as exc:
                code = exc.code()
                if code not in ACCEPTED:
                    with lock:
                        bad.append((method, code.name, exc.details()))
            with lock:
                codes[code.name] += 1

        t0 = time.monotonic()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, cases))
    return {"requests": len(cases), "codes": dict(codes), "crashes_or_hangs": len(bad),
            "hangs": sum(1 for b in bad if b[1] == "DEADLINE_EXCEEDED"), "examples": bad[:5],
            "seconds": round(time.monotonic() - t0, 1)}


# -- disconnects ----------------------------------------------------------------------------
def _cancel_stream(stub, pcm: np.ndarray, after_s: float) -> None:
    stop = threading.Event()

    def requests():
        yield config_request("en", interim=True)
        yield from audio_requests(pcm)
        stop.wait(10)

    call = stub.StreamingRecognize(requests())
    timer = threading.Timer(after_s, call.cancel)
    timer.start()
    try:
        for _ in call:
            pass
    except grpc.RpcError:
        pass
    stop.set()
    timer.cancel()


def _cancel_synthesis(stub, text: str) -> None:
    call = stub.Synthesize(synthesizer_pb2.SynthesizeRequest(text=text, encoding=audio_pb2.LINEAR16))
    try:
        next(call)
    except (grpc.RpcError, StopIteration):
        pass
    call.cancel()


def _cancel_converse(channel, pcm: np.ndarray, after_s: float) -> None:
    stop = threading.Event()

    def requests():
        yield conversation_pb2.ConverseRequest(config=conversation_pb2.ConversationConfig(
            input_encoding=audio_pb2.LINEAR16, input_sample_rate_hertz=RATE, language_code="en"))
        for i in range(0, pcm.size, 800):
            yield conversation_pb2.ConverseRequest(audio=pcm[i:i + 800].tobytes())
        stop.wait(10)

    call = channel.stream_stream("/voice.v1.Conversation/Converse",
                                 request_serializer=conversation_pb2.ConverseRequest.SerializeToString)(requests())
    timer = threading.Timer(after_s, call.cancel)
    timer.start()
    try:
        for _ in call:
            pass
    except grpc.RpcError:
        pass
    stop.set()
    timer.cancel()


def _drop_audiosocket(port: int, frames: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(struct.pack(">BH", 0x01, 16) + uuid.uuid4().bytes)
        for _ in range(frames):
            sock.sendall(struct.pack(">BH", 0x10, 320) + bytes(320))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST: vanish


def leaks(metrics_url: str, timeout: float = 20.0) -> dict:
    """What the server still holds, once it had ``timeout`` to let go (0 everywhere = no leak)."""
    deadline = time.monotonic() + timeout
    while True:
        m = scrape(metrics_url)
        held = {"sessions": sum(sample(m, "voice_active_calls", service=s) for s in ("asr", "tts", "conversation")),
                "decode_jobs": sample(m, "voice_decode_queue_depth") + sample(m, "voice_decode_workers_busy"),
                "requests": sum(v for (name, _), v in m.items() if name == "voice_active_requests")}
        if not any(held.values()) or time.monotonic() > deadline:
            return held
        time.sleep(0.2)


def disconnects(address: str, metrics_url: str, count: int, speech: np.ndarray, audiosocket: int | None = None,
                workers: int = 16, seed: int = 0) -> dict:
    """``count`` calls that vanish mid-way, spread over StreamingRecognize, Synthesize, Converse
    and (when given) AudioSocket calls; then what the server still holds."""
    rng = random.Random(seed)
    kinds = ["stream", "synthesis", "converse"] + (["audiosocket"] if audiosocket else [])
    plan = [(kinds[i % len(kinds)], rng.uniform(0.05, 1.0)) for i in range(count)]
    done: Counter = Counter()
    t0 = time.monotonic()
    with grpc.insecure_channel(address) as channel:
        recognizer = recognizer_pb2_grpc.RecognizerStub(channel)
        synthesizer = synthesizer_pb2_grpc.SynthesizerStub(channel)

        def one(item):
            kind, after = item
            if kind == "stream":
                _cancel_stream(recognizer, speech, after)
            elif kind == "synthesis":
                _cancel_synthesis(synthesizer, "Your card is blocked. A new one is on its way. Thank you for calling.")
            elif kind == "converse":
                _cancel_converse(channel, speech, after)
            else:
                _drop_audiosocket(audiosocket, int(after * 50))
            done[kind] += 1

        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, plan))
    held = leaks(metrics_url)
    return {"disconnects": sum(done.values()), "by_kind": dict(done), "leaked": held,
            "seconds": round(time.monotonic() - t0, 1)}


# -- slow readers ----------------------------------------------------------------------------
def slow_readers(address: str, rss: Callable[[], float], speech: np.ndarray, readers: int = 4, hold_s: float = 10.0) -> dict:
    """``readers`` clients that ask for long syntheses and streams and never read a response,
    for ``hold_s``; meanwhile a normal stream must still get its final. Reports the server's
    RSS growth (MB) while they hold."""
    long_text = " ".join(["Thank you for waiting, an agent will be with you shortly."] * 60)
    before = rss()
    with grpc.insecure_channel(address) as channel:
        synthesizer = synthesizer_pb2_grpc.SynthesizerStub(channel)
        recognizer = recognizer_pb2_grpc.RecognizerStub(channel)
        calls = [synthesizer.Synthesize(synthesizer_pb2.SynthesizeRequest(text=long_text)) for _ in range(readers)]
        stop = threading.Event()

        def flood():  # real-time audio, interims on: responses pile up unread
            yield config_request("en", interim=True)
            while not stop.is_set():
                for request in audio_requests(speech, pace=1.0):
                    if stop.is_set():
                        return
                    yield request
        streams = [recognizer.StreamingRecognize(flood()) for _ in range(readers)]  # never read
        time.sleep(1.0)
        t0 = time.monotonic()
        normal = finals(recognizer.StreamingRecognize(iter([config_request("en"), *audio_requests(speech)])))
        normal_s = time.monotonic() - t0
        time.sleep(max(0.0, hold_s - normal_s - 1.0))
        peak = rss()
        stop.set()
        for call in calls + streams:
            call.cancel()
    return {"slow_readers": 2 * readers, "rss_growth_mb": round(peak - before, 1),
            "normal_stream_finals": len(normal), "normal_stream_s": round(normal_s, 2)}


# -- a decoder that fails --------------------------------------------------------------------
FAULT_HINT = "__decoder_fault__"


def inject_decoder_fault(engine) -> Callable[[], None]:
    """The default recognizer raises RuntimeError for decodes whose phrase hints carry
    :data:`FAULT_HINT` (every other decode is untouched); returns what undoes it."""
    rec = engine.recognizer(None)
    real = rec.transcribe

    def transcribe(audio, options, *args, **kwargs):
        if FAULT_HINT in (options.hints or ()):
            raise RuntimeError("injected decoder fault")
        return real(audio, options, *args, **kwargs)

    rec.transcribe = transcribe
    return lambda: delattr(rec, "transcribe")


def decoder_fault(address: str, speech: np.ndarray, others: int = 3) -> dict:
    """One stream whose decodes fail (see :func:`inject_decoder_fault`) beside ``others``
    normal streams: it must end INTERNAL, each other one OK with its finals."""
    results: dict = {}

    def run(name: str, hints: tuple[str, ...]):
        with grpc.insecure_channel(address) as channel:
            stub = recognizer_pb2_grpc.RecognizerStub(channel)
            try:
                got = finals(stub.StreamingRecognize(iter([config_request("en", hints=hints), *audio_requests(speech)])))
                results[name] = ("OK", len(got))
            except grpc.RpcError as exc:
                results[name] = (exc.code().name, exc.details())

    threads = [threading.Thread(target=run, args=("faulty", (FAULT_HINT,)))]
    threads += [threading.Thread(target=run, args=(f"normal-{i}", ())) for i in range(others)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    normal = [v for k, v in results.items() if k != "faulty"]
    return {"faulty_stream": results.get("faulty"), "normal_ok": sum(1 for v in normal if v[0] == "OK" and v[1] > 0),
            "normal": len(normal)}

