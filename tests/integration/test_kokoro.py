"""Kokoro with the real embedded model: the same streaming job as Piper (chunks, formats, rates,
speaking rate, SSML, cancellation), a round trip through our ASR, the hash-checked join, and the
voice.v1 door (ListVoices labels and WERs, language -> the measured best voice)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import kernels
from voice.core.audio import Encoding, resample, wav_bytes
from voice.core.planning import plan_pieces
from voice.core.synthesis import SynthesisJob, SynthesisOptions
from voice.core.transcripts import DecodeOptions
from voice.engines.kokoro import KokoroPool
from voice.runtime import models
from voice.testing.prompts import wer

VOICE = "kokoro-jm_kumo-es"
TEXT = "Lo siento mucho, bloqueo su tarjeta ahora mismo. Le enviaremos una nueva. Gracias por llamar."


@pytest.fixture(scope="module")
def kumo(engine) -> KokoroPool:
    pool = engine.synthesizer(engine.catalogue.get(VOICE))
    assert isinstance(pool, KokoroPool)
    return pool


def _run(pool, text, language="es", **opts):
    job = SynthesisJob(pool, plan_pieces(text, language, **opts.pop("plan", {})),
                       SynthesisOptions(deterministic=True, **opts))
    chunks = list(job.run())
    return job, chunks, b"".join(c.audio for c in chunks)


def _decode(data: bytes, encoding: Encoding) -> np.ndarray:
    if encoding is Encoding.LINEAR16:
        return np.frombuffer(data, "<i2")
    raw = np.frombuffer(data, np.uint8)
    return kernels.mulaw_decode(raw) if encoding is Encoding.MULAW else kernels.alaw_decode(raw)


def test_streams_clause_by_clause_like_piper(kumo):
    """First audio after the first clause; chunked == one chunk == one-shot resampling."""
    job = SynthesisJob(kumo, plan_pieces(TEXT, "es"), SynthesisOptions(sample_rate=8000, chunk_ms=20))
    first = job.step()
    assert first and job.stats.pieces_done == 1 < job.stats.pieces_total
    assert first[0].text.startswith("Lo siento mucho")
    rest = [c for c in job.run()]
    chunks20 = first + rest
    data20 = b"".join(c.audio for c in chunks20)
    _, _, data_big = _run(kumo, TEXT, sample_rate=8000, chunk_ms=1000)
    assert data20 == data_big  # Kokoro samples no noise: the same audio every time
    sizes = [c.samples for c in chunks20]
    assert max(sizes) == 160 and sum(s < 160 for s in sizes) <= 3
    assert sorted({c.sentence_index for c in chunks20}) == [0, 1, 2]
    _, _, native = _run(kumo, TEXT)
    ref = kernels.float32_to_int16(resample(kernels.int16_to_float32(np.frombuffer(native, "<i2")), 24000, 8000))
    got = np.frombuffer(data20, "<i2")
    assert got.size == ref.size and np.max(np.abs(got.astype(int) - ref)) <= 2
    assert kumo.in_use == 0 and kumo.rendered >= 3


@pytest.mark.parametrize(("encoding", "rate"), [(Encoding.MULAW, 8000), (Encoding.ALAW, 16000),
                                               (Encoding.LINEAR16, 24000), (Encoding.LINEAR16, 44100)])
def test_every_encoding_and_rate(kumo, encoding, rate):
    """Each encoding, and rates below, at and above the voice's 24 kHz (the job's conversion
    itself is the one tests/integration/test_tts_voices.py checks at every rate with Piper)."""
    job, chunks, data = _run(kumo, "Hola, buenos días.", encoding=encoding, sample_rate=rate)
    pcm = _decode(data, encoding)
    assert pcm.size == sum(c.samples for c in chunks) and len(data) == pcm.size * encoding.sample_width
    assert 0.6 < pcm.size / rate < 3.5
    assert np.sqrt(np.mean(pcm.astype(np.float64) ** 2)) > 1000
    wav = wav_bytes(data, rate, encoding)
    assert wav[:4] == b"RIFF" and len(wav) >= len(data) + 44


def test_speaking_rate_volume_ssml(kumo):
    text = "Uno, dos, tres. Cuatro, cinco, seis."
    base = _decode(_run(kumo, text)[2], Encoding.LINEAR16)
    slow = _decode(_run(kumo, text, plan={"speaking_rate": 0.5})[2], Encoding.LINEAR16)
    assert slow.size > 1.6 * base.size
    quiet = _decode(_run(kumo, text, volume_gain_db=-20)[2], Encoding.LINEAR16)
    ratio = np.sqrt(np.mean(quiet.astype(float) ** 2) / np.mean(base.astype(float) ** 2))
    assert 0.08 < ratio < 0.12
    ssml = '<speak>Uno, dos, tres.<break time="1500ms"/>Cuatro, cinco, seis.</speak>'
    paused = _decode(_run(kumo, ssml, plan={"is_ssml": True})[2], Encoding.LINEAR16)
    assert paused.size - base.size == pytest.approx(1.3 * 24000, abs=0.35 * 24000)


def test_cancel_stops_and_frees(kumo):
    job = SynthesisJob(kumo, plan_pieces(" ".join([TEXT] * 4), "es"), SynthesisOptions())
    assert job.step()
    job.cancel()
    assert job.step() is None and job.done and job.stats.cancelled
    assert job.stats.pieces_done < job.stats.pieces_total and kumo.in_use == 0


def test_round_trip_through_our_asr(engine, kumo):
    text = "Un momento, consulto el saldo de su cuenta corriente."
    _, _, data = _run(kumo, text, sample_rate=16000)
    audio = kernels.int16_to_float32(np.frombuffer(data, "<i2").copy())
    heard = engine.transcribe(audio, DecodeOptions(language="es")).text
    assert wer([text], [heard]) <= 0.2, heard


def test_corrupt_join_is_rejected(tmp_path):
    parts = [models._package_dir(p) / "part.bin" for p in models.KOKORO_PARTS]
    broken = tmp_path / "part4.bin"
    shutil.copyfile(parts[-1], broken)
    with open(broken, "r+b") as fh:
        fh.seek(12345)
        byte = fh.read(1)
        fh.seek(12345)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(models.ModelCorrupt, match="SHA-256"):
        models.assemble_kokoro(tmp_path / "cache", [*parts[:-1], broken])
    assert not (tmp_path / "cache" / "kokoro" / models.KOKORO_FILE).exists()


def test_list_voices_and_language_choice(channel, engine):
    from voice_api.v1 import audio_pb2, synthesizer_pb2, synthesizer_pb2_grpc

    stub = synthesizer_pb2_grpc.SynthesizerStub(channel)
    voices = {v.name: v for v in stub.ListVoices(synthesizer_pb2.ListVoicesRequest(language_code="es")).voices}
    kumo = voices[VOICE]
    assert kumo.engine == "kokoro" and kumo.neural and kumo.quality_label == "neural, accented"
    assert kumo.language_code == "es" and kumo.sample_rate_hertz == 24000
    assert voices["espeak-es"].quality_label == "fallback"
    measured = {n: v.round_trip_wer for n, v in voices.items() if v.HasField("round_trip_wer")}
    assert VOICE in measured and "espeak-es" in measured
    best = min(measured, key=measured.get)
    assert engine.catalogue.for_language("es").name == best
    en = stub.ListVoices(synthesizer_pb2.ListVoicesRequest(language_code="en")).voices
    joe = next(v for v in en if v.name == "en_US-joe-medium")
    assert joe.quality_label == "neural" and joe.is_default and joe.engine == "piper"
    # a request by language alone is spoken by the measured best voice
    first = next(iter(stub.Synthesize(synthesizer_pb2.SynthesizeRequest(
        text="Buenos días.", language_code="es", encoding=audio_pb2.MULAW, sample_rate_hertz=8000))))
    assert first.voice == best and first.audio_content
