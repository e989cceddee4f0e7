"""OpenAI's audio REST API, called with the official ``openai`` package unchanged
(``OpenAI(base_url=".../v1")``) against a real HTTP server with the real models.

Transcriptions of real Debian prompts in every response format and input format, a
translation (Spanish prompt -> English, scored against the English prompt of the same name),
SSE streaming both ways, speech in every format (decoded by ffmpeg through PyAV, an
independent decoder, and heard again by our recogniser), models and voices, and the errors:
bad parameters (400 naming the parameter, OpenAI's error JSON), a draining server (503) and a
full one (429 with Retry-After). One server for the module."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import threading
import time
from dataclasses import replace

import av
import httpx2 as httpx  # the HTTP client the openai package uses
import numpy as np
import openai
import pytest
import soundfile as sf

from voice.api.http import HttpServer
from voice.service import VoiceService
from voice.testing.prompts import load_prompts, normalize, wer

EN = load_prompts("en")
ES = load_prompts("es")
PROMPT = EN["agent-pass"]  # "Please enter your password followed by the pound key."
SECOND = EN["conf-extended"]  # "The conference has been extended."
SPEAK = "Your card is blocked. A new one is on its way. Thank you for calling."
RATE = 24000


class Served:
    """An HttpServer over its own VoiceService, in an event loop of its own thread."""

    def __init__(self, service: VoiceService):
        self.service = service
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.server = HttpServer(service, "127.0.0.1", 0)
        self.port = self.call(self.server.start())
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=300)

    def client(self, **kw) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url, api_key="x", max_retries=0, timeout=120, **kw)

    def stop(self) -> None:
        self.call(self.server.stop())
        self.call(self.service.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def served(engine):
    srv = Served(VoiceService(engine))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(served):
    with served.client() as c:
        yield c


def encoded(path, fmt: str, subtype: str | None = None) -> bytes:
    """A WAV prompt re-encoded by libsndfile (Opus at 16 kHz, its rates are fixed)."""
    audio, rate = sf.read(path, dtype="float32")
    if fmt == "OGG" and subtype == "OPUS":
        audio = np.interp(np.arange(len(audio) * 2) / 2, np.arange(len(audio)), audio).astype(np.float32)
        rate = 16000
    buf = io.BytesIO()
    sf.write(buf, audio, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def decoded(data: bytes) -> tuple[np.ndarray, int]:
    """Mono float samples and rate of a file, decoded by ffmpeg (PyAV)."""
    with av.open(io.BytesIO(data)) as container:
        rate = container.streams.audio[0].rate
        frames = [f.to_ndarray().astype(np.float32).reshape(-1) for f in container.decode(audio=0)]
    return np.concatenate(frames), rate


def close_to(text: str, reference: str, limit: float = 0.25) -> bool:
    return wer([reference], [text]) <= limit


# -- transcriptions ------------------------------------------------------------------------------

def test_transcription_in_every_response_format(client):
    audio = PROMPT.path.read_bytes()
    out = {}
    for fmt in ("json", "text", "srt", "vtt", "verbose_json"):
        kw = {"timestamp_granularities": ["word", "segment"]} if fmt == "verbose_json" else {}
        out[fmt] = client.audio.transcriptions.create(model="whisper-1", file=("agent-pass.wav", audio, "audio/wav"),
                                                      language="en", response_format=fmt, **kw)
    assert isinstance(out["json"], openai.types.audio.Transcription)
    assert close_to(out["json"].text, PROMPT.text), out["json"].text
    assert isinstance(out["text"], str) and normalize(out["text"]) == normalize(out["json"].text)
    srt = out["srt"].strip().splitlines()
    assert srt[0] == "1" and " --> " in srt[1] and "," in srt[1].split(" --> ")[0]
    assert normalize(" ".join(srt[2:])) == normalize(out["json"].text)
    vtt = out["vtt"].strip().splitlines()
    assert vtt[0] == "WEBVTT" and " --> " in vtt[2] and "." in vtt[2].split(" --> ")[0]
    verbose = out["verbose_json"]
    assert isinstance(verbose, openai.types.audio.TranscriptionVerbose)
    assert verbose.language == "english" and abs(verbose.duration - sf.info(PROMPT.path).duration) < 0.05
    assert normalize(verbose.text) == normalize(out["json"].text)
    assert len(verbose.segments) == 1 and 0 <= verbose.segments[0].start < verbose.segments[0].end <= verbose.duration
    words = verbose.words
    assert [normalize(w.word) for w in words if normalize(w.word)] == normalize(verbose.text).split()
    assert all(a.start <= b.start and w.start <= w.end for a, b in zip(words, words[1:]) for w in (a,))
    print(f"\nopenai json: {out['json'].text!r}; srt cue {srt[1]}; {len(words)} words")


@pytest.mark.parametrize("fmt,subtype,name", [("FLAC", None, "a.flac"), ("OGG", "OPUS", "a.opus"),
                                               ("OGG", "VORBIS", "a.ogg"), ("MP3", None, "a.mp3")])
def test_transcription_of_other_file_formats(client, fmt, subtype, name):
    data = encoded(PROMPT.path, fmt, subtype)
    text = client.audio.transcriptions.create(model="whisper-1", file=(name, data), language="en",
                                              response_format="text")
    assert close_to(text, PROMPT.text), (name, text)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK marks whisper-1 (and so translations) deprecated
def test_translation_into_english(client):
    spanish = ES["conf-getpin"]  # "Por favor ingrese la clave de entrada para la conferencia."
    english = EN["conf-getpin"].text  # "Please enter the conference pin number."
    file = ("conf-getpin.wav", spanish.path.read_bytes())
    heard = client.audio.transcriptions.create(model="whisper-1", file=file, language="es")
    translated = client.audio.translations.create(model="whisper-1", file=file, response_format="verbose_json")
    assert isinstance(translated, openai.types.audio.TranslationVerbose) and translated.language == "english"
    assert wer([spanish.text], [heard.text]) < 0.5, heard.text  # it heard Spanish...
    words = set(normalize(translated.text).split())
    assert {"please", "conference"} <= words, translated.text  # ...and said it in English
    assert not words & {"por", "favor", "conferencia", "la"}, translated.text
    print(f"\ntranslation: {heard.text!r} -> {translated.text!r} (reference {english!r})")


def test_streamed_transcription_one_delta_per_utterance(client):
    a, rate = sf.read(PROMPT.path, dtype="int16")
    b, _ = sf.read(SECOND.path, dtype="int16")
    joined = np.concatenate([a, np.zeros(rate * 3 // 2, np.int16), b])
    buf = io.BytesIO()
    sf.write(buf, joined, rate, format="WAV")
    events = list(client.audio.transcriptions.create(model="whisper-1", file=("two.wav", buf.getvalue()),
                                                     language="en", stream=True))
    kinds = [e.type for e in events]
    assert kinds == ["transcript.text.delta", "transcript.text.delta", "transcript.text.done"], kinds
    deltas = "".join(e.delta for e in events[:-1])
    assert events[-1].text == deltas
    assert close_to(events[-1].text, f"{PROMPT.text} {SECOND.text}"), events[-1].text


# -- speech ---------------------------------------------------------------------------------------

def heard(client, data: bytes, name: str) -> str:
    return client.audio.transcriptions.create(model="whisper-1", file=(name, data), language="en",
                                              response_format="text")


@pytest.mark.parametrize("fmt", ["wav", "pcm", "flac", "opus", "mp3"])
def test_speech_in_every_format(client, fmt):
    response = client.audio.speech.create(model="tts-1", voice="alloy", input=SPEAK, response_format=fmt)
    data = response.content
    if fmt == "pcm":
        assert response.response.headers["content-type"] == "audio/pcm"
        samples = np.frombuffer(data, "<i2").astype(np.float32) / 32768
        rate = RATE
        buf = io.BytesIO()
        sf.write(buf, samples, RATE, format="WAV")
        data = buf.getvalue()
    else:
        samples, rate = decoded(data)
    assert rate == (48000 if fmt == "opus" else RATE)  # Ogg Opus always decodes at 48 kHz
    seconds = len(samples) / rate
    assert 2.0 < seconds < 10.0 and np.sqrt(np.mean(samples ** 2)) > 0.01, (fmt, seconds)
    text = heard(client, data, f"speech.{'ogg' if fmt == 'opus' else fmt}")
    assert close_to(text, SPEAK), (fmt, text)
    print(f"\nspeech {fmt}: {len(response.content)} bytes, {seconds:.2f} s, heard {text.strip()!r}")


def test_speech_streamed_as_chunks_and_as_events(client, served):
    with client.audio.speech.with_streaming_response.create(model="tts-1", voice="alloy", input=SPEAK,
                                                            response_format="pcm") as response:
        assert response.headers.get("transfer-encoding") == "chunked"
        pieces = [p for p in response.iter_bytes() if p]
    assert len(pieces) > 1
    pcm = b"".join(pieces)
    with client.audio.speech.with_streaming_response.create(model="tts-1", voice="alloy", input=SPEAK,
                                                            response_format="pcm",
                                                            stream_format="sse") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]
    kinds = [e["type"] for e in events]
    assert len(kinds) > 2 and set(kinds[:-1]) == {"speech.audio.delta"} and kinds[-1] == "speech.audio.done"
    sse_pcm = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert sse_pcm == pcm  # deterministic TTS: the same audio either way
    assert served.service.admission.active("synthesis") == 0


def test_a_client_that_hangs_up_stops_the_synthesis(client, served, engine, caplog):
    long_text = " ".join([SPEAK] * 12)  # 36 sentences
    with caplog.at_level(logging.DEBUG, logger="voice.service.synthesis"):
        with client.audio.speech.with_streaming_response.create(model="tts-1", voice="alloy", input=long_text,
                                                                response_format="mp3") as response:
            assert next(response.iter_bytes())
        began = time.monotonic()
        while served.service.admission.active("synthesis") or engine.synthesizer(engine.catalogue.default).in_use:
            assert time.monotonic() - began < 20, "the synthesis was not stopped"
            time.sleep(0.05)
    cancelled = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Synthesis cancelled after")]
    assert cancelled, "the job ran to its end"
    done, total = map(int, cancelled[0].split("after ")[1].split(" pieces")[0].split(" of "))
    assert done < total, cancelled[0]


# -- listings -------------------------------------------------------------------------------------

def test_models_and_voices(client, engine):
    ids = [m.id for m in client.models.list()]
    assert {"base", "tiny.en", "whisper-1", "tts-1"} <= set(ids)
    assert client.models.retrieve("whisper-1").id == "whisper-1"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")
    voices = client.get("/audio/voices", cast_to=object)["voices"]
    default = [v for v in voices if v["default"]]
    assert len(default) == 1 and default[0]["id"] == engine.catalogue.default.name
    assert any(v["language"].startswith("fr") for v in voices)
    french = client.get("/audio/voices", cast_to=object, options={"params": {"language": "fr"}})["voices"]
    assert french and all(v["language"].startswith("fr") for v in french)
    # a listed voice speaks; a French one for French text
    audio = client.audio.speech.create(model="tts-1", voice=french[0]["id"], input="Bonjour et bienvenue.",
                                       response_format="wav").content
    assert len(decoded(audio)[0]) > RATE // 2


# -- errors ---------------------------------------------------------------------------------------

def bad(call) -> openai.BadRequestError:
    with pytest.raises(openai.BadRequestError) as info:
        call()
    err = info.value
    assert err.status_code == 400 and err.type == "invalid_request_error"
    assert set(err.body) == {"message", "type", "param", "code"} and err.param in err.message
    return err


def test_bad_parameters_are_400s_naming_the_parameter(client):
    audio = ("a.wav", PROMPT.path.read_bytes())
    cases = {
        "response_format": lambda: client.audio.transcriptions.create(model="whisper-1", file=audio,
                                                                      response_format="xml"),
        "language": lambda: client.audio.transcriptions.create(model="whisper-1", file=audio, language="xx"),
        "model": lambda: client.audio.transcriptions.create(model="no-such-model", file=audio),
        "temperature": lambda: client.audio.transcriptions.create(model="whisper-1", file=audio, temperature=3),
        "timestamp_granularities": lambda: client.audio.transcriptions.create(
            model="whisper-1", file=audio, response_format="verbose_json", timestamp_granularities=["letter"]),
        "file": lambda: client.audio.transcriptions.create(model="whisper-1", file=("a.txt", b"not audio at all")),
        "speed": lambda: client.audio.speech.create(model="tts-1", voice="alloy", input="Hi.", speed=10),
        "voice": lambda: client.audio.speech.create(model="tts-1", voice="no-such-voice", input="Hi."),
        "input": lambda: client.audio.speech.create(model="tts-1", voice="alloy", input="   "),
    }
    for param, call in cases.items():
        err = bad(call)
        assert err.param == param, (param, err.message)
    err = bad(lambda: client.audio.speech.create(model="tts-1", voice="alloy", input="Hi.", response_format="aac"))
    assert err.param == "response_format" and "not available" in err.message  # libsndfile has no AAC
    # straight over HTTP: a form without a file, a broken multipart body, a body that is not JSON
    url = str(client.base_url)
    reply = httpx.post(f"{url}audio/transcriptions", data={"model": "whisper-1"}, files={"x": b"1"})
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "file"
    reply = httpx.post(f"{url}audio/transcriptions", content=b"--XX\r\nnot a header\r\n\r\n--XX--\r\n",
                       headers={"Content-Type": "multipart/form-data; boundary=XX"})
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "file", reply.text
    reply = httpx.post(f"{url}audio/speech", content=b"{not json", headers={"Content-Type": "application/json"})
    assert reply.status_code == 400 and "not JSON" in reply.json()["error"]["message"], reply.text


def test_service_errors_map_to_503_and_429(engine):
    drained = VoiceService(engine)
    drained.drain()
    srv = Served(drained)
    try:
        with srv.client() as c, pytest.raises(openai.InternalServerError) as info:
            c.audio.speech.create(model="tts-1", voice="alloy", input="Hello.")
        assert info.value.status_code == 503 and info.value.body["code"] == "unavailable"
    finally:
        srv.stop()
    config = engine.config
    full = VoiceService(engine, replace(config, server=replace(config.server, max_sessions=1)))
    srv = Served(full)
    try:
        with full.admission.admit("synthesis"), srv.client() as c:
            with pytest.raises(openai.RateLimitError) as info:
                c.audio.speech.create(model="tts-1", voice="alloy", input="Hello.")
            assert info.value.status_code == 429 and info.value.response.headers["retry-after"] == "1"
        with srv.client() as c:  # the slot is free again: it speaks
            assert len(c.audio.speech.create(model="tts-1", voice="alloy", input="Hello.",
                                             response_format="pcm").content) > RATE
    finally:
        srv.stop()
