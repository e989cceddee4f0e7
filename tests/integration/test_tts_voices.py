"""TTS without a server: the streaming synthesis job with the real voices (Piper, espeak-ng)."""

from __future__ import annotations

import numpy as np
import pytest

import kernels
from voice.core.audio import Encoding, resample, wav_bytes
from voice.core.planning import plan_pieces
from voice.core.synthesis import SynthesisJob, SynthesisOptions
from voice.engines.piper import VoicePool
from voice.engines.voices import VoiceCatalogue, read_voice_info
from voice.runtime.models import embedded_voice_path


@pytest.fixture(scope="module")
def joe():
    kernels.warmup()
    return VoicePool(read_voice_info(embedded_voice_path()), size=2)


TEXT = ("Thank you for calling the city library, where you can renew books and pay fines. "
        "Please listen carefully. For opening hours, press one.")


def _run(pool, text, **opts):
    job = SynthesisJob(pool, plan_pieces(text, pool.info.language), SynthesisOptions(deterministic=True, **opts))
    chunks = list(job.run())
    return job, chunks, b"".join(c.audio for c in chunks)


def _decode(data: bytes, encoding: Encoding) -> np.ndarray:
    if encoding is Encoding.LINEAR16:
        return np.frombuffer(data, "<i2")
    raw = np.frombuffer(data, np.uint8)
    return kernels.mulaw_decode(raw) if encoding is Encoding.MULAW else kernels.alaw_decode(raw)


def test_chunk_continuity(joe):
    """Chunked stream == one big chunk == one-shot resampling of the voice-rate audio."""
    job20, chunks20, data20 = _run(joe, TEXT, sample_rate=8000, chunk_ms=20)
    _, chunks_big, data_big = _run(joe, TEXT, sample_rate=8000, chunk_ms=1000)
    assert data20 == data_big
    sizes = [c.samples for c in chunks20]
    assert max(sizes) == 160 and sum(s < 160 for s in sizes) <= 3  # only sentence ends are short
    assert sorted({c.sentence_index for c in chunks20}) == [0, 1, 2]
    assert [c.text for c in chunks20 if c.text][0].startswith("Thank you")
    # the same audio at the voice's rate, resampled in one go
    _, _, native = _run(joe, TEXT)
    ref = kernels.float32_to_int16(resample(kernels.int16_to_float32(np.frombuffer(native, "<i2")), 22050, 8000))
    got = np.frombuffer(data20, "<i2")
    assert got.size == ref.size
    assert np.max(np.abs(got.astype(int) - ref)) <= 2
    # no clicks: the biggest sample-to-sample step at piece joints is no bigger than inside speech
    steps = np.abs(np.diff(got.astype(int)))
    assert steps.max() < 20000


@pytest.mark.parametrize("encoding", list(Encoding))
@pytest.mark.parametrize("rate", [8000, 16000, 22050, 24000, 44100, 48000])
def test_every_encoding_and_rate(joe, encoding, rate):
    job, chunks, data = _run(joe, "Hello from the voice service.", encoding=encoding, sample_rate=rate)
    pcm = _decode(data, encoding)
    assert pcm.size == sum(c.samples for c in chunks) and len(data) == pcm.size * encoding.sample_width
    assert 1.0 < pcm.size / rate < 3.5
    assert np.sqrt(np.mean(pcm.astype(np.float64) ** 2)) > 1000
    wav = wav_bytes(data, rate, encoding)
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE" and len(wav) >= len(data) + 44


def test_rate_volume_silence(joe):
    base = _decode(_run(joe, "One two three. Four five six.")[2], Encoding.LINEAR16)
    fast = _decode(_run(joe, "One two three. Four five six.", )[2], Encoding.LINEAR16)
    assert base.size == fast.size  # deterministic
    slow_job = SynthesisJob(joe, plan_pieces("One two three. Four five six.", "en", speaking_rate=0.5),
                            SynthesisOptions(deterministic=True))
    slow = _decode(b"".join(c.audio for c in slow_job.run()), Encoding.LINEAR16)
    assert slow.size > 1.6 * base.size
    quiet = _decode(_run(joe, "One two three. Four five six.", volume_gain_db=-20)[2], Encoding.LINEAR16)
    ratio = np.sqrt(np.mean(quiet.astype(float) ** 2) / np.mean(base.astype(float) ** 2))
    assert 0.08 < ratio < 0.12
    long_job = SynthesisJob(joe, plan_pieces("One two three. Four five six.", "en", sentence_silence_s=1.0),
                            SynthesisOptions(deterministic=True))
    longer = _decode(b"".join(c.audio for c in long_job.run()), Encoding.LINEAR16)
    assert longer.size - base.size == pytest.approx(0.8 * 22050, abs=50)


def test_cancel_stops_and_frees(joe):
    job = SynthesisJob(joe, plan_pieces(" ".join([TEXT] * 5), "en"), SynthesisOptions())
    assert job.step()
    job.cancel()
    assert job.step() is None and job.done and job.stats.cancelled
    assert job.stats.pieces_done < job.stats.pieces_total and joe.in_use == 0


def test_espeak_fallback_voice():
    cat = VoiceCatalogue([read_voice_info(embedded_voice_path())])
    pool = VoicePool(cat.for_language("de"))
    job = SynthesisJob(pool, plan_pieces("Guten Tag. Am 5. März um 14:30 kostet es 12,50 €.", "de"),
                       SynthesisOptions(encoding=Encoding.ALAW, sample_rate=8000))
    pcm = _decode(b"".join(c.audio for c in job.run()), Encoding.ALAW)
    assert 2.0 < pcm.size / 8000 < 10 and np.sqrt(np.mean(pcm.astype(float) ** 2)) > 500
