"""The streaming core driven with real audio (asterisk prompts), no server and no models."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

import kernels
from voice.config import EndpointingDefaults
from voice.core.audio import Encoding
from voice.core.session import (
    InterimRequest,
    RecognitionSession,
    SpeculativeFinal,
    SpeechStarted,
    SpeechTimeout,
    StreamOptions,
    Utterance,
)
from voice.testing.prompts import pick_prompts


def prompt_pcm(lang="en", index=0):
    p = pick_prompts(lang, index + 1)[index]
    audio, rate = sf.read(p.path, dtype="int16")
    assert rate == 8000
    return audio, p


def feed(session, data: bytes, chunk: int):
    events = []
    for i in range(0, len(data), chunk):
        events += session.push(data[i:i + chunk])
    return events + session.finish()


def kinds(events):
    return [type(e).__name__ for e in events if not isinstance(e, (InterimRequest, SpeculativeFinal))]


def test_one_prompt_one_utterance():
    pcm, _ = prompt_pcm()
    silence = np.zeros(8000, np.int16)
    data = np.concatenate([silence, pcm, silence]).tobytes()
    s = RecognitionSession(StreamOptions(sample_rate=8000))
    events = feed(s, data, 1600)  # 100 ms chunks
    assert kinds(events) == ["SpeechStarted", "SpeechEnded", "Utterance"]
    start, end, utt = [e for e in events if not isinstance(e, SpeculativeFinal)]
    assert 0.9 <= start.time <= 1.3, start  # speech begins after 1 s of silence
    assert utt.start == start.time and utt.end == end.time
    speech_len = len(pcm) / 8000
    assert speech_len - 1.0 <= utt.end - utt.start <= speech_len + 0.1
    # 16 kHz audio including 300 ms pre-roll and the tail
    assert utt.audio.dtype == np.float32
    assert abs(len(utt.audio) / 16000 - (utt.end - utt.audio_offset) - 0.2) < 0.05
    assert abs(utt.start - utt.audio_offset - 0.3) < 1e-6


def test_two_prompts_with_pause_give_two_utterances():
    a, _ = prompt_pcm("en", 0)
    b, _ = prompt_pcm("en", 1)
    pause = np.zeros(8000 * 2, np.int16)
    data = np.concatenate([a, pause, b, pause]).tobytes()
    events = feed(RecognitionSession(StreamOptions(sample_rate=8000)), data, 320)
    utts = [e for e in events if isinstance(e, Utterance)]
    assert [u.index for u in utts] == [0, 1]
    assert utts[1].start > utts[0].end + 1.5
    assert [e.utterance_index for e in events if isinstance(e, SpeechStarted)] == [0, 1]


@pytest.mark.parametrize("chunk", [160, 800, 1600, 7778])
def test_chunking_does_not_change_utterances(chunk):
    pcm, _ = prompt_pcm()
    data = np.concatenate([np.zeros(4000, np.int16), pcm, np.zeros(8000, np.int16)]).tobytes()
    ref = [e for e in feed(RecognitionSession(StreamOptions(sample_rate=8000)), data, 16000) if isinstance(e, Utterance)]
    got = [e for e in feed(RecognitionSession(StreamOptions(sample_rate=8000)), data, chunk) if isinstance(e, Utterance)]
    assert [(u.start, u.end) for u in got] == [(u.start, u.end) for u in ref]
    np.testing.assert_allclose(got[0].audio, ref[0].audio, atol=1e-6)


def test_mulaw_and_alaw_input_match_linear16():
    pcm, _ = prompt_pcm()
    pcm = np.concatenate([np.zeros(4000, np.int16), pcm, np.zeros(8000, np.int16)])
    results = {}
    for enc, data in [
        (Encoding.LINEAR16, pcm.tobytes()),
        (Encoding.MULAW, kernels.mulaw_encode(pcm).tobytes()),
        (Encoding.ALAW, kernels.alaw_encode(pcm).tobytes()),
    ]:
        events = feed(RecognitionSession(StreamOptions(encoding=enc, sample_rate=8000)), data, 800)
        results[enc] = [(u.start, u.end) for u in events if isinstance(u, Utterance)]
    assert len(results[Encoding.LINEAR16]) == 1
    for enc in (Encoding.MULAW, Encoding.ALAW):
        (s, e), = results[enc]
        (s0, e0), = results[Encoding.LINEAR16]
        assert abs(s - s0) <= 0.06 and abs(e - e0) <= 0.1


def test_end_of_stream_closes_open_utterance():
    pcm, _ = prompt_pcm()
    s = RecognitionSession(StreamOptions(sample_rate=8000))
    events = s.push(pcm.tobytes())  # no trailing silence: the stream ends mid-speech
    assert any(isinstance(e, SpeechStarted) for e in events)
    assert not any(isinstance(e, Utterance) for e in events)
    tail = s.finish()
    assert kinds(tail) == ["SpeechEnded", "Utterance"]
    assert s.finish() == []


def test_interim_requests_follow_the_interval():
    pcm, _ = prompt_pcm()
    s = RecognitionSession(StreamOptions(sample_rate=8000, interim_results=True, interim_interval_s=1.0))
    events = feed(s, np.concatenate([pcm, np.zeros(8000, np.int16)]).tobytes(), 800)
    interims = [e for e in events if isinstance(e, InterimRequest)]
    assert len(interims) >= 3
    assert all(b.end - a.end >= 0.99 for a, b in zip(interims, interims[1:]))
    assert all(i.index == 0 and len(i.audio) > 0 for i in interims)


def test_max_utterance_cut_continues():
    pcm, _ = prompt_pcm()  # ~5 s of speech, cut every 2 s
    ep = EndpointingDefaults(max_utterance_seconds=2)
    events = feed(RecognitionSession(StreamOptions(sample_rate=8000, endpointing=ep)),
                  np.concatenate([pcm, np.zeros(8000, np.int16)]).tobytes(), 800)
    utts = [e for e in events if isinstance(e, Utterance)]
    assert len(utts) >= 2
    assert all(u.end - u.start <= 2.0 + 1e-6 for u in utts)
    assert utts[1].start == pytest.approx(utts[0].end)  # continuation, no gap


def test_speculative_final_audio_equals_the_final():
    pcm, _ = prompt_pcm()
    data = np.concatenate([np.zeros(4000, np.int16), pcm, np.zeros(8000, np.int16)]).tobytes()
    events = feed(RecognitionSession(StreamOptions(sample_rate=8000)), data, 800)
    specs = [e for e in events if isinstance(e, SpeculativeFinal)]
    (utt,) = [e for e in events if isinstance(e, Utterance)]
    last = specs[-1]
    # offered before the endpoint (trailing silence 600 ms) was reached
    assert events.index(last) < events.index(utt)
    assert (last.index, last.start, last.end) == (utt.index, utt.start, utt.end)
    np.testing.assert_array_equal(last.audio, utt.audio)


def test_flush_finalises_now():
    pcm, _ = prompt_pcm()
    s = RecognitionSession(StreamOptions(sample_rate=8000))
    half = pcm[: pcm.size // 2].tobytes()
    events = s.push(half)
    assert any(isinstance(e, SpeechStarted) for e in events)
    flushed = s.flush()
    assert kinds(flushed) == ["SpeechEnded", "Utterance"]
    utt = flushed[-1]
    assert utt.end == pytest.approx(pcm.size / 2 / 8000, abs=0.05)
    assert s.flush() == []  # nothing open
    # the stream goes on: the rest of the prompt is a new utterance
    rest = feed(s, pcm[pcm.size // 2:].tobytes() + np.zeros(8000, np.int16).tobytes(), 800)
    assert [e.index for e in rest if isinstance(e, Utterance)] == [1]


def test_speech_timeout_event():
    ep = EndpointingDefaults(speech_timeout_ms=2000)
    s = RecognitionSession(StreamOptions(sample_rate=8000, endpointing=ep))
    events = feed(s, np.zeros(8000 * 5, np.int16).tobytes(), 800)
    timeouts = [e for e in events if isinstance(e, SpeechTimeout)]
    assert len(timeouts) == 1 and timeouts[0].time == pytest.approx(2.0)
    pcm, _ = prompt_pcm()
    s = RecognitionSession(StreamOptions(sample_rate=8000, endpointing=ep))
    events = feed(s, np.concatenate([pcm, np.zeros(8000 * 3, np.int16)]).tobytes(), 800)
    (utt,) = [e for e in events if isinstance(e, Utterance)]
    (timeout,) = [e for e in events if isinstance(e, SpeechTimeout)]
    assert timeout.time == pytest.approx(utt.end + 2.0)  # counted from the end of the utterance
