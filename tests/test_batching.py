"""Cross-stream batching: the scheduler groups waiting jobs, the batched decoder matches the
single path (languages, prefixes, hints, word times, silence), and a batching server
delivers every final of concurrent streams."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace

import grpc
import numpy as np
import pytest
import soundfile as sf
from conftest import ServerThread, pick_prompts, wer
from test_streaming import concurrent_streams

from voice.core.transcripts import DecodeOptions
from voice.engines.batching import batch_key
from voice.runtime.scheduler import DecodeScheduler, Priority
from voice_api.v1 import recognizer_pb2_grpc

# -- scheduler (fake work) --------------------------------------------------------------

class Recorder:
    """A blocking job function and its batch form; the first call waits for ``gate``."""

    def __init__(self):
        self.gate = threading.Event()
        self.calls: list[list] = []

    def one(self, x):
        self.gate.wait(10)
        self.calls.append([x])
        if x == "bad":
            raise ValueError("bad item")
        return x.upper()

    def many(self, items):
        self.calls.append([args[0] for args in items])
        return [ValueError("bad item") if x == "bad" else x.upper() for (x,) in items]


def run_jobs(sched: DecodeScheduler, rec: Recorder, jobs):
    """Submit a blocker, then ``jobs`` [(priority, stream, arg, key)] while it runs."""

    async def main():
        blocker = sched.submit(Priority.FINAL, "blocker", rec.one, "first", batch=rec.many, key="other")
        await asyncio.sleep(0.05)  # the worker is now busy with the blocker
        futures = [sched.submit(p, s, rec.one, x, batch=rec.many, key=k) for p, s, x, k in jobs]
        rec.gate.set()
        await blocker
        return await asyncio.gather(*futures, return_exceptions=True)

    return asyncio.run(main())


def test_scheduler_batches_waiting_jobs_of_one_key_finals_first():
    sched = DecodeScheduler(1, max_batch=3)
    rec = Recorder()
    try:
        out = run_jobs(sched, rec, [(Priority.INTERIM, 1, "i1", "k"), (Priority.FINAL, 2, "f2", "k"), (Priority.FINAL, 3, "f3", "k"),
                                    (Priority.FINAL, 4, "f4", "k"), (Priority.FINAL, 5, "x5", "k2")])
    finally:
        sched.close()
    assert out == ["I1", "F2", "F3", "F4", "X5"]
    assert rec.calls[0] == ["first"]
    # finals first, at most 3 per batch, never mixing keys; the interim runs last with its key
    assert rec.calls[1:] == [["f2", "f3", "f4"], ["x5"], ["i1"]]
    assert sched.batches == 1 and sched.batched_jobs == 3
    assert sched.completed == {Priority.FINAL: 5, Priority.INTERIM: 1}


def test_scheduler_batch_item_error_fails_only_that_job():
    sched = DecodeScheduler(1, max_batch=4)
    rec = Recorder()
    try:
        out = run_jobs(sched, rec, [(Priority.FINAL, 1, "a", "k"), (Priority.FINAL, 2, "bad", "k"), (Priority.FINAL, 3, "c", "k")])
    finally:
        sched.close()
    assert out[0] == "A" and out[2] == "C"
    assert isinstance(out[1], ValueError)


def test_scheduler_without_batching_runs_jobs_one_by_one():
    sched = DecodeScheduler(1, max_batch=1)
    rec = Recorder()
    try:
        out = run_jobs(sched, rec, [(Priority.FINAL, 1, "a", "k"), (Priority.FINAL, 2, "b", "k")])
    finally:
        sched.close()
    assert out == ["A", "B"]
    assert rec.calls == [["first"], ["a"], ["b"]] and sched.batches == 0


def test_scheduler_close_waits_for_the_running_job():
    """No worker may still be inside a model once close() returns (exit-time crashes)."""
    sched = DecodeScheduler(2)
    started, finished = threading.Event(), threading.Event()

    def job():
        started.set()
        time.sleep(0.3)
        finished.set()

    async def main():
        sched.submit(Priority.FINAL, 1, job)
        while not started.is_set():
            await asyncio.sleep(0.01)

    asyncio.run(main())
    sched.close()
    assert finished.is_set()


def test_batch_key_separates_search_settings_and_hints():
    base = DecodeOptions(language="en", beam_size=5)
    assert batch_key("base", base) == batch_key("base", replace(base, language="fr", prefix="Bonjour"))
    assert batch_key("base", base) != batch_key("base", replace(base, interim=True))
    assert batch_key("base", base) != batch_key("base", replace(base, hints=("pound key",)))
    assert batch_key("base", base) != batch_key("tiny.en", base)


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
