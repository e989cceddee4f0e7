"""Telephone answers through the real server and model: the stream language rule on numeric
speech, expected answers (constrained decoding, normalised values, changed between
utterances), inverse text normalisation and verbatim, and the repetition-loop guard."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
import soundfile as sf
import soxr
from voice_api.v1 import recognizer_pb2, recognizer_pb2_grpc

from voice.core.answers import Expect, parse
from voice.core.itn import normalize
from voice.core.transcripts import DecodeOptions
from voice.engines.limits import max_new_tokens
from voice.testing.phone import build_clips, yes_no_clips
from voice.testing.programs import run
from voice.testing.prompts import pick_prompts
from voice.testing.streams import RATE, audio_requests, config_request, finals, load, silence

EXPECT = recognizer_pb2.ExpectedAnswer


@pytest.fixture(scope="module")
def recognizer(channel):
    return recognizer_pb2_grpc.RecognizerStub(channel)


def pcm(audio: np.ndarray) -> np.ndarray:
    return (np.clip(audio, -1, 1) * 32767).astype(np.int16)


def update(kind: int) -> recognizer_pb2.StreamingRecognizeRequest:
    return recognizer_pb2.StreamingRecognizeRequest(update=recognizer_pb2.RecognitionUpdate(expected_answer=kind))


def test_numeric_utterances_keep_the_streams_language(recognizer):
    """A stream that has spoken French keeps French for its digit strings and its "non",
    though English and Spanish are candidates too; each digit final carries its digits."""
    digits = build_clips("fr", {"digits": 2}, seed=21)
    no = yes_no_clips("fr")[0]

    def requests():
        yield config_request("", alternatives=["en", "fr", "es"])
        yield from audio_requests(np.concatenate([load(pick_prompts("fr", 1, min_words=6)[0]), silence(1.2)]))
        yield update(EXPECT.Value("EXPECT_DIGITS"))
        for clip in digits:
            yield from audio_requests(np.concatenate([silence(0.3), pcm(clip.audio), silence(1.2)]))
        yield update(EXPECT.Value("EXPECT_YES_NO"))
        yield from audio_requests(np.concatenate([silence(0.3), pcm(no.audio), silence(1.2)]))

    fin = finals(recognizer.StreamingRecognize(requests()))
    texts = [(f.alternatives[0].transcript, f.language_code, f.answer.value) for f in fin]
    assert len(fin) == 4, texts
    assert [f.language_code for f in fin] == ["fr"] * 4, texts
    assert not fin[0].HasField("answer")  # free speech: no answer
    assert [f.answer.kind for f in fin[1:]] == [EXPECT.Value("EXPECT_DIGITS")] * 2 + [EXPECT.Value("EXPECT_YES_NO")]
    got = [f.answer.value for f in fin[1:3]]
    assert all(v.isdigit() for v in got)
    assert sum(v == clip.value for v, clip in zip(got, digits)) >= 1
    assert fin[3].answer.value == "false", texts


def test_answers_in_other_languages(recognizer):
    """Dates, amounts and yes/no in es, it, ru and en, each stream with its declared language:
    the values come back normalised (ISO date, amount with currency, true/false)."""
    clips = (build_clips("es", {"date": 1}, seed=3) + build_clips("it", {"amount": 1}, seed=3)
             + build_clips("ru", {"date": 1}, seed=3) + yes_no_clips("en")[:1])
    kinds = {"date": "EXPECT_DATE", "amount": "EXPECT_AMOUNT", "yes_no": "EXPECT_YES_NO"}
    hits = 0
    for clip in clips:
        def requests(clip=clip):
            cfg = config_request(clip.lang)
            cfg.streaming_config.config.expected_answer = EXPECT.Value(kinds[clip.kind])
            yield cfg
            yield from audio_requests(np.concatenate([silence(0.3), pcm(clip.audio), silence(1.2)]))

        fin = finals(recognizer.StreamingRecognize(requests()))
        assert len(fin) == 1 and fin[0].answer.kind == EXPECT.Value(kinds[clip.kind])
        hits += fin[0].answer.value == clip.value
    assert hits >= len(clips) - 1


def test_itn_by_default_verbatim_on_request(recognizer):
    """The same audio: the default final is the verbatim one inverse-text-normalised."""
    clip = build_clips("ru", {"digits": 1}, seed=7)[0]

    def requests(verbatim):
        cfg = config_request("ru")
        cfg.streaming_config.config.verbatim = verbatim
        yield cfg
        yield from audio_requests(np.concatenate([silence(0.3), pcm(clip.audio), silence(1.2)]))

    plain = finals(recognizer.StreamingRecognize(requests(True)))[0].alternatives[0].transcript
    shaped = finals(recognizer.StreamingRecognize(requests(False)))[0].alternatives[0].transcript
    assert shaped == normalize(plain, "ru")


def test_bad_expected_answer_names_the_field(recognizer):
    def first_bad():
        cfg = config_request("en")
        cfg.streaming_config.config.expected_answer = 99
        yield cfg

    with pytest.raises(grpc.RpcError) as err:
        list(recognizer.StreamingRecognize(first_bad()))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "streaming_config.config.expected_answer" in err.value.details()

    def later_bad():
        yield config_request("en")
        yield update(42)

    with pytest.raises(grpc.RpcError) as err:
        list(recognizer.StreamingRecognize(later_bad()))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "update.expected_answer" in err.value.details()

    def bad_length(where: str):
        cfg = config_request("en")
        if where == "config":
            cfg.streaming_config.config.expected_answer = EXPECT.Value("EXPECT_YES_NO")
            cfg.streaming_config.config.expected_length.min = 1  # yes/no has no length
        yield cfg
        if where == "update":
            yield recognizer_pb2.StreamingRecognizeRequest(update=recognizer_pb2.RecognitionUpdate(
                expected_answer=EXPECT.Value("EXPECT_DIGITS"), expected_length=recognizer_pb2.AnswerLength(min=6, max=4)))

    for where, field in (("config", "streaming_config.config.expected_length"), ("update", "update.expected_length")):
        with pytest.raises(grpc.RpcError) as err:
            list(recognizer.StreamingRecognize(bad_length(where)))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in err.value.details(), err.value.details()


def test_unary_recognize_answers(recognizer):
    clip = yes_no_clips("ru")[0]
    cfg = recognizer_pb2.RecognitionConfig(encoding=1, sample_rate_hertz=RATE, language_code="ru",
                                           expected_answer=EXPECT.Value("EXPECT_YES_NO"))
    audio = np.concatenate([silence(0.3), pcm(clip.audio), silence(0.8)])
    resp = recognizer.Recognize(recognizer_pb2.RecognizeRequest(config=cfg, audio_content=audio.tobytes()))
    assert [r.answer.value for r in resp.results] == ["false"]


def test_expected_length_picks_the_reading_with_that_many_digits(recognizer):
    """French "zéro neuf six un" on 8 kHz. Before digit finals were decoded in digit words
    the plain decode dropped the nine ("0, 6, 1."); now it depends on the machine (7e4c569
    read "0961" on one 2-core box and not on the one its CI passed on), so only the told
    lengths are checked: told four digits (or four to eight) the final is the reading with
    all four, told five none fits and the value is empty (the IVR re-prompts). Which reading
    is picked for a length is unit-tested (tests/unit/test_answers.py)."""
    clip = next(c for c in build_clips("fr", {"digits": 20}) if c.value == "0961")
    audio = np.concatenate([silence(0.3), pcm(clip.audio), silence(0.8)]).tobytes()

    def answer(length: tuple[int, int] | None) -> list[str]:
        cfg = recognizer_pb2.RecognitionConfig(encoding=1, sample_rate_hertz=RATE, language_code="fr",
                                               expected_answer=EXPECT.Value("EXPECT_DIGITS"))
        if length:
            cfg.expected_length.min, cfg.expected_length.max = length
        resp = recognizer.Recognize(recognizer_pb2.RecognizeRequest(config=cfg, audio_content=audio))
        return [r.answer.value for r in resp.results]

    assert len(answer(None)) == 1
    assert answer((4, 4)) == ["0961"]
    assert answer((4, 8)) == ["0961"]
    assert answer((5, 5)) == [""]

    def streamed():  # the same, streamed: the length comes in an update before the clip
        yield config_request("fr")
        yield recognizer_pb2.StreamingRecognizeRequest(update=recognizer_pb2.RecognitionUpdate(
            expected_answer=EXPECT.Value("EXPECT_DIGITS"), expected_length=recognizer_pb2.AnswerLength(min=4, max=4)))
        yield from audio_requests(np.frombuffer(audio, np.int16))

    assert [f.answer.value for f in finals(recognizer.StreamingRecognize(streamed()))] == ["0961"]


def test_loop_guard_cuts_within_one_decode(engine):
    """A hypothesis forced into a loop (a committed prefix of repeated digits, longer than the
    clip's eight, so the decode cannot go on with the digits said after it) is cut in the
    decode it started in: one try at temperature 0, no more tokens than the audio allows,
    and no runaway tail in the text."""
    rec = engine.recognizer(None)
    clip = build_clips("fr", {"digits": 1}, seed=3)[0]
    audio = soxr.resample(clip.audio, RATE, 16000).astype(np.float32)
    tries = []
    model = rec._model
    original = model.generate_with_fallback

    def counted(*args, **kwargs):
        out = original(*args, **kwargs)
        tries.append(out)
        return out

    model.generate_with_fallback = counted
    try:
        transcript = rec.transcribe(audio, DecodeOptions(language="fr", prefix="8, " * 18))
    finally:
        del model.generate_with_fallback
    assert tries and all(t[2] == 0.0 for t in tries)  # (result, avg_logprob, temperature, ratio)
    assert all(len(t[0].sequences_ids[0]) <= max_new_tokens(len(audio)) for t in tries)
    words = transcript.text.split()
    assert len(words) <= 8 and words.count("8,") + words.count("8") <= 2


def test_yes_no_scored_when_the_decode_gives_no_answer_word(engine):
    """On 8 kHz audio Whisper base writes the Spanish "Sí" cut from dir-instr as letters; with
    a yes/no expected, the grammar's words scored by their first token answer instead. The
    scorer gives no word for silence."""
    rec = engine.recognizer(None)
    si = next(c for c in yes_no_clips("es") if c.value == "true")
    audio = soxr.resample(np.concatenate([np.zeros(2400, np.float32), si.audio, np.zeros(1600, np.float32)]),
                          RATE, 16000).astype(np.float32)
    free = rec.transcribe(audio, DecodeOptions(language="es"))
    answered = rec.transcribe(audio, DecodeOptions(language="es", expect="yes_no"))
    assert parse(Expect.YES_NO, answered.text, "es").value == "true", (free.text, answered.text)
    assert rec._yes_no.word(np.zeros(16000, np.float32), "es") is None


def test_expected_answer_lowers_the_speech_check(engine):
    """Silero scores the 0.4 s Russian "нет" of vm-no (8 kHz) under its default 0.5: a free
    decode hears nothing, one expecting yes/no (threshold 0.35) hears the answer; silence
    still gives nothing."""
    from voice.core.audio import resample
    from voice.engines import fw_compat
    from voice.engines.limits import VAD_PARAMETERS, vad_parameters

    rec = engine.recognizer(None)
    net = next(c for c in yes_no_clips("ru") if c.sources == ("vm-no",))
    audio = resample(net.audio, RATE, 16000).astype(np.float32)
    assert fw_compat.speech_chunks(audio, VAD_PARAMETERS)[0].size == 0
    assert fw_compat.speech_chunks(audio, vad_parameters("yes_no"))[0].size > 0
    answered = rec.transcribe(audio, DecodeOptions(language="ru", expect="yes_no"))
    assert parse(Expect.YES_NO, answered.text, "ru").value == "false", answered.text
    assert rec.transcribe(np.zeros(16000, np.float32), DecodeOptions(language="ru", expect="yes_no")).empty


def test_digit_finals_are_decoded_without_timestamps(engine):
    """A digits final is decoded without timestamp tokens (a timestamp after a few digits cut
    the segment: a digit short or a loop); its interims and a free final keep them."""
    rec = engine.recognizer(None)
    clip = build_clips("fr", {"digits": 1}, seed=21)[0]
    audio = soxr.resample(np.concatenate([np.zeros(2400, np.float32), clip.audio, np.zeros(1600, np.float32)]),
                          RATE, 16000).astype(np.float32)
    model = rec._model
    seen = []
    real = model.transcribe

    def spy(*args, **kwargs):
        seen.append(kwargs["without_timestamps"])
        return real(*args, **kwargs)

    model.transcribe = spy
    try:
        final = rec.transcribe(audio, DecodeOptions(language="fr", expect="digits"))
        rec.transcribe(audio, DecodeOptions(language="fr", expect="digits", interim=True))
        rec.transcribe(audio, DecodeOptions(language="fr"))
    finally:
        del model.transcribe
    assert seen == [True, False, False]
    assert parse(Expect.DIGITS, final.text, "fr").value == clip.value, final.text


def test_client_expect_flag(server, tmp_path):
    clip = yes_no_clips("en")[0]
    path = tmp_path / "no.wav"
    sf.write(path, np.concatenate([np.zeros(2400, np.float32), clip.audio, np.zeros(9600, np.float32)]), RATE,
             subtype="PCM_16")
    out = run("voice-client", "transcribe", str(path), "--server", server.address, "--language", "en",
              "--expect", "yes_no").stdout
    assert "=> false" in out


def test_routing_by_language(config):
    """[asr.routes] sends a stream's language to another model (here English to tiny.en);
    the embedded small is not offered while its PyPI packages are incomplete."""
    from dataclasses import replace

    from voice.core.session import StreamOptions
    from voice.runtime.engine import SpeechEngine
    from voice.runtime.models import whisper_small_problem
    from voice.service.files import recognize_audio

    routed = SpeechEngine(replace(config, asr=replace(config.asr, routes={"en": "tiny.en"})))
    try:
        prompt = pick_prompts("en", 1, min_words=6)[0]
        audio, rate = sf.read(prompt.path, dtype="float32")
        results = recognize_audio(routed, audio, rate, StreamOptions(language="en"))
        assert results and set(routed._recognizers) == {"tiny.en"}
        assert routed.model_for(None, "fr") is None
        if whisper_small_problem():
            assert "small" not in routed.model_names
            with pytest.raises(ValueError, match="asr.routes.fr"):
                SpeechEngine(replace(config, asr=replace(config.asr, routes={"fr": "small"})))
    finally:
        routed.close()


def test_digit_finals_are_read_as_digit_words_first(engine, monkeypatch):
    """A digits final is decoded in digit words first: written as numerals, Whisper base's
    counting prior reads this French 98309335 as "1, 2, 3, 0, 1, 2, 3, 4, 5"; said as words
    it is right. With no reading that is digits only, the numeral decode answers."""
    import voice.engines.whisper as whisper

    rec = engine.recognizer(None)
    tok = rec._model.hf_tokenizer
    spoken = set(rec._suppressed("digits", "fr", spoken=True))
    numerals = set(rec._suppressed("digits", "fr"))
    sept, seven = tok.encode(" sept", add_special_tokens=False).ids, tok.encode("7", add_special_tokens=False).ids
    assert not set(sept) & spoken and set(seven) <= spoken  # words, no numerals
    assert set(sept) <= numerals and not set(seven) & numerals  # numerals, no words

    clip = next(c for c in build_clips("fr", {"digits": 40}) if c.value == "98309335")
    audio = soxr.resample(np.concatenate([np.zeros(2400, np.float32), clip.audio, np.zeros(4000, np.float32)]),
                          RATE, 16000).astype(np.float32)
    options = DecodeOptions(language="fr", expect="digits")
    final = rec.transcribe(audio, options)
    assert parse(Expect.DIGITS, final.text, "fr").value == clip.value, final.text
    assert not any(c.isdigit() for c in final.text), final.text  # the digit-word reading
    assert normalize(final.text, "fr").rstrip(".") == clip.value

    monkeypatch.setattr(whisper, "complete_reading", lambda readings, lang, length=(0, 0): None)
    fallback = rec.transcribe(audio, options)  # no digit-word reading fits: numerals
    assert any(c.isdigit() for c in fallback.text), fallback.text
    monkeypatch.setattr(whisper, "spoken_vocabulary", lambda lang: None)
    numeral = rec.transcribe(audio, options)  # numerals only: the counting prior
    assert parse(Expect.DIGITS, numeral.text, "fr").value != clip.value, numeral.text


def test_double_and_triple_digits_are_read(engine, monkeypatch):
    """British callers read "double five": the digit-word decode may write "double" and
    "triple" (en), and the answer repeats the digit. Piper's English voice, sent as 8 kHz phone
    audio; measured 2026-12-03: 4 of 5 such strings right, 1 of 5 without the two words (the
    decode had to drop or misread the repeat: "5, 3, 1" for 5531)."""
    import voice.core.answers as answers

    pool = engine.synthesizer(engine.catalogue.default)
    rate = engine.catalogue.default.sample_rate
    rec = engine.recognizer(None)
    said = {"Double five, three, one.": "5531", "Seven, double two, eight, one.": "72281",
            "Five, one, double nine.": "5199"}
    clips = {}
    for text, value in said.items():
        phone = soxr.resample(pool.render(text), rate, 8000)
        clips[value] = np.concatenate([np.zeros(4800, np.float32), soxr.resample(phone, 8000, 16000).astype(np.float32),
                                       np.zeros(8000, np.float32)])

    def right() -> list[str]:
        out = []
        for value, audio in clips.items():
            answer = parse(Expect.DIGITS, rec.transcribe(audio, DecodeOptions(language="en", expect="digits")).text, "en")
            out += [value] if answer is not None and answer.value == value else []
        return out

    with_words = right()
    assert len(with_words) >= 2, with_words
    monkeypatch.setitem(answers._OTHER_DIGIT_WORDS, "en", ("oh",))
    rec._suppress_cache.clear()
    try:
        without = right()
    finally:
        rec._suppress_cache.clear()  # later tests decode with the real vocabulary
    assert len(without) < len(with_words), (with_words, without)
