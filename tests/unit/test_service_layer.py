"""The service layer with fakes behind the real interfaces: errors, admission, the sentence
planner for text arriving in pieces, open-input synthesis jobs, request validation."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

import numpy as np
import pytest

from voice.config import Config
from voice.core.errors import (
    InvalidArgument,
    ResourceExhausted,
    Unavailable,
    Unimplemented,
)
from voice.core.planning import SentencePlanner, plan_pieces
from voice.core.synthesis import SynthesisJob
from voice.core.telemetry import NO_TELEMETRY
from voice.core.textnorm import complete_sentences_end, first_clause_end
from voice.service import VoiceService
from voice.service.admission import Admission
from voice.service.types import (
    EndpointingRequest,
    FileRecognitionRequest,
    RecognitionConfig,
    SynthesisRequest,
    UnderstandRequest,
)

# -- errors -----------------------------------------------------------------------------------


def test_invalid_argument_names_the_field_and_nests():
    err = InvalidArgument("sample_rate_hertz", "must be between 8000 and 48000 Hz, got 7")
    assert str(err) == "sample_rate_hertz: must be between 8000 and 48000 Hz, got 7"
    nested = err.within("config").within("streaming_config")
    assert nested.field == "streaming_config.config.sample_rate_hertz"
    assert str(nested).startswith("streaming_config.config.sample_rate_hertz: must be")
    assert isinstance(nested, ValueError)  # libraries' ValueError handlers still catch it
    assert InvalidArgument.from_message("text: must not be empty").field == "text"
    assert InvalidArgument.from_message("no field here").field == ""


# -- admission --------------------------------------------------------------------------------


def test_admission_is_atomic_under_a_burst():
    admission = Admission({"recognition": 5})
    start = threading.Barrier(40)
    admitted, refused = [], []

    def caller():
        start.wait()
        try:
            admitted.append(admission.admit("recognition"))
        except ResourceExhausted as exc:
            refused.append(exc)

    threads = [threading.Thread(target=caller) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 5 and len(refused) == 35
    assert admission.active("recognition") == 5
    assert refused[0].retry_after_s > 0 and "limit of 5" in str(refused[0])
    for ticket in admitted:
        ticket.release()
        ticket.release()  # idempotent
    assert admission.active("recognition") == 0
    with admission.admit("recognition"):
        assert admission.active("recognition") == 1
    assert admission.active("recognition") == 0


# -- text arriving in pieces ------------------------------------------------------------------


def test_sentence_ends_in_growing_text():
    assert complete_sentences_end("Hello there. How are") == len("Hello there. ")
    assert complete_sentences_end("Hello there.") == len("Hello there.")  # a word and a full stop
    assert complete_sentences_end("It costs 3.") == 0  # the next token may continue it ("3.5")
    assert complete_sentences_end("Ask Dr.") == 0 and complete_sentences_end("Ask Dr. Miller") == 0
    assert complete_sentences_end("One.\n\nTwo") == len("One.\n\n")
    assert first_clause_end("Well, then") == 0  # one word is too short a clause
    assert first_clause_end("Thank you, then") == len("Thank you, ")
    assert first_clause_end("Thank you for waiting,") == len("Thank you for waiting,")
    assert first_clause_end("It costs 1,") == 0  # "1,000" may follow


def _texts(pieces):
    return [p.text for p in pieces]


def test_sentence_planner_releases_a_clause_first_then_sentences():
    planner = SentencePlanner("en")
    out = []
    stream = ["Thank you for", " calling, your card", " has been blocked. A new", " one is on its way.", " Bye"]
    released_at = []
    for i, piece in enumerate(stream):
        got = planner.add(piece)
        if got:
            released_at.append(i)
        out += got
    out += planner.finish()
    # the first clause is out as soon as its comma and the space after it arrived
    assert released_at[0] == 1 and _texts(out)[0] == "Thank you for calling,"
    assert _texts(out)[1:] == ["your card has been blocked.", "A new one is on its way.", "Bye"]
    assert [p.sentence_index for p in out] == [0, 1, 2, 3]
    assert out[0].pause_s > 0 and out[-1].pause_s == 0.0  # a breath after the clause, none at the end
    assert all(p.sentence_text for p in out)


def test_sentence_planner_matches_plan_pieces_for_whole_sentences():
    text = "Your appointment is confirmed. Please arrive ten minutes early. Goodbye."
    planner = SentencePlanner("en")
    pieces = planner.add(text) + planner.finish()
    assert " ".join(_texts(pieces)) == " ".join(_texts(plan_pieces(text, "en")))
    assert planner.finish() == []


# -- open-input synthesis jobs ---------------------------------------------------------------


class FakeVoice:
    """Renders each piece as 100 ms of a tone per word (the real VoicePool interface)."""

    def __init__(self, rate=16000, name="fake"):
        self.info = SimpleNamespace(sample_rate=rate, name=name, language="en-US")
        self.rendered = []

    def render(self, text, rate=1.0, speaker_id=None, deterministic=False):
        self.rendered.append(text)
        n = int(0.1 * self.info.sample_rate) * len(text.split())
        return (0.1 * np.sin(np.arange(n) / 5.0)).astype(np.float32)


def test_open_input_job_waits_for_pieces_and_flushes_at_the_end():
    from voice.core.synthesis import SynthesisOptions

    voice = FakeVoice(rate=22050)
    job = SynthesisJob(voice, [], SynthesisOptions(sample_rate=8000), open_input=True)
    assert not job.ready and not job.done and job.step() is None
    planner = SentencePlanner("en")
    job.extend(planner.add("Hello there, my friend. "))
    assert job.ready
    samples = 0
    while job.ready:
        samples += sum(c.samples for c in job.step())
    assert not job.done  # more text may come
    job.extend(planner.finish())
    job.end_input()
    while not job.done:
        samples += sum(c.samples for c in job.step() or ())
    assert job.step() is None
    # every input sample came out, resampled to 8 kHz (the resampler's tail included)
    expected = sum(len(t.split()) for t in voice.rendered) * 2205 * 8000 / 22050
    pauses = sum(p.pause_s for p in job.pieces) * 8000
    assert abs(samples - (expected + pauses)) < 80
    with pytest.raises(RuntimeError):
        job.extend([])


# -- the service with a fake engine ----------------------------------------------------------


class FakeRecognizer:
    languages = frozenset({"en", "fr", "es"})
    name = "fake"

    def check_language(self, language, field="language_code"):
        if language is not None and language not in self.languages:
            raise InvalidArgument(field, f"{language!r} is not supported by model 'fake'")


class FakeEngine:
    """What the service uses of voice.runtime.engine.SpeechEngine."""

    def __init__(self, ready=True, intents=None):
        self.config = Config()
        self.ready = threading.Event()
        if ready:
            self.ready.set()
        self.intents = intents
        self.voice = FakeVoice()
        self.catalogue = SimpleNamespace(
            default=self.voice.info, select=lambda name, language: self.voice.info, __iter__=lambda: iter([]))
        self.telemetry = NO_TELEMETRY  # what the service reports latencies and audio to

    def recognizer(self, name):
        if name not in (None, "fake"):
            raise KeyError(f"model {name!r} is unknown (known: fake)")
        return FakeRecognizer()

    def synthesizer(self, voice):
        return self.voice

    async def run_tts(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


@pytest.mark.parametrize("config, field", [
    (RecognitionConfig(encoding="OPUS", sample_rate_hertz=8000), "config.encoding"),
    (RecognitionConfig(encoding="", sample_rate_hertz=8000), "config.encoding"),
    (RecognitionConfig(encoding="MULAW", sample_rate_hertz=7000), "config.sample_rate_hertz"),
    (RecognitionConfig(encoding="MULAW", sample_rate_hertz=8000, language_code="xx"), "config.language_code"),
    (RecognitionConfig(encoding="MULAW", sample_rate_hertz=8000, alternative_language_codes=("fr", "zz")),
     "config.alternative_language_codes[1]"),
    (RecognitionConfig(encoding="MULAW", sample_rate_hertz=8000, model="large"), "config.model"),
    (RecognitionConfig(encoding="MULAW", sample_rate_hertz=8000, enable_intent=True), "config.enable_intent"),
    (RecognitionConfig(encoding="MULAW", sample_rate_hertz=8000, phrase_hints=("x" * 1001,)), "config.phrase_hints"),
    (RecognitionConfig(encoding="MULAW", sample_rate_hertz=8000,
                       endpointing=EndpointingRequest(trailing_silence_ms=50)), "config.endpointing.trailing_silence_ms"),
    (RecognitionConfig(encoding="MULAW", sample_rate_hertz=8000, max_alternatives=-1), "config.max_alternatives"),
])
def test_recognition_config_errors_name_the_field(config, field):
    service = VoiceService(FakeEngine())
    with pytest.raises(InvalidArgument) as err:
        service.recognition.prepare(config)
    assert err.value.field == field and str(err.value).startswith(field + ": ")


def test_recognition_config_is_prepared():
    service = VoiceService(FakeEngine())
    prepared = service.recognition.prepare(RecognitionConfig(
        encoding="ALAW", sample_rate_hertz=8000, language_code="fr-FR", alternative_language_codes=("es", "fr"),
        phrase_hints=(" Acme ", ""), endpointing=EndpointingRequest(vad_aggressiveness=0, trailing_silence_ms=900)),
        interim_results=True)
    assert prepared.options.language == "fr" and prepared.candidates == ("fr", "es")
    assert prepared.hints == ("Acme",)
    assert prepared.options.endpointing.vad_aggressiveness == 0
    assert prepared.options.endpointing.trailing_silence_ms == 900
    assert prepared.options.interim_results


@pytest.mark.parametrize("wanted, prepared", [(0, 1), (1, 1), (3, 3), (50, Config().asr.beam_size)])
def test_max_alternatives_is_capped_at_the_beam(wanted, prepared):
    service = VoiceService(FakeEngine())
    config = RecognitionConfig(encoding="MULAW", sample_rate_hertz=8000, max_alternatives=wanted)
    assert service.recognition.prepare(config).alternatives == prepared


def test_final_alternatives_are_written_as_the_transcript_and_distinct():
    """A final's n-best go through the same inverse text normalisation; readings that become
    the transcript or each other are dropped."""
    from voice.core.answers import Expect
    from voice.core.results import RecognitionResult
    from voice.core.transcripts import Hypothesis
    from voice.service.files import shape_final

    result = RecognitionResult("my pin is three two one five", 0.9, True, 1.0, 0.0, 2.0, "en", 0, 0.1, alternatives=(
        Hypothesis("my pin is 3215", 0.5), Hypothesis("my pin is three two one nine", 0.4),
        Hypothesis("my pin is 3219", 0.3)))
    shaped = shape_final(result, "en", Expect.FREE, verbatim=False)
    assert shaped.transcript == "my pin is 3215"
    assert shaped.alternatives == (Hypothesis("my pin is 3219", 0.4),)
    assert shape_final(result, "en", Expect.FREE, verbatim=True).alternatives == result.alternatives


def test_one_readiness_check_for_every_call():
    service = VoiceService(FakeEngine(ready=False))

    async def calls():
        with pytest.raises(Unavailable, match="loading"):
            service.recognition.open_stream()
        with pytest.raises(Unavailable):
            await service.recognition.recognize(FileRecognitionRequest(b"\0\0"))
        with pytest.raises(Unavailable):
            async for _ in service.synthesis.stream(SynthesisRequest("hi")):
                pass
        with pytest.raises(Unavailable):
            await service.synthesis.synthesize(SynthesisRequest("hi"))
        with pytest.raises(Unavailable):
            await service.understanding.understand(UnderstandRequest("hi", "en"))

    asyncio.run(calls())
    ready = VoiceService(FakeEngine())
    ready.drain()
    with pytest.raises(Unavailable, match="shutting down"):
        ready.recognition.open_stream()
    with pytest.raises(Unimplemented):
        VoiceService(FakeEngine()).understanding.list_intents()


def test_stream_admission_is_taken_before_the_first_message():
    engine = FakeEngine()
    service = VoiceService(engine)
    limit = engine.config.server.max_sessions
    calls = [service.recognition.open_stream() for _ in range(limit)]
    with pytest.raises(ResourceExhausted):
        service.recognition.open_stream()

    async def close_one():
        async with calls[0]:
            pass

    asyncio.run(close_one())
    service.recognition.open_stream()  # the freed slot is taken again


def test_text_in_pieces_starts_audio_after_the_first_clause():
    engine = FakeEngine()
    service = VoiceService(engine)
    events = []

    async def llm():
        for token in ["Thank", " you", " for", " calling,", " please", " hold", " the", " line."]:
            events.append(("text", token))
            yield token
            await asyncio.sleep(0.05)

    async def main():
        async for chunk in service.synthesis.stream_text(SynthesisRequest("", encoding="MULAW", sample_rate_hertz=8000),
                                                         llm()):
            events.append(("audio", chunk))

    asyncio.run(main())
    kinds = [k for k, _ in events]
    first_audio = kinds.index("audio")
    sent_before = "".join(v for k, v in events[:first_audio] if k == "text")
    assert sent_before.startswith("Thank you for calling,") and "line." not in sent_before
    chunks = [v for k, v in events if k == "audio"]
    assert chunks[0].voice == "fake" and all(c.encoding == "MULAW" and c.sample_rate_hertz == 8000 for c in chunks)
    assert [c.offset_s for c in chunks] == sorted(c.offset_s for c in chunks)
    assert engine.voice.rendered == ["Thank you for calling,", "please hold the line."]


def test_text_in_pieces_refuses_ssml_and_oversized_pieces():
    service = VoiceService(FakeEngine())

    async def one(request, texts):
        async for _ in service.synthesis.stream_text(request, texts):
            pass

    async def texts(*items):
        for item in items:
            yield item

    with pytest.raises(InvalidArgument, match="^text: SSML"):
        asyncio.run(one(SynthesisRequest("<speak>hi"), texts()))
    with pytest.raises(InvalidArgument, match="^text: at most"):
        asyncio.run(one(SynthesisRequest(""), texts("Hello. ", "x" * 20001)))


def test_a_slow_listener_still_gets_every_piece():
    """The next piece is synthesized while the current one's chunks go out; a consumer that
    takes its time (a phone line paced in real time) must still get the prefetched piece."""
    engine = FakeEngine()
    service = VoiceService(engine)
    text = "One two three. Four five six seven. Eight nine ten eleven twelve."

    async def main():
        samples = 0
        async for chunk in service.synthesis.stream(SynthesisRequest(text, sample_rate_hertz=16000)):
            samples += chunk.samples
            await asyncio.sleep(0.002)
        return samples

    samples = asyncio.run(main())
    words = sum(len(p.split()) for p in engine.voice.rendered)
    assert words == 12 and samples >= words * 1600
