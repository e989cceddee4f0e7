"""The Riva door with the real ``nvidia-riva-client`` package, unchanged, against the running
server: files streamed and recognised the way Riva's own scripts do it (``transcribe_file.py``:
``AudioChunkFileIterator`` + ``ASRService.streaming_response_generator``;
``transcribe_file_offline.py``: the file's bytes + ``offline_recognize``), model and voice
listing as ``--list-models`` / ``talk.py --list-voices`` read them, synthesis to a WAV file as
``talk.py`` writes it, streaming synthesis, and clear errors for Riva features we do not have.

The package ships no scripts (``pip show -f nvidia-riva-client``: the library only), so the
scripts' calls are made here as the scripts make them. One server for the session (plugin).
"""

from __future__ import annotations

import functools
import io
import threading
import time
import wave

import grpc
import numpy as np
import pytest
import riva.client
import soundfile as sf
from riva.client.proto import riva_asr_pb2, riva_tts_pb2

from voice.core.audio import resample
from voice.testing.prompts import pick_prompts, wer

GAP_S = 1.0  # silence between the prompts: one final each at the default endpointing
WER_LIMIT = 0.15
TEXT = "Your card is blocked. We will send you another card this week."


@functools.cache
def _prompts():
    """Three English prompts with their texts (read when the first test needs them)."""
    return pick_prompts("en", 3, min_words=6)


@pytest.fixture(scope="module")
def auth(server):
    return riva.client.Auth(uri=server.address)


@pytest.fixture(scope="module")
def asr(auth):
    return riva.client.ASRService(auth)


@pytest.fixture(scope="module")
def tts(auth):
    return riva.client.SpeechSynthesisService(auth)


def _joined(rate: int) -> np.ndarray:
    """The prompts at ``rate`` (float32), GAP_S of silence before, between and after them."""
    gap = np.zeros(int(GAP_S * rate), np.float32)
    parts = [gap]
    for p in _prompts():
        audio, sr = sf.read(p.path, dtype="float32")
        parts += [resample(audio, sr, rate), gap]
    return np.concatenate(parts)


@pytest.fixture(scope="module")
def wav_files(tmp_path_factory):
    """The prompts as a 16 kHz 16-bit WAV and an 8 kHz mu-law WAV (G.711 WAV, format tag 7)."""
    folder = tmp_path_factory.mktemp("riva")
    files = {"16k": folder / "prompts-16k.wav", "8k-mulaw": folder / "prompts-8k-mulaw.wav"}
    sf.write(files["16k"], _joined(16000), 16000, subtype="PCM_16")
    sf.write(files["8k-mulaw"], _joined(8000), 8000, subtype="ULAW")
    return files


def _reference() -> list[str]:
    return [" ".join(p.text for p in _prompts())]


def _streaming_config(**config) -> riva_asr_pb2.StreamingRecognitionConfig:
    # what transcribe_file.py builds (its defaults: en-US, one alternative, verbatim transcripts)
    base = dict(language_code="en-US", max_alternatives=1, profanity_filter=False,
                enable_automatic_punctuation=False, verbatim_transcripts=True, enable_word_time_offsets=True)
    return riva.client.StreamingRecognitionConfig(config=riva.client.RecognitionConfig(**{**base, **config}),
                                                  interim_results=True)


def _stream_file(asr, path, config, delay=None) -> list:
    with riva.client.AudioChunkFileIterator(str(path), 1600, delay) as chunks:
        return list(asr.streaming_response_generator(audio_chunks=chunks, streaming_config=config))


def _finals(responses) -> list:
    return [r for resp in responses for r in resp.results if r.is_final]


def _check_words(results, duration_s: float) -> None:
    words = [w for r in results for w in r.alternatives[0].words]
    assert words, "word time offsets were asked for"
    starts = [w.start_time for w in words]
    assert starts == sorted(starts) and all(w.start_time <= w.end_time for w in words)
    assert 0 <= starts[0] and words[-1].end_time <= duration_s * 1000 + 50  # milliseconds, as Riva
    assert all(0.0 <= w.confidence <= 1.0 for w in words)
    assert all(0.0 < r.alternatives[0].confidence <= 1.0 for r in results)


# -- recognition ----------------------------------------------------------------------------------

def test_streaming_wav_8k_mulaw_header_read_from_file(asr, wav_files):
    """transcribe_file.py on an 8 kHz mu-law WAV: the file's bytes, header first, encoding and
    rate left unset (the client's ``wave`` module cannot read G.711 WAVs, so it sends plain
    1600-byte pieces of the file)."""
    config = _streaming_config()
    assert config.config.encoding == 0 and config.config.sample_rate_hertz == 0
    finals = _finals(_stream_file(asr, wav_files["8k-mulaw"], config))
    assert len(finals) == len(_prompts())
    assert all(len(r.alternatives) == 1 and r.alternatives[0].language_code == ["en"] for r in finals)
    assert all(r.alternatives[0].transcript.endswith(" ") for r in finals)  # Riva's finals do
    assert wer(_reference(), ["".join(r.alternatives[0].transcript for r in finals)]) <= WER_LIMIT
    _check_words(finals, len(_joined(8000)) / 8000)
    assert [r.audio_processed for r in finals] == sorted(r.audio_processed for r in finals)


def test_streaming_wav_16k_real_time_interims(asr, wav_files):
    """A 16 kHz WAV at the speaker's pace (``transcribe_file.py --simulate-realtime``): interim
    results with their stability before the finals, as the client's print_streaming shows them."""
    config = _streaming_config(enable_word_time_offsets=False)
    responses = _stream_file(asr, wav_files["16k"], config, riva.client.sleep_audio_length)
    finals = _finals(responses)
    assert len(finals) == len(_prompts())
    assert wer(_reference(), ["".join(r.alternatives[0].transcript for r in finals)]) <= WER_LIMIT
    interims = [r for resp in responses for r in resp.results if not r.is_final]
    assert interims, "interim results were asked for, at real-time pace"
    assert all(0.0 < r.stability < 1.0 for r in interims)
    out = io.StringIO()
    riva.client.print_streaming(iter(responses), output_file=[out], additional_info="confidence")
    printed = out.getvalue()
    assert "Stability:" in printed and printed.count("## ") == len(finals)


def _check_alternatives(results, most: int) -> None:
    """n-best as Riva gives them: at most ``most``, distinct, the first with the words, and
    more than one for some result."""
    for r in results:
        texts = [a.transcript for a in r.alternatives]
        assert 1 <= len(texts) <= most and len(set(texts)) == len(texts), texts
        assert all(t.endswith(" ") for t in texts) and all(0.0 < a.confidence <= 1.0 for a in r.alternatives)
        assert all(not a.words for a in r.alternatives[1:])
    assert any(len(r.alternatives) > 1 for r in results)


def test_streaming_raw_linear_pcm(asr):
    """A header-less stream: LINEAR_PCM at 8 kHz, as a microphone client sends it, with three
    alternatives asked: finals carry the n-best, interims one reading."""
    audio, rate = sf.read(_prompts()[0].path, dtype="int16")
    data = audio.tobytes()
    config = _streaming_config(encoding=riva.client.AudioEncoding.LINEAR_PCM, sample_rate_hertz=rate,
                               max_alternatives=3)
    chunks = [data[i:i + 1600] for i in range(0, len(data), 1600)]
    responses = list(asr.streaming_response_generator(audio_chunks=chunks, streaming_config=config))
    finals = _finals(responses)
    assert wer([_prompts()[0].text], ["".join(r.alternatives[0].transcript for r in finals)]) <= WER_LIMIT
    _check_alternatives(finals, 3)
    assert all(len(r.alternatives) == 1 for resp in responses for r in resp.results if not r.is_final)


@pytest.mark.parametrize("fmt,subtype,encoding", [("FLAC", "PCM_16", None), ("OGG", "OPUS", "OGGOPUS")])
def test_streaming_flac_and_ogg_opus(asr, tmp_path, fmt, subtype, encoding):
    """A FLAC file streamed as transcribe_file.py streams any file (encoding unset), and Ogg
    Opus with its encoding set, as a live Opus encoder's client would: decoded as they arrive."""
    path = tmp_path / f"prompts.{fmt.lower()}"
    sf.write(path, _joined(16000), 16000, format=fmt, subtype=subtype)
    config = _streaming_config() if encoding is None else _streaming_config(
        encoding=getattr(riva.client.AudioEncoding, encoding), sample_rate_hertz=16000)
    finals = _finals(_stream_file(asr, path, config))
    assert len(finals) == len(_prompts())
    assert wer(_reference(), ["".join(r.alternatives[0].transcript for r in finals)]) <= WER_LIMIT
    _check_words(finals, len(_joined(16000)) / 16000)
    # the config may not contradict what the stream is
    config = _streaming_config(encoding=riva.client.AudioEncoding.LINEAR_PCM, sample_rate_hertz=16000)
    err = _error(lambda: _stream_file(asr, path, config))
    assert err.details().startswith("streaming_config.config.encoding: LINEAR_PCM but the stream is "
                                    f"{encoding or fmt}"), err.details()


@pytest.mark.parametrize("name", ["16k", "8k-mulaw"])
def test_offline_wav(asr, wav_files, name):
    """transcribe_file_offline.py: the whole file in one request (the header decides the format),
    with its three alternatives (the n-best of each utterance's beam search)."""
    path = wav_files[name]
    config = riva.client.RecognitionConfig(language_code="en-US", max_alternatives=3, enable_word_time_offsets=True,
                                           verbatim_transcripts=True)
    riva.client.add_audio_file_specs_to_config(config, path)
    riva.client.add_word_boosting_to_config(config, ["agent number"], 4.0)
    response = asr.offline_recognize(path.read_bytes(), config)
    assert len(response.results) == len(_prompts())
    _check_alternatives(response.results, 3)
    text = "".join(r.alternatives[0].transcript for r in response.results)
    assert wer(_reference(), [text]) <= WER_LIMIT
    _check_words(response.results, sf.info(str(path)).duration)


@pytest.mark.parametrize("fmt,subtype,encoding", [("FLAC", "PCM_16", "FLAC"), ("OGG", "OPUS", "OGGOPUS")])
def test_offline_flac_and_ogg_opus(asr, fmt, subtype, encoding):
    audio, rate = sf.read(_prompts()[1].path, dtype="float32")
    buf = io.BytesIO()
    sf.write(buf, resample(audio, rate, 16000), 16000, format=fmt, subtype=subtype)
    config = riva.client.RecognitionConfig(encoding=getattr(riva.client.AudioEncoding, encoding),
                                           language_code="en-US", max_alternatives=1)
    response = asr.offline_recognize(buf.getvalue(), config)
    assert wer([_prompts()[1].text], ["".join(r.alternatives[0].transcript for r in response.results)]) <= WER_LIMIT


def test_offline_language_code(asr):
    """Riva's language codes (es-US) pick the language; "multi" detects it per utterance."""
    prompt = pick_prompts("es", 1, min_words=6)[0]
    data = prompt.path.read_bytes()
    for code in ("es-US", "multi"):
        response = asr.offline_recognize(data, riva.client.RecognitionConfig(language_code=code))
        assert [r.alternatives[0].language_code for r in response.results] == [["es"]] * len(response.results)
        assert wer([prompt.text], ["".join(r.alternatives[0].transcript for r in response.results)]) <= 0.4


def test_endpointing_config(asr, wav_files):
    """stop_history (with stop_threshold) sets the trailing silence that ends an utterance: a
    window longer than the gaps between the prompts keeps them in one result."""
    data = wav_files["16k"].read_bytes()

    def results(**endpoint):
        config = riva.client.RecognitionConfig(language_code="en-US")
        args = dict(start_history=-1, start_threshold=-1.0, stop_history=-1, stop_history_eou=-1,
                    stop_threshold=-1.0, stop_threshold_eou=-1.0)
        riva.client.add_endpoint_parameters_to_config(config, **{**args, **endpoint})
        return asr.offline_recognize(data, config).results

    assert len(results()) == len(_prompts())
    joined = results(start_history=300, start_threshold=0.2, stop_history=2500, stop_threshold=1.0)
    assert len(joined) == 1
    assert wer(_reference(), [joined[0].alternatives[0].transcript]) <= WER_LIMIT


def test_list_models(asr):
    """transcribe_file.py --list-models: models of type "online" by language_code."""
    response = asr.stub.GetRivaSpeechRecognitionConfig(riva_asr_pb2.RivaSpeechRecognitionConfigRequest())
    models: dict[str, list] = {}
    for model_config in response.model_config:
        if model_config.parameters["type"] == "online":
            models.setdefault(model_config.parameters["language_code"], []).append(
                {"model": [model_config.model_name]})
    assert {"model": ["base"]} in models["en"] and {"model": ["tiny.en"]} in models["en"]
    assert {"model": ["base"]} in models["es"] and {"model": ["tiny.en"]} not in models["es"]
    offline = {c.model_name for c in response.model_config if c.parameters["type"] == "offline"}
    assert offline == {"base", "tiny.en"}
    one = asr.stub.GetRivaSpeechRecognitionConfig(riva_asr_pb2.RivaSpeechRecognitionConfigRequest(model_name="tiny.en"))
    assert {c.parameters["language_code"] for c in one.model_config} == {"en"}


# -- synthesis ------------------------------------------------------------------------------------

def _voices(tts) -> dict:
    """talk.py --list-voices, as it reads the config."""
    response = tts.stub.GetRivaSynthesisConfig(riva_tts_pb2.RivaSynthesisConfigRequest())
    voices: dict[str, dict] = {}
    for model_config in response.model_config:
        language_code = model_config.parameters["language_code"]
        voice_name = model_config.parameters["voice_name"]
        subvoices = [voice.split(":")[0] for voice in model_config.parameters["subvoices"].split(",")]
        voices.setdefault(language_code, {"voices": []})["voices"].extend(f"{voice_name}.{s}" for s in subvoices)
    return voices


def test_list_voices(tts):
    voices = _voices(tts)
    assert "en_US-joe-medium.default" in voices["en-US"]["voices"]
    assert any(v.startswith("espeak-") for v in voices["fr-FR"]["voices"])


def _recognize(asr, wav: bytes) -> str:
    response = asr.offline_recognize(wav, riva.client.RecognitionConfig(language_code="en-US"))
    return "".join(r.alternatives[0].transcript for r in response.results)


def test_synthesize_to_file(tts, asr, tmp_path):
    """talk.py: Synthesize at 44.1 kHz, raw samples written into a WAV it opens itself; the
    file is speech that our recogniser reads back."""
    listed = _voices(tts)["en-US"]["voices"][0]
    response = tts.synthesize(TEXT, listed, "en-US", sample_rate_hz=44100)
    path = tmp_path / "output.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(44100)
        out.writeframesraw(response.audio)
    audio, rate = sf.read(path, dtype="int16")
    assert rate == 44100 and 1.5 < audio.size / rate < 8
    assert np.sqrt(np.mean(audio.astype(np.float64) ** 2)) > 300
    assert response.meta.text == TEXT
    assert wer([TEXT], [_recognize(asr, path.read_bytes())]) <= 0.2


def test_synthesize_ogg_opus(tts, asr):
    """talk.py --encoding OGGOPUS: an Ogg Opus file (coded at 48 kHz for the 44.1 kHz asked)."""
    response = tts.synthesize(TEXT, None, "en-US", encoding=riva.client.AudioEncoding.OGGOPUS, sample_rate_hz=44100)
    assert response.audio[:4] == b"OggS"
    audio, rate = sf.read(io.BytesIO(response.audio), dtype="int16")
    assert rate == 48000 and 1.5 < audio.size / rate < 8
    config = riva.client.RecognitionConfig(encoding=riva.client.AudioEncoding.OGGOPUS, language_code="en-US")
    text = "".join(r.alternatives[0].transcript for r in asr.offline_recognize(response.audio, config).results)
    assert wer([TEXT], [text]) <= 0.2


def _wav(pcm: bytes, rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return buf.getvalue()


def test_synthesize_online_streams_texts(tts, asr):
    """The installed client's SynthesizeOnline: one request per text, audio in many chunks."""
    texts = ["Your card is blocked.", "We will send you another card this week"]
    responses = list(tts.synthesize_online(texts, None, "en-US", sample_rate_hz=16000))
    assert len(responses) > 3
    assert wer([" ".join(texts)], [_recognize(asr, _wav(b"".join(r.audio for r in responses), 16000))]) <= 0.2


def test_synthesize_online_ogg_opus(tts):
    """SynthesizeOnline with encoding OGGOPUS: Ogg pages as the audio comes; the chunks joined are
    one Ogg Opus file (soundfile and PyAV read it) as long as the same text's raw samples."""
    texts = ["Your card is blocked.", "We will send you another card this week"]
    pcm = b"".join(r.audio for r in tts.synthesize_online(texts, None, "en-US", sample_rate_hz=16000))
    responses = list(tts.synthesize_online(texts, None, "en-US", sample_rate_hz=16000,
                                           encoding=riva.client.AudioEncoding.OGGOPUS))
    assert len(responses) > 3 and all(r.audio[:4] == b"OggS" for r in responses)
    assert " ".join(r.meta.text for r in responses if r.meta.text) == " ".join(texts)
    ogg = b"".join(r.audio for r in responses)
    audio, rate = sf.read(io.BytesIO(ogg), dtype="int16")
    expected_s = len(pcm) / 2 / 16000
    assert rate == 16000 and abs(audio.size / rate - expected_s) < 0.05, (audio.size / rate, expected_s)
    assert np.sqrt(np.mean(audio.astype(np.float64) ** 2)) > 300
    import av

    with av.open(io.BytesIO(ogg)) as container:
        stream = container.streams.audio[0]
        decoded = sum(frame.samples for frame in container.decode(stream)) / stream.rate
    assert stream.codec_context.name == "opus" and abs(decoded - expected_s) < 0.05


def test_synthesize_online_single_request_form(auth, asr):
    """An older client: SynthesizeOnline as one request, a stream of audio back."""
    call = auth.channel.unary_stream(
        "/nvidia.riva.tts.RivaSpeechSynthesis/SynthesizeOnline",
        request_serializer=riva_tts_pb2.SynthesizeSpeechRequest.SerializeToString,
        response_deserializer=riva_tts_pb2.SynthesizeSpeechResponse.FromString)
    request = riva_tts_pb2.SynthesizeSpeechRequest(text=TEXT, language_code="en-US", sample_rate_hz=8000,
                                                   encoding=riva.client.AudioEncoding.MULAW,
                                                   voice_name="en_US-joe-medium.default")
    request.id.value = "call-7"
    responses = list(call(request, timeout=60))
    assert len(responses) > 3 and all(r.id.value == "call-7" for r in responses)
    mulaw = b"".join(r.audio for r in responses)
    buf = io.BytesIO()
    sf.write(buf, sf.read(io.BytesIO(mulaw), samplerate=8000, channels=1, format="RAW", subtype="ULAW",
                          dtype="int16")[0], 8000, format="WAV", subtype="PCM_16")
    assert wer([TEXT], [_recognize(asr, buf.getvalue())]) <= 0.2


# -- errors ---------------------------------------------------------------------------------------

def _error(fn) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as err:
        fn()
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return err.value


def test_unsupported_features_name_their_field(asr, tts, wav_files):
    data = wav_files["8k-mulaw"].read_bytes()
    cases = {
        "config.profanity_filter": riva.client.RecognitionConfig(profanity_filter=True),
        "config.diarization_config.enable_speaker_diarization": None,
        "config.speech_contexts[0].boost": None,
        "config.endpointing_config.stop_history_eou": None,
        "config.endpointing_config.stop_threshold": None,
        "config.custom_configuration.speaker_count": None,
        "config.max_alternatives": riva.client.RecognitionConfig(max_alternatives=-1),
    }
    cases["config.diarization_config.enable_speaker_diarization"] = c = riva.client.RecognitionConfig()
    riva.client.add_speaker_diarization_to_config(c, True, 2)
    cases["config.speech_contexts[0].boost"] = c = riva.client.RecognitionConfig()
    riva.client.add_word_boosting_to_config(c, ["card"], -10.0)
    cases["config.endpointing_config.stop_history_eou"] = c = riva.client.RecognitionConfig()
    riva.client.add_endpoint_parameters_to_config(c, -1, -1.0, -1, 240, -1.0, -1.0)
    cases["config.endpointing_config.stop_threshold"] = c = riva.client.RecognitionConfig()
    riva.client.add_endpoint_parameters_to_config(c, -1, -1.0, 800, -1, 1.5, -1.0)
    cases["config.custom_configuration.speaker_count"] = c = riva.client.RecognitionConfig()
    riva.client.add_custom_configuration_to_config(c, "speaker_count:2")
    for field, config in cases.items():
        err = _error(lambda config=config: asr.offline_recognize(data, config))
        assert err.details().startswith(f"{field}: "), err.details()
    # in a stream the field is under streaming_config, as in the message
    config = riva.client.StreamingRecognitionConfig(config=riva.client.RecognitionConfig(profanity_filter=True))
    err = _error(lambda: _stream_file(asr, wav_files["16k"], config))
    assert err.details().startswith("streaming_config.config.profanity_filter: ")
    # a stream whose config contradicts its WAV header
    config = riva.client.StreamingRecognitionConfig(config=riva.client.RecognitionConfig(sample_rate_hertz=16000))
    err = _error(lambda: _stream_file(asr, wav_files["8k-mulaw"], config))
    assert err.details().startswith("streaming_config.config.sample_rate_hertz: ") and "8000" in err.details()
    # raw bytes declared FLAC; bytes that start like Ogg but are not
    config = riva.client.StreamingRecognitionConfig(config=riva.client.RecognitionConfig(
        encoding=riva.client.AudioEncoding.FLAC))
    err = _error(lambda: list(asr.streaming_response_generator([b"\0\1" * 800], config)))
    assert err.details().startswith("audio_content: encoding FLAC needs a FLAC file"), err.details()
    err = _error(lambda: list(asr.streaming_response_generator([b"OggS" + b"\x07" * 4000], _streaming_config())))
    assert err.details().startswith("audio_content: not a readable OGGOPUS stream"), err.details()
    # raw audio without an encoding
    err = _error(lambda: asr.offline_recognize(b"\0\0" * 8000, riva.client.RecognitionConfig()))
    assert err.details().startswith("config.encoding: missing")
    # synthesis
    err = _error(lambda: tts.synthesize(TEXT, custom_dictionary={"card": "k aa r d"}))
    assert err.details().startswith("custom_dictionary: ")
    err = _error(lambda: tts.synthesize(TEXT, encoding=riva.client.AudioEncoding.FLAC))
    assert err.details().startswith("encoding: FLAC output is not supported")
    err = _error(lambda: list(tts.synthesize_online(TEXT, encoding=riva.client.AudioEncoding.FLAC)))
    assert err.details().startswith("encoding: FLAC output is not supported")
    err = _error(lambda: tts.synthesize(TEXT, voice_name="English-US.Female-1"))
    assert err.details().startswith("voice_name: ")
    err = _error(lambda: list(tts.synthesize_online(TEXT, sample_rate_hz=1000)))
    assert err.details().startswith("sample_rate_hz: ")


def test_bad_bytes_health_and_reflection(auth):
    """The Riva services get the server's cross-cutting rules: bytes that are not the request
    message are INVALID_ARGUMENT, health and reflection list them beside voice.v1."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    ident = dict(request_serializer=lambda b: b, response_deserializer=lambda b: b)
    for service in (riva_asr_pb2.DESCRIPTOR.services_by_name["RivaSpeechRecognition"],
                    riva_tts_pb2.DESCRIPTOR.services_by_name["RivaSpeechSynthesis"]):
        for method in service.methods:
            path = f"/{service.full_name}/{method.name}"
            garbage = b"\xff\xff\xff\xffgarbage"
            with pytest.raises(grpc.RpcError) as err:
                if method.client_streaming:
                    list(auth.channel.stream_stream(path, **ident)(iter([garbage]), timeout=30))
                else:
                    auth.channel.unary_unary(path, **ident)(garbage, timeout=30)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, path
            assert err.value.details().startswith(f"request: not a valid {method.input_type.full_name}")
        health = health_pb2_grpc.HealthStub(auth.channel).Check(
            health_pb2.HealthCheckRequest(service=service.full_name))
        assert health.status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(auth.channel)
    answer = next(reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
    names = {s.name for s in answer.list_services_response.service}
    assert {"nvidia.riva.asr.RivaSpeechRecognition", "nvidia.riva.tts.RivaSpeechSynthesis",
            "voice.v1.Recognizer"} <= names


def _eventually(predicate, timeout_s: float = 20.0) -> bool:
    """Poll a server-side state (a freed slot is released when the server sees the cancel)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_cancelled_calls_free_their_slots(asr, tts, server, wav_files):
    """A client that vanishes frees its admission slot: while the door waits for a WAV header,
    in the middle of the audio, and in the middle of streaming synthesis."""
    admission = server.server.service.admission
    data = wav_files["16k"].read_bytes()
    buf = io.BytesIO()
    sf.write(buf, _joined(16000), 16000, format="OGG", subtype="OPUS")
    ogg = buf.getvalue()
    # no audio yet / a second of the WAV file / of an Ogg Opus stream (its decoder thread ends too)
    for audio in ([], [data[:32000]], [ogg[i:i + 1600] for i in range(0, len(ogg) // 3, 1600)]):
        gate = threading.Event()

        def requests(audio=audio, gate=gate):
            yield riva_asr_pb2.StreamingRecognizeRequest(streaming_config=_streaming_config())
            for chunk in audio:
                yield riva_asr_pb2.StreamingRecognizeRequest(audio_content=chunk)
            gate.wait(60)

        call = asr.stub.StreamingRecognize(requests())
        assert _eventually(lambda: admission.active("recognition") == 1)
        if audio and audio[0].startswith(b"OggS"):
            assert _eventually(lambda: any(t.name == "riva-ogg" for t in threading.enumerate()))
        call.cancel()
        gate.set()
        assert _eventually(lambda: admission.active("recognition") == 0)
        assert _eventually(lambda: not any(t.name.startswith("riva-") for t in threading.enumerate()))
    responses = tts.synthesize_online(" ".join([TEXT] * 20), None, "en-US", sample_rate_hz=16000)
    next(responses)
    assert admission.active("synthesis") == 1
    responses.cancel()
    assert _eventually(lambda: admission.active("synthesis") == 0)
