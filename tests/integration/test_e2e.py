"""End to end through a real gRPC server on 127.0.0.1:0 with the real embedded models.

WER thresholds: measured on the 2-core machine with Whisper base int8, beam 5, 12 prompts
per language (README): en 1.9 %, es 14.1 %, fr 26.2 %; the limits leave headroom for noise.
"""

from __future__ import annotations

import time

import grpc
import numpy as np
import pytest
import soundfile as sf
from grpc_health.v1 import health_pb2, health_pb2_grpc
from voice_api.v1 import (
    audio_pb2,
    recognizer_pb2,
    recognizer_pb2_grpc,
    synthesizer_pb2,
    synthesizer_pb2_grpc,
)

import kernels
from voice.testing.prompts import pick_prompts, wer

WER_LIMITS = {"en": 0.10, "es": 0.22, "fr": 0.36}
PROMPTS_PER_LANGUAGE = 12


def stream_requests(data: bytes, encoding, rate: int, language: str = "", interim: bool = False,
                    chunk_ms: int = 100, words: bool = False, **endpointing):
    width = 2 if encoding == audio_pb2.LINEAR16 else 1
    cfg = recognizer_pb2.RecognitionConfig(
        encoding=encoding, sample_rate_hertz=rate, language_code=language, enable_word_time_offsets=words,
        endpointing=recognizer_pb2.EndpointingConfig(**endpointing))
    yield recognizer_pb2.StreamingRecognizeRequest(
        streaming_config=recognizer_pb2.StreamingRecognitionConfig(config=cfg, interim_results=interim))
    step = rate * chunk_ms // 1000 * width
    for i in range(0, len(data), step):
        yield recognizer_pb2.StreamingRecognizeRequest(audio_content=data[i:i + step])


def finals(responses):
    return [r for resp in responses for r in resp.results if r.is_final]


def read_pcm(path):
    audio, rate = sf.read(path, dtype="int16")
    return audio, rate


@pytest.fixture(scope="module")
def recognizer(channel):
    return recognizer_pb2_grpc.RecognizerStub(channel)


@pytest.fixture(scope="module")
def synthesizer(channel):
    return synthesizer_pb2_grpc.SynthesizerStub(channel)


def test_health_serving_and_reflection(channel):
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "voice.v1.Recognizer", "voice.v1.Synthesizer"):
        resp = health.Check(health_pb2.HealthCheckRequest(service=service))
        assert resp.status == health_pb2.HealthCheckResponse.SERVING
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    resp = next(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
    names = {s.name for s in resp.list_services_response.service}
    assert {"voice.v1.Recognizer", "voice.v1.Synthesizer", "grpc.health.v1.Health"} <= names


def test_health_not_serving_while_loading(config):
    """A server whose engine is still loading answers health NOT_SERVING, and calls UNAVAILABLE."""
    import threading

    from voice.runtime.engine import SpeechEngine
    from voice.testing.server import ServerThread

    class SlowEngine(SpeechEngine):
        release = threading.Event()

        def load(self):
            self.release.wait(60)
            self.ready.set()

    engine = SlowEngine(config)
    srv = ServerThread.__new__(ServerThread)
    import asyncio

    from voice.api.grpc.server import VoiceServer

    srv.loop = asyncio.new_event_loop()
    srv._thread = threading.Thread(target=srv.loop.run_forever, daemon=True)
    srv._thread.start()
    srv.server = srv.call(ServerThread._make, VoiceServer, config, engine)
    port = srv.call(srv.server.start, "127.0.0.1", 0)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            health = health_pb2_grpc.HealthStub(ch)
            assert health.Check(health_pb2.HealthCheckRequest()).status == health_pb2.HealthCheckResponse.NOT_SERVING
            with pytest.raises(grpc.RpcError) as err:
                synthesizer_pb2_grpc.SynthesizerStub(ch).Synthesize(synthesizer_pb2.SynthesizeRequest(text="hi")).next()
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
            SlowEngine.release.set()
            srv.call(srv.server.wait_ready)
            assert health.Check(health_pb2.HealthCheckRequest()).status == health_pb2.HealthCheckResponse.SERVING
    finally:
        SlowEngine.release.set()
        srv.stop()


@pytest.mark.parametrize("language", ["en", "es", "fr"])
def test_streaming_wer_per_language(recognizer, language):
    prompts = pick_prompts(language, PROMPTS_PER_LANGUAGE)
    refs, hyps = [], []
    for p in prompts:
        pcm, rate = read_pcm(p.path)
        data = np.concatenate([pcm, np.zeros(rate, np.int16)]).tobytes()
        results = finals(recognizer.StreamingRecognize(stream_requests(data, audio_pb2.LINEAR16, rate, language)))
        refs.append(p.text)
        hyps.append(" ".join(r.alternatives[0].transcript for r in results))
        assert all(r.language_code == language for r in results)
    score = wer(refs, hyps)
    print(f"\nWER {language}: {score:.3f} over {len(prompts)} prompts")
    assert score <= WER_LIMITS[language], list(zip(refs, hyps))


def test_mulaw_8k_stream_with_words_and_events(recognizer):
    p = pick_prompts("en", 1)[0]
    pcm, rate = read_pcm(p.path)
    pcm = np.concatenate([np.zeros(rate // 2, np.int16), pcm, np.zeros(rate, np.int16)])
    data = kernels.mulaw_encode(pcm).tobytes()
    responses = list(recognizer.StreamingRecognize(
        stream_requests(data, audio_pb2.MULAW, 8000, "en", chunk_ms=20, words=True)))
    events = [(r.speech_event_type, r.speech_event_time.ToTimedelta().total_seconds())
              for r in responses if r.speech_event_type]
    assert [e[0] for e in events] == [recognizer_pb2.SPEECH_STARTED, recognizer_pb2.SPEECH_ENDED]
    assert 0.3 <= events[0][1] <= 0.8
    (final,) = finals(responses)
    alt = final.alternatives[0]
    assert wer([p.text], [alt.transcript]) <= 0.15
    assert 0 < alt.confidence <= 1
    assert len(alt.words) >= 5
    starts = [w.start_time.ToTimedelta().total_seconds() for w in alt.words]
    assert starts == sorted(starts)
    assert 0.2 <= starts[0] <= 1.2  # stream time (pre-roll included): speech starts after 0.5 s
    assert all(0 <= w.confidence <= 1 for w in alt.words)


def test_multi_utterance_stream_gives_two_finals(recognizer):
    a, b = pick_prompts("en", 2)
    pa, rate = read_pcm(a.path)
    pb, _ = read_pcm(b.path)
    pause = np.zeros(rate * 2, np.int16)
    data = np.concatenate([pa, pause, pb, pause]).tobytes()
    responses = list(recognizer.StreamingRecognize(stream_requests(data, audio_pb2.LINEAR16, rate, "en", interim=True)))
    fin = finals(responses)
    assert [r.utterance_index for r in fin] == [0, 1]
    assert wer([a.text], [fin[0].alternatives[0].transcript]) <= 0.2
    assert wer([b.text], [fin[1].alternatives[0].transcript]) <= 0.2
    assert fin[1].result_start_time.ToTimedelta() > fin[0].result_end_time.ToTimedelta()
    assert all(r.stability == 1.0 for r in fin)


def test_language_detection_when_not_given(recognizer):
    p = pick_prompts("fr", 1)[0]
    pcm, rate = read_pcm(p.path)
    data = np.concatenate([pcm, np.zeros(rate, np.int16)]).tobytes()
    (final,) = finals(recognizer.StreamingRecognize(stream_requests(data, audio_pb2.LINEAR16, rate, "")))
    assert final.language_code == "fr"


def test_recognize_unary_raw_and_wav(recognizer):
    p = pick_prompts("en", 1)[0]
    pcm, rate = read_pcm(p.path)
    raw = recognizer.Recognize(recognizer_pb2.RecognizeRequest(
        config=recognizer_pb2.RecognitionConfig(encoding=audio_pb2.LINEAR16, sample_rate_hertz=rate, language_code="en"),
        audio_content=pcm.tobytes()))
    wav = recognizer.Recognize(recognizer_pb2.RecognizeRequest(
        config=recognizer_pb2.RecognitionConfig(language_code="en"), audio_content=p.path.read_bytes()))
    for resp in (raw, wav):
        assert len(resp.results) == 1
        assert wer([p.text], [resp.results[0].alternatives[0].transcript]) <= 0.15
        assert abs(resp.total_audio_duration.ToTimedelta().total_seconds() - len(pcm) / rate) < 0.01


def test_max_alternatives_gives_distinct_readings_of_finals_best_first(recognizer):
    p = pick_prompts("en", 1)[0]
    pcm, rate = read_pcm(p.path)
    config = recognizer_pb2.RecognitionConfig(encoding=audio_pb2.LINEAR16, sample_rate_hertz=rate, language_code="en",
                                              enable_word_time_offsets=True, max_alternatives=3)
    unary = recognizer.Recognize(recognizer_pb2.RecognizeRequest(config=config, audio_content=pcm.tobytes()))
    requests = [recognizer_pb2.StreamingRecognizeRequest(
        streaming_config=recognizer_pb2.StreamingRecognitionConfig(config=config, interim_results=True))]
    requests += [recognizer_pb2.StreamingRecognizeRequest(audio_content=pcm[i:i + 1600].tobytes())
                 for i in range(0, pcm.size, 1600)]
    streamed = list(recognizer.StreamingRecognize(iter(requests)))
    for result in [*unary.results, *finals(streamed)]:
        texts = [a.transcript for a in result.alternatives]
        assert 2 <= len(texts) <= 3 and len(set(texts)) == len(texts)
        assert wer([p.text], [texts[0]]) <= 0.15
        assert result.alternatives[0].words and not any(a.words for a in result.alternatives[1:])
        assert all(0 < a.confidence <= 1 for a in result.alternatives)
    assert all(len(r.alternatives) == 1 for resp in streamed for r in resp.results if not r.is_final)


def test_tts_round_trip(synthesizer, recognizer):
    # Piper samples noise, so each synthesis differs a little: the bound allows 2 of 14 words
    text = "Your appointment with the bank is confirmed for Monday morning."
    chunks = list(synthesizer.Synthesize(synthesizer_pb2.SynthesizeRequest(text=text + " Thank you for calling.")))
    assert len(chunks) >= 2 and sorted({c.sentence_index for c in chunks}) == [0, 1]
    assert chunks[0].sample_rate_hertz == 22050 and chunks[0].text.startswith("Your")
    audio = b"".join(c.audio_content for c in chunks)
    resp = recognizer.Recognize(recognizer_pb2.RecognizeRequest(
        config=recognizer_pb2.RecognitionConfig(encoding=audio_pb2.LINEAR16, sample_rate_hertz=22050, language_code="en"),
        audio_content=audio))
    got = " ".join(r.alternatives[0].transcript for r in resp.results)
    assert wer([text + " Thank you for calling."], [got]) <= 0.15, got


@pytest.mark.parametrize("encoding, rate", [(audio_pb2.MULAW, 8000), (audio_pb2.ALAW, 8000), (audio_pb2.LINEAR16, 16000)])
def test_tts_formats(synthesizer, encoding, rate):
    chunks = list(synthesizer.Synthesize(synthesizer_pb2.SynthesizeRequest(
        text="Hello from the voice service.", encoding=encoding, sample_rate_hertz=rate)))
    data = b"".join(c.audio_content for c in chunks)
    assert {c.sample_rate_hertz for c in chunks} == {rate} and {c.encoding for c in chunks} == {encoding}
    if encoding == audio_pb2.LINEAR16:
        pcm = np.frombuffer(data, "<i2")
    else:
        pcm = (kernels.mulaw_decode if encoding == audio_pb2.MULAW else kernels.alaw_decode)(np.frombuffer(data, np.uint8))
    seconds = pcm.size / rate
    assert 1.0 < seconds < 4.0
    assert np.sqrt(np.mean(pcm.astype(np.float64) ** 2)) > 500  # audible, not silence


def test_list_voices(synthesizer):
    voices = synthesizer.ListVoices(synthesizer_pb2.ListVoicesRequest()).voices
    joe = [v for v in voices if v.name == "en_US-joe-medium"]
    assert joe and joe[0].language_code == "en-US" and joe[0].sample_rate_hertz == 22050 and joe[0].neural
    assert not synthesizer.ListVoices(synthesizer_pb2.ListVoicesRequest(language_code="xx")).voices


# -- bad input ------------------------------------------------------------------------
def _config_request(**cfg):
    cfg.setdefault("encoding", audio_pb2.LINEAR16)
    cfg.setdefault("sample_rate_hertz", 16000)
    return recognizer_pb2.StreamingRecognizeRequest(streaming_config=recognizer_pb2.StreamingRecognitionConfig(
        config=recognizer_pb2.RecognitionConfig(**cfg)))


def _audio(n=3200):
    return recognizer_pb2.StreamingRecognizeRequest(audio_content=b"\0" * n)


@pytest.mark.parametrize(
    "requests, field",
    [
        ([], "streaming_config"),
        ([_audio()], "streaming_config"),
        ([_config_request(), _audio(), _config_request()], "streaming_config: only the first"),
        ([_config_request(encoding=audio_pb2.ENCODING_UNSPECIFIED)], "config.encoding"),
        ([_config_request(encoding=42)], "config.encoding"),
        ([_config_request(sample_rate_hertz=4000)], "config.sample_rate_hertz"),
        ([_config_request(sample_rate_hertz=96000)], "config.sample_rate_hertz"),
        ([_config_request(), _audio(3201)], "audio_content"),
        ([_config_request(language_code="xx-YY")], "config.language_code"),
        ([_config_request(model="no-such-model")], "config.model"),
        ([_config_request(endpointing=recognizer_pb2.EndpointingConfig(vad_aggressiveness=7))],
         "endpointing.vad_aggressiveness"),
    ],
)
def test_streaming_bad_input(recognizer, requests, field):
    with pytest.raises(grpc.RpcError) as err:
        list(recognizer.StreamingRecognize(iter(requests)))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in err.value.details()


def test_bad_chunk_keeps_what_was_accepted(recognizer):
    """An odd-length chunk after a whole utterance: the final still arrives, then the error."""
    p = pick_prompts("en", 1)[0]
    pcm, rate = read_pcm(p.path)
    data = np.concatenate([pcm, np.zeros(rate, np.int16)]).tobytes()
    requests = list(stream_requests(data, audio_pb2.LINEAR16, rate, "en")) + [_audio(3)]
    call = recognizer.StreamingRecognize(iter(requests))
    got = []
    with pytest.raises(grpc.RpcError) as err:
        for resp in call:
            got.append(resp)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "audio_content" in err.value.details()
    assert len(finals(got)) == 1


@pytest.mark.parametrize(
    "request_kwargs, field",
    [
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "hi", "voice": "nobody"}, "voice"),
        ({"text": "hi", "language_code": "xx"}, "language_code"),
        ({"text": "hi", "encoding": 42}, "encoding"),
        ({"text": "hi", "sample_rate_hertz": 1000}, "sample_rate_hertz"),
        ({"text": "hi", "speaking_rate": 9.0}, "speaking_rate"),
    ],
)
def test_synthesize_bad_input(synthesizer, request_kwargs, field):
    with pytest.raises(grpc.RpcError) as err:
        list(synthesizer.Synthesize(synthesizer_pb2.SynthesizeRequest(**request_kwargs)))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details().startswith(field)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"audio_content": b""}, "audio_content"),
        ({"audio_content": b"RIFF\0\0\0\0WAVEjunk"}, "audio_content"),
        ({"audio_content": b"\0\0", "config": recognizer_pb2.RecognitionConfig(sample_rate_hertz=16000)}, "config.encoding"),
    ],
)
def test_recognize_bad_input(recognizer, kwargs, field):
    with pytest.raises(grpc.RpcError) as err:
        recognizer.Recognize(recognizer_pb2.RecognizeRequest(**kwargs))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and field in err.value.details()


def test_client_disconnect_frees_session(server, recognizer):
    p = pick_prompts("en", 1)[0]
    pcm, rate = read_pcm(p.path)

    def slow():
        yield _config_request(sample_rate_hertz=rate, language_code="en")
        for i in range(0, pcm.size, 800):
            yield recognizer_pb2.StreamingRecognizeRequest(audio_content=pcm[i:i + 800].tobytes())
            time.sleep(0.05)

    call = recognizer.StreamingRecognize(slow())
    deadline = time.monotonic() + 30
    while server.server.service.admission.active("recognition") == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.server.service.admission.active("recognition") == 1
    call.cancel()
    while server.server.service.admission.active("recognition") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.server.service.admission.active("recognition") == 0
