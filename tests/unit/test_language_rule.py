"""The stream language rule (voice.core.languages) and the loop guard (voice.engines.limits)."""

from __future__ import annotations

from voice.core.languages import (
    DECLARED_LANGUAGE_MARGIN,
    HISTORY_LANGUAGE_MARGIN,
    INTERIM_LANGUAGE_MIN_P,
    LANGUAGE_DECISION_MIN_S,
    LANGUAGE_SWITCH_MIN_S,
    StreamLanguage,
    carries_language,
    interim_commits_language,
    keeps_language,
    pick_language,
)
from voice.engines.limits import MAX_TOKENS, loop_start, max_new_tokens

CANDIDATES = ("en", "fr", "es")


def test_numerals_and_punctuation_carry_no_language() -> None:
    for text in ("3, 2, 3, 2.", "4-5-6", "A, B, 4", "", "...", "$42"):
        assert not carries_language(text)
    for text in ("trois deux", "oui", "нет", "No more messages"):
        assert carries_language(text)


def test_numeric_finals_never_flip_the_stream() -> None:
    stream = StreamLanguage(None, CANDIDATES)
    assert stream.observe("fr", "Bonjour, je voudrais payer ma facture.", 3.0) == "fr"
    assert stream.preferred == "fr" and stream.margin == HISTORY_LANGUAGE_MARGIN
    # a digit string decoded (or detected) as English is reported in French and changes nothing
    for _ in range(5):
        assert stream.observe("en", "3, 2, 3, 2.", 4.0) == "fr"
    assert stream.preferred == "fr"
    # real English words, long enough, do move it
    assert stream.observe("en", "Actually, can we speak English please?", 3.0) == "en"
    assert stream.preferred == "en"


def test_short_utterances_never_switch() -> None:
    stream = StreamLanguage("en", CANDIDATES)
    assert stream.preferred == "en" and stream.margin == DECLARED_LANGUAGE_MARGIN
    assert stream.observe("fr", "oui", LANGUAGE_SWITCH_MIN_S - 0.1) == "fr"  # reported as decoded
    assert stream.preferred == "en"
    fresh = StreamLanguage(None, CANDIDATES)  # nothing known: the first words set it
    fresh.observe("fr", "Vous n'êtes plus en ligne.", 1.8)
    assert fresh.preferred == "fr"
    fresh.observe("es", "Sí, claro", 1.5)  # too short to switch
    assert fresh.preferred == "fr"
    assert keeps_language(1.0, "fr", CANDIDATES)  # decoded in the preferred language, no detection
    assert not keeps_language(LANGUAGE_SWITCH_MIN_S, "fr", CANDIDATES)
    assert not keeps_language(1.0, None, CANDIDATES)  # nothing known yet: detect
    assert not keeps_language(1.0, "de", CANDIDATES)
    # an expected answer (a digit string, yes/no) keeps it however long; free speech does not
    assert keeps_language(6.0, "fr", CANDIDATES, answer=True)
    assert not keeps_language(6.0, "fr", CANDIDATES)
    assert not keeps_language(6.0, None, CANDIDATES, answer=True)


def test_numeric_final_without_history_keeps_its_decode_language() -> None:
    stream = StreamLanguage(None, CANDIDATES)
    assert stream.observe("es", "1, 7, 4", 3.0) == "es"
    assert stream.preferred is None  # and commits nothing


def test_pick_language_margins() -> None:
    probs = {"en": 0.45, "fr": 0.3, "es": 0.25}
    assert pick_language(probs, CANDIDATES, None) == "en"
    assert pick_language(probs, CANDIDATES, "fr") == "fr"  # 0.45 < 2 x 0.3
    assert pick_language({"en": 0.7, "fr": 0.2}, CANDIDATES, "fr") == "en"  # > 2x: switch
    assert pick_language({"en": 0.7, "fr": 0.2}, CANDIDATES, "fr", HISTORY_LANGUAGE_MARGIN) == "fr"
    assert pick_language({"en": 0.85, "fr": 0.1}, CANDIDATES, "fr", HISTORY_LANGUAGE_MARGIN) == "en"
    assert pick_language({"cs": 0.9, "fr": 0.05, "en": 0.04}, CANDIDATES, None) == "fr"  # candidates only


def test_loop_guard_cuts_a_runaway_hypothesis() -> None:
    words = "4, 5, 6, 7, 8, 8, 8, 8, 8, 8, 8, 8".split()
    assert words[:loop_start(words, 2.0, hit_cap=True)] == ["4,", "5,", "6,", "7,", "8,"]
    loop = "8, 0, 8, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1".split()
    assert loop_start(loop, 5.0, hit_cap=False) is not None  # repeated 4+ times: cut however slow
    quatre = ["quatre,"] * 9
    assert loop_start(quatre, 1.5, hit_cap=False) == 1


def test_loop_guard_leaves_real_repeats() -> None:
    assert loop_start("1 1 1 1".split(), 2.0, hit_cap=False) is None  # a PIN, said slowly
    assert loop_start("no no no".split(), 1.0, hit_cap=True) is None
    assert loop_start("please call me back tomorrow morning".split(), 2.0, hit_cap=False) is None


def test_token_cap_follows_the_audio() -> None:
    assert max_new_tokens(16000) < max_new_tokens(16000 * 4) < 60
    assert max_new_tokens(16000 * 30) == MAX_TOKENS or max_new_tokens(16000 * 30) <= MAX_TOKENS


def test_model_routing_by_language() -> None:
    from voice.runtime.models import route_model

    routes = {"fr": "small", "en": "tiny.en"}
    assert route_model(routes, None, "fr-CA") == "small"
    assert route_model(routes, None, "en") == "tiny.en"
    assert route_model(routes, None, "es") is None  # the default model
    assert route_model(routes, None, None) is None  # language not known yet
    assert route_model(routes, "base", "fr") == "base"  # the client's choice wins


def test_expected_answer_errors_name_the_field() -> None:
    import pytest

    from voice.core.errors import InvalidArgument
    from voice.service.recognition import parse_expected_answer

    assert parse_expected_answer("", "config.expected_answer").value == "free"
    with pytest.raises(InvalidArgument) as err:
        parse_expected_answer("99", "update.expected_answer")
    assert str(err.value).startswith("update.expected_answer")


def test_digital_silence_ends_an_answer() -> None:
    """webrtcvad repeats its last decision on frames below its energy floor: after some
    minutes of answers, 1.5 s of digital silence stayed "speech" and joined four answers
    into one utterance (bench/phone.py, en). Every answer of that stream is its own now."""
    import numpy as np
    import soundfile as sf

    from voice.core.audio import Encoding
    from voice.core.session import RecognitionSession, StreamOptions, Utterance
    from voice.testing.phone import build_clips
    from voice.testing.prompts import pick_prompts

    clips = build_clips("en", {"digits": 8, "number": 2, "amount": 2, "date": 3, "time": 2, "yes_no": 5})
    intro, _ = sf.read(pick_prompts("en", 1, min_words=4, max_words=12)[0].path, dtype="float32")
    parts = []
    for audio in [intro, *(c.audio for c in clips)]:
        parts += [np.zeros(2400, np.float32), audio, np.zeros(9600, np.float32)]
    pcm = (np.clip(np.concatenate(parts), -1, 1) * 32767).astype(np.int16).tobytes()
    session = RecognitionSession(StreamOptions(encoding=Encoding.LINEAR16, sample_rate=8000))
    events = []
    for i in range(0, len(pcm), 1600):
        events += session.push(pcm[i:i + 1600])
    events += session.finish()
    assert sum(isinstance(e, Utterance) for e in events) == len(clips) + 1


def test_an_interim_commits_the_preferred_language_on_enough_audio():
    assert interim_commits_language("es", 0.5, LANGUAGE_DECISION_MIN_S, "uno dos tres cuatro", "es")
    assert not interim_commits_language("es", 0.99, LANGUAGE_DECISION_MIN_S - 0.1, "uno dos tres", "es")


def test_an_interim_in_another_language_needs_length_and_certainty():
    # the first 1.5 s of a Spanish prompt heard as Italian: the final detects afresh
    assert not interim_commits_language("it", 0.7, 1.5, "per favore", None)
    assert not interim_commits_language("it", 0.95, LANGUAGE_SWITCH_MIN_S - 0.1, "per favore", "es")
    assert not interim_commits_language("it", INTERIM_LANGUAGE_MIN_P - 0.01, 3.0, "per favore", "es")
    assert interim_commits_language("it", INTERIM_LANGUAGE_MIN_P, LANGUAGE_SWITCH_MIN_S, "per favore", "es")
    assert interim_commits_language("it", 0.9, 3.0, "per favore", None)


def test_a_numeric_interim_commits_no_language():
    assert not interim_commits_language("en", 0.99, 5.0, "3, 2, 3, 2.", "en")
    assert not interim_commits_language("", 0.99, 5.0, "bonjour madame", None)


def test_expected_answers_use_a_lower_speech_threshold() -> None:
    from voice.engines.limits import ANSWER_SPEECH_THRESHOLD, VAD_PARAMETERS, vad_parameters

    assert vad_parameters("free") is VAD_PARAMETERS and "threshold" not in VAD_PARAMETERS
    for expect in ("digits", "yes_no", "spelling"):
        params = vad_parameters(expect)
        assert params["threshold"] == ANSWER_SPEECH_THRESHOLD < 0.5
        assert params["speech_pad_ms"] == VAD_PARAMETERS["speech_pad_ms"]
