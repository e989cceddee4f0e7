"""Cross-stream batching on the real model: the batched decoder matches the single path
(languages, prefixes, hints, word times, silence), and a batching server delivers every
final of concurrent streams."""

from __future__ import annotations

from dataclasses import replace

import grpc
import numpy as np
import pytest
import soundfile as sf
from voice_api.v1 import recognizer_pb2_grpc

from voice.core.transcripts import DecodeOptions
from voice.testing.prompts import pick_prompts, wer
from voice.testing.server import ServerThread
from voice.testing.streams import concurrent_streams

# -- the batched decoder on the real model ------------------------------------------------

def load16k(prompt) -> np.ndarray:
    import kernels
    from voice.core.audio import resample

    audio, rate = sf.read(prompt.path, dtype="int16")
    return resample(kernels.int16_to_float32(audio), rate, 16000)


@pytest.fixture(scope="module")
def clips():
    en = pick_prompts("en", 2, min_words=6)
    return {"en": [load16k(p) for p in en], "en_text": [p.text for p in en],
            "fr": load16k(pick_prompts("fr", 1, min_words=6)[0]), "es": load16k(pick_prompts("es", 1, min_words=6)[0])}


def test_batch_matches_single_decodes(engine, clips):
    rec = engine.recognizer(None)
    opts = DecodeOptions(language="en", beam_size=5)
    items = [(a, opts) for a in clips["en"]]
    batched = rec.transcribe_batch(items)
    single = [rec.transcribe(a, o) for a, o in items]
    assert wer([t.text for t in single], [t.text for t in batched]) <= 0.1
    assert wer(clips["en_text"], [t.text for t in batched]) <= 0.15
    assert all(t.language == "en" and 0 < t.confidence <= 1 for t in batched)


def test_batch_languages_prefix_silence_and_word_times(engine, clips):
    rec = engine.recognizer(None)
    cands = DecodeOptions(language="en", candidates=("en", "fr", "es"), word_timestamps=True)
    rng = np.random.default_rng(3)
    late = np.concatenate([np.zeros(32000, np.float32), clips["en"][0]])  # 2 s of silence first
    items = [
        (clips["fr"], cands),
        (clips["es"], cands),
        (late, cands),
        (np.zeros(48000, np.float32), cands),
        ((rng.standard_normal(48000) * 0.1).astype(np.float32), cands),
        (clips["en"][1], replace(cands, prefix="Hello there")),
        (clips["en"][1], replace(cands, language="xx", candidates=())),
    ]
    out = rec.transcribe_batch(items)
    assert [t.language for t in out[:3]] == ["fr", "es", "en"]
    assert out[3].text == "" and out[4].text == ""  # silence and noise: nothing
    assert out[5].text.startswith("Hello there")
    assert isinstance(out[6], ValueError) and "xx" in str(out[6])
    words = out[2].words
    assert words and words[0].start >= 1.3, words[:2]  # times map back through the VAD cut
    assert all(a.start <= b.start for a, b in zip(words, words[1:]))
    assert words[-1].end <= len(late) / 16000 + 0.1
    assert " ".join(w.word for w in words) == out[2].text


# -- a batching server ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def batching_server(config):
    from voice.runtime.engine import SpeechEngine

    cfg = replace(config, asr=replace(config.asr, batch_size=4, num_workers=1))
    eng = SpeechEngine(cfg)
    eng.load()
    srv = ServerThread(cfg, eng)
    yield srv, eng
    srv.stop()
    eng.close()


def test_batching_server_delivers_every_final(batching_server):
    """6 streams at once, faster than real time, one decode worker batching up to 4."""
    srv, eng = batching_server
    assert eng.batch_size == 4
    with grpc.insecure_channel(srv.address) as ch:
        results = concurrent_streams(recognizer_pb2_grpc.RecognizerStub(ch), 6, words=True)
    assert all(f.alternatives[0].words for finals in results.values() for f in finals)
    stats = eng.stats()
    assert stats["batches"] >= 1 and stats["batched_decodes"] >= 2, stats


def test_batching_server_unary_recognize_decodes_a_file_in_batches(batching_server, monkeypatch):
    """A file of 5 prompts: its utterances are decoded as batches (4 + 1), words shifted to
    file time, in order."""
    from voice_api.v1 import audio_pb2, recognizer_pb2

    srv, eng = batching_server
    rec = eng.recognizer(None)
    sizes = []
    real = rec.transcribe_batch
    monkeypatch.setattr(rec, "transcribe_batch", lambda items: sizes.append(len(items)) or real(items))
    prompts = pick_prompts("en", 5, min_words=4, max_words=12)
    gap = np.zeros(8000 * 1, np.int16)
    pcm = np.concatenate([part for p in prompts for part in (sf.read(p.path, dtype="int16")[0], gap)])
    with grpc.insecure_channel(srv.address) as ch:
        resp = recognizer_pb2_grpc.RecognizerStub(ch).Recognize(recognizer_pb2.RecognizeRequest(
            config=recognizer_pb2.RecognitionConfig(encoding=audio_pb2.LINEAR16, sample_rate_hertz=8000,
                                                   language_code="en", enable_word_time_offsets=True),
            audio_content=pcm.tobytes()), timeout=300)
    assert sizes == [4]  # then the fifth alone
    assert [r.utterance_index for r in resp.results] == [0, 1, 2, 3, 4]
    assert wer([p.text for p in prompts], [r.alternatives[0].transcript for r in resp.results]) <= 0.15
    starts = [w.start_time.ToTimedelta().total_seconds() for r in resp.results for w in r.alternatives[0].words]
    assert starts == sorted(starts) and starts[-1] > 4 * 1.0
