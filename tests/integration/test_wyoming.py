"""The Wyoming door with the real models, driven by the ``wyoming`` package's own client
(:class:`wyoming.client.AsyncTcpClient` and its event classes) over 127.0.0.1: describe,
transcription of real prompts (whole and streamed), synthesis (whole and streamed, as Home
Assistant streams it), intents (the call-centre domain and the built-in Home Assistant one),
errors, and clients that vanish mid-request. Each test runs its own listener in its own event
loop over the session's engine."""

from __future__ import annotations

import asyncio
import os
import wave
from collections.abc import Awaitable, Callable
from dataclasses import replace

import numpy as np
import pytest
from wyoming.asr import Transcribe, Transcript, TranscriptChunk
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.intent import Intent, NotRecognized, Recognize
from wyoming.ping import Ping, Pong
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeVoice,
)

from voice.api.wyoming import WyomingServer
from voice.api.wyoming.discovery import instance_name, service_info
from voice.core.audio import resample
from voice.service import VoiceService
from voice.testing.prompts import normalize, pick_prompts, wer

READ_TIMEOUT_S = 120  # a decode on a loaded 2-core machine stays far below this
CHUNK_SAMPLES = 1024  # what Home Assistant sends per audio-chunk
PROMPTS = pick_prompts("en", 3)


def run(service: VoiceService, test: Callable[[int, WyomingServer], Awaitable[None]], **kwargs) -> None:
    """``test(port, server)`` against a Wyoming door on 127.0.0.1 over ``service``."""
    async def main() -> None:
        server = WyomingServer(service, "127.0.0.1", 0, **kwargs)
        port = await server.start()
        await server.wait_serving()
        try:
            await test(port, server)
        finally:
            await server.stop()
    asyncio.run(main())


def client(port: int) -> AsyncTcpClient:
    return AsyncTcpClient("127.0.0.1", port, read_timeout=READ_TIMEOUT_S)


async def read_until(c: AsyncTcpClient, last: str, errors_end: bool = True) -> list[Event]:
    """Events up to and including the first of type ``last`` (or an error, with ``errors_end``)."""
    events = []
    while True:
        event = await c.read_event()
        assert event is not None, f"connection closed before {last} (got {[e.type for e in events]})"
        events.append(event)
        if event.type == last or (errors_end and event.type == "error"):
            return events


def wav_pcm(path) -> tuple[bytes, int]:
    with wave.open(str(path), "rb") as wf:
        assert wf.getsampwidth() == 2 and wf.getnchannels() == 1
        return wf.readframes(wf.getnframes()), wf.getframerate()


def to_rate(pcm: bytes, rate: int, out_rate: int) -> bytes:
    audio = np.frombuffer(pcm, np.int16).astype(np.float32) / 32768
    return (np.clip(resample(audio, rate, out_rate), -1, 1) * 32767).astype(np.int16).tobytes()


async def send_audio(c: AsyncTcpClient, pcm: bytes, rate: int, channels: int = 1, transcribe: Transcribe | None = None):
    await c.write_event((transcribe or Transcribe(language="en")).event())
    await c.write_event(AudioStart(rate=rate, width=2, channels=channels).event())
    step = CHUNK_SAMPLES * 2 * channels
    for i in range(0, len(pcm), step):
        await c.write_event(AudioChunk(rate=rate, width=2, channels=channels, audio=pcm[i:i + step]).event())
    await c.write_event(AudioStop().event())


def audio_of(events: list[Event]) -> tuple[bytes, list[tuple[int, int, int]]]:
    """The reply's samples and the format of every audio-start and audio-chunk."""
    formats, parts = [], []
    for e in events:
        if AudioStart.is_type(e.type) or AudioChunk.is_type(e.type):
            formats.append((e.data["rate"], e.data["width"], e.data["channels"]))
        if AudioChunk.is_type(e.type):
            parts.append(AudioChunk.from_event(e).audio)
    return b"".join(parts), formats


async def wait_freed(service: VoiceService, engine) -> None:
    """Poll (5 s at most) until no stream, synthesis or decode is left (a synthesis step
    already running finishes its piece), then assert it."""
    def freed():
        return (service.admission.active("recognition") == 0 and service.admission.active("synthesis") == 0
                and engine.scheduler.waiting == 0 and engine.synthesizer(engine.catalogue.default).in_use == 0)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5.0
    while not freed() and loop.time() < deadline:
        await asyncio.sleep(0.05)
    assert service.admission.active("recognition") == 0
    assert service.admission.active("synthesis") == 0
    assert engine.scheduler.waiting == 0
    assert engine.synthesizer(engine.catalogue.default).in_use == 0


@pytest.fixture(scope="module")
def service(engine) -> VoiceService:
    return VoiceService(engine)


# -- describe -------------------------------------------------------------------------------------

def test_describe_lists_models_voices_and_intents(service, engine):
    async def test(port, server):
        async with client(port) as c:
            await c.write_event(Describe().event())
            info = Info.from_event((await read_until(c, "info"))[-1])
            await c.write_event(Ping(text="hi").event())
            pong = Pong.from_event((await read_until(c, "pong"))[-1])
        assert pong.text == "hi"
        (asr,) = info.asr
        assert asr.installed and asr.supports_transcript_streaming
        models = {m.name: m for m in asr.models}
        assert engine.config.asr.model in models
        assert {"en", "de", "fr", "es", "it"} <= set(models[engine.config.asr.model].languages)
        assert models["tiny.en"].languages == ["en"]
        (tts,) = info.tts
        assert tts.supports_synthesize_streaming
        voices = {v.name: v for v in tts.voices}
        default = voices[engine.catalogue.default.name]
        assert default.languages == ["en-US"] and default.installed
        assert len(voices) == len(list(engine.catalogue))  # the espeak-ng fallbacks too
        assert any(v.languages[0].startswith("fr") for v in voices.values())
        (intent,) = info.intent
        (model,) = intent.models
        assert set(model.languages) == set(engine.intents.languages)
        assert "check_balance" in model.description
    run(service, test)


# -- speech to text -------------------------------------------------------------------------------

def test_transcribe_real_prompts_at_8_and_16_khz(service):
    refs, hyps = [], []

    async def test(port, server):
        for k, prompt in enumerate(PROMPTS[:2]):
            pcm, rate = wav_pcm(prompt.path)
            if k == 1:  # what Home Assistant sends: 16 kHz
                pcm, rate = to_rate(pcm, rate, 16000), 16000
            async with client(port) as c:
                await send_audio(c, pcm, rate)
                events = await read_until(c, "transcript-stop")
            types = [e.type for e in events]
            assert "error" not in types, events[-1].data
            assert types[0] == "transcript-start" and types[-2:] == ["transcript", "transcript-stop"]
            transcript = Transcript.from_event(events[-2])
            assert transcript.language == "en"
            refs.append(prompt.text)
            hyps.append(transcript.text)
    run(service, test)
    assert wer(refs, hyps) <= 0.25, list(zip(refs, hyps))


def test_transcript_streaming_sends_each_utterance_as_it_comes(service):
    """Two prompts with a second of silence between them, in stereo: two utterances, whose
    text arrives in transcript-chunks before the whole transcript."""
    a, rate = wav_pcm(PROMPTS[0].path)
    b, _ = wav_pcm(PROMPTS[2].path)
    mono = np.frombuffer(a + bytes(2 * rate) + b + bytes(rate), np.int16)
    stereo = np.repeat(mono, 2).tobytes()

    async def test(port, server):
        async with client(port) as c:
            await send_audio(c, stereo, rate, channels=2, transcribe=Transcribe(language="en", name="base"))
            events = await read_until(c, "transcript-stop")
        types = [e.type for e in events]
        assert types[0] == "transcript-start", types
        assert types[-2:] == ["transcript", "transcript-stop"], types
        chunks = [TranscriptChunk.from_event(e).text for e in events if e.type == "transcript-chunk"]
        assert len(chunks) >= 2, chunks
        assert set(types[1:-2]) == {"transcript-chunk"}
        full = Transcript.from_event(events[-2]).text
        assert normalize("".join(chunks)) == normalize(full)
        assert wer([f"{PROMPTS[0].text} {PROMPTS[2].text}"], [full]) <= 0.25, full
    run(service, test)


def test_bad_audio_format_is_an_error_naming_the_field(service):
    async def test(port, server):
        async with client(port) as c:
            await c.write_event(Transcribe(language="en").event())
            await c.write_event(AudioStart(rate=16000, width=1, channels=1).event())
            for _ in range(3):  # the refused stream's chunks are dropped: one error, not one a chunk
                await c.write_event(AudioChunk(rate=16000, width=1, channels=1, audio=bytes(1024)).event())
            await c.write_event(AudioStop().event())
            await c.write_event(Describe().event())
            events = await read_until(c, "info", errors_end=False)
            assert [e.type for e in events] == ["error", "info"], [e.type for e in events]
            err = Error.from_event(events[0])
            assert err.code == "invalid-argument" and err.text.startswith("audio-start.width"), err
            await c.write_event(Transcribe(language="xx-bogus").event())
            await c.write_event(AudioStart(rate=16000, width=2, channels=1).event())
            err = Error.from_event((await read_until(c, "error"))[-1])
            assert err.code == "invalid-argument" and err.text.startswith("transcribe.language"), err
            await c.write_event(AudioStart(rate=4000, width=2, channels=1).event())
            err = Error.from_event((await read_until(c, "error"))[-1])
            assert err.text.startswith("audio-start.rate"), err
            # the connection is still good
            await c.write_event(Describe().event())
            assert (await read_until(c, "info"))[-1].type == "info"
    run(service, test)


def test_client_vanishing_mid_stream_frees_its_stream(service, engine):
    pcm, rate = wav_pcm(PROMPTS[1].path)

    async def test(port, server):
        c = client(port)
        await c.connect()
        await c.write_event(Transcribe(language="en").event())
        await c.write_event(AudioStart(rate=rate, width=2, channels=1).event())
        await c.write_event(AudioChunk(rate=rate, width=2, channels=1, audio=pcm).event())
        await read_until(c, "transcript-start")
        assert service.admission.active("recognition") == 1
        await c.disconnect()  # gone without audio-stop
        await wait_freed(service, engine)
        assert server.active_connections == 0
    run(service, test)


# -- text to speech -------------------------------------------------------------------------------

TEXT = "Turn on the kitchen light. The weather is sunny, with a light breeze."


def test_synthesize_and_transcribe_the_audio_back(service, engine):
    async def test(port, server):
        async with client(port) as c:
            await c.write_event(Synthesize(text=TEXT).event())
            events = await read_until(c, "audio-stop")
        types = [e.type for e in events]
        assert types[0] == "audio-start" and types[-1] == "audio-stop" and "error" not in types
        audio, formats = audio_of(events)
        assert set(formats) == {(engine.catalogue.default.sample_rate, 2, 1)}
        rate = formats[0][0]
        seconds = len(audio) / 2 / rate
        assert 2.5 < seconds < 9, seconds
        async with client(port) as c:
            await send_audio(c, audio, rate)
            text = Transcript.from_event((await read_until(c, "transcript-stop"))[-2]).text
        assert wer([TEXT], [text]) <= 0.2, text
    run(service, test)


def test_streaming_synthesis_speaks_once_in_one_format(service, engine):
    """Home Assistant's streaming flow: synthesize-start, chunks, the full synthesize again
    (for old servers), synthesize-stop. The reply is one audio cycle, spoken once."""
    pieces = ["Turn on the kitchen ", "light. The weather is ", "sunny, with a light breeze."]

    async def test(port, server):
        async with client(port) as c:
            await c.write_event(Synthesize(text=TEXT).event())
            whole, _ = audio_of(await read_until(c, "audio-stop"))
        async with client(port) as c:
            voice = SynthesizeVoice(name=engine.catalogue.default.name)
            await c.write_event(SynthesizeStart(voice=voice).event())
            for piece in pieces:
                await c.write_event(SynthesizeChunk(text=piece).event())
            await c.write_event(Synthesize(text=TEXT, voice=voice).event())
            await c.write_event(SynthesizeStop().event())
            events = await read_until(c, "synthesize-stopped")
            # nothing else follows (no second reading of the full text)
            await c.write_event(Ping().event())
            after = await read_until(c, "pong")
        types = [e.type for e in events]
        assert "error" not in types, events[-1].data
        assert types.count("audio-start") == 1 and types.count("audio-stop") == 1, types
        assert types[0] == "audio-start" and types[-2:] == ["audio-stop", "synthesize-stopped"], types
        assert [e.type for e in after] == ["pong"]
        audio, formats = audio_of(events)
        assert len(set(formats)) == 1, set(formats)
        assert 0.8 < len(audio) / len(whole) < 1.25, (len(audio), len(whole))
    run(service, test)


def test_synthesis_errors_name_the_field(service):
    async def test(port, server):
        async with client(port) as c:
            await c.write_event(Synthesize(text="hello", voice=SynthesizeVoice(name="no-such-voice")).event())
            err = Error.from_event((await read_until(c, "error"))[-1])
            assert err.code == "invalid-argument" and err.text.startswith("synthesize.voice.name"), err
            await c.write_event(Synthesize(text="  ").event())
            err = Error.from_event((await read_until(c, "error"))[-1])
            assert err.text.startswith("synthesize.text"), err
            await c.write_event(SynthesizeChunk(text="stray").event())
            err = Error.from_event((await read_until(c, "error"))[-1])
            assert err.text.startswith("synthesize-chunk"), err
    run(service, test)


def test_client_vanishing_mid_synthesis_frees_it(service, engine):
    long_text = " ".join(["This is a long reply that keeps the synthesizer busy for a while."] * 12)

    async def test(port, server):
        c = client(port)
        await c.connect()
        await c.write_event(Synthesize(text=long_text).event())
        await read_until(c, "audio-chunk")
        assert service.admission.active("synthesis") == 1
        # a stream admitted behind the synthesis (its reply waits its turn) is freed too
        await c.write_event(Transcribe(language="en").event())
        await c.write_event(AudioStart(rate=16000, width=2, channels=1).event())
        await c.write_event(Ping(text="after").event())
        while (event := await c.read_event()).type != "pong":  # pong comes at once, audio goes on
            assert event.type == "audio-chunk", event.type
        assert service.admission.active("recognition") == 1
        await c.disconnect()
        await wait_freed(service, engine)
    run(service, test)


# -- intents --------------------------------------------------------------------------------------

def test_recognize_intent_with_entities_and_not_recognized(service):
    async def test(port, server):
        async with client(port) as c:
            await c.write_event(Recognize(text="what is the balance of my savings account").event())
            intent = Intent.from_event((await read_until(c, "intent"))[-1])
            assert intent.name == "check_balance"
            assert {(e.name, e.value) for e in intent.entities} == {("account_type", "savings")}
            assert intent.context["previous_intent"] == "check_balance"
            await c.write_event(Recognize(text="sing me a song about the ocean and the stars").event())
            event = (await read_until(c, "not-recognized"))[-1]
            assert event.type == "not-recognized", event
            assert NotRecognized.from_event(event).context["language"] == "en"
            # Home Assistant's conversation agent sends the text as a transcript, with its language
            await c.write_event(Transcript(text="quiero hablar con un agente", language="es").event())
            intent = Intent.from_event((await read_until(c, "intent"))[-1])
            assert intent.name == "talk_to_agent"
            await c.write_event(Recognize(text="hello", context={"language": "xx"}).event())
            err = Error.from_event((await read_until(c, "error"))[-1])
            assert err.code == "invalid-argument" and err.text.startswith("recognize.context.language"), err
    run(service, test)


@pytest.fixture(scope="module")
def home_assistant(config) -> VoiceService:
    """A service whose intents are the built-in Home Assistant domain (English only, to keep
    training short; the model is cached after the first run). No speech models are loaded:
    these tests only recognise text."""
    from voice.runtime.engine import SpeechEngine

    cfg = replace(config, intent=replace(config.intent, file="home-assistant", languages=("en",)))
    engine = SpeechEngine(cfg)
    engine.load_intents()
    engine.ready.set()
    yield VoiceService(engine)
    engine.close()


def test_home_assistant_intents_built_in(home_assistant):
    async def test(port, server):
        async with client(port) as c:
            await c.write_event(Transcript(text="turn on the lights in the kitchen", language="en").event())
            intent = Intent.from_event((await read_until(c, "intent"))[-1])
            assert intent.name == "HassTurnOn", intent
            assert ("area", "kitchen") in {(e.name, e.value) for e in intent.entities}
            await c.write_event(Recognize(text="set the thermostat to 21 degrees").event())
            intent = Intent.from_event((await read_until(c, "intent"))[-1])
            assert intent.name == "HassClimateSetTemperature", intent
            assert ("temperature", "21") in {(e.name, str(e.value)) for e in intent.entities}
            await c.write_event(Recognize(text="I want to report my credit card as stolen").event())
            assert (await read_until(c, "not-recognized"))[-1].type == "not-recognized"
    assert home_assistant.engine.intents.name == "home_assistant"
    assert home_assistant.engine.dialogue.languages == ()  # Home Assistant speaks its own replies
    run(home_assistant, test)


# -- discovery ------------------------------------------------------------------------------------

def test_zeroconf_advertises_the_door_where_home_assistant_looks(service):
    """The door advertises itself (on 127.0.0.1 here); a zeroconf lookup of Home Assistant's
    service type finds its address and port, and the found address answers describe."""
    from zeroconf.asyncio import AsyncZeroconf

    info = service_info(instance_name("living.room voice"), 10300, "127.0.0.1")
    assert info.type == "_wyoming._tcp.local." and info.name == "living-room-voice._wyoming._tcp.local."
    assert len(instance_name("x" * 200).encode()) == 63
    name = f"voice-test-{os.getpid()}"

    async def test(port, server):
        zc = AsyncZeroconf(interfaces=["127.0.0.1"])
        try:
            found = await zc.async_get_service_info("_wyoming._tcp.local.", f"{name}._wyoming._tcp.local.",
                                                    timeout=5000)
        finally:
            await zc.async_close()
        assert found is not None, "not advertised"
        assert found.port == port and found.parsed_addresses() == ["127.0.0.1"]
        async with client(found.port) as c:
            await c.write_event(Describe().event())
            assert (await read_until(c, "info"))[-1].type == "info"

    run(service, test, zeroconf=True, zeroconf_name=name)
