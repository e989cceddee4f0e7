"""Kernels against trusted references: audioop (G.711), soxr / scipy (resampling)."""

from __future__ import annotations

import numpy as np
import pytest

import kernels

try:
    import audioop
except ImportError:  # Python >= 3.13: audioop-lts
    import audioop  # type: ignore  # noqa: F811


def test_int16_float32_round_trip():
    x = np.arange(-32768, 32768, dtype=np.int16)
    f = kernels.int16_to_float32(x)
    assert f.dtype == np.float32 and f.min() == -1.0 and f.max() < 1.0
    np.testing.assert_array_equal(kernels.float32_to_int16(f), x)
    clipped = kernels.float32_to_int16(np.array([2.0, -2.0, 0.5], np.float32))
    np.testing.assert_array_equal(clipped, [32767, -32768, 16384])
    assert kernels.int16_to_float32(np.zeros(0, np.int16)).size == 0
    np.testing.assert_array_equal(kernels.int16_to_float32(x[::3]), f[::3])  # non-contiguous
    with pytest.raises(TypeError, match="int16"):
        kernels.int16_to_float32(np.zeros(4, np.int32))
    with pytest.raises(TypeError, match="float32"):
        kernels.float32_to_int16(np.zeros(4, np.float64))


def test_stereo_to_mono():
    x = np.array([100, 300, -5, -6, 7, 8], np.int16)
    np.testing.assert_array_equal(kernels.stereo_to_mono(x), [200, -6, 8])
    np.testing.assert_array_equal(kernels.stereo_to_mono(x.reshape(3, 2)), [200, -6, 8])
    np.testing.assert_allclose(kernels.stereo_to_mono(np.array([0.5, 0.25], np.float32)), [0.375])
    with pytest.raises(ValueError, match="stereo"):
        kernels.stereo_to_mono(np.zeros(3, np.int16))


def test_g711_bit_exact_with_audioop():
    every_byte = bytes(range(256))
    assert kernels.mulaw_decode(every_byte).tobytes() == audioop.ulaw2lin(every_byte, 2)
    assert kernels.alaw_decode(every_byte).tobytes() == audioop.alaw2lin(every_byte, 2)
    every_sample = np.arange(-32768, 32768, dtype=np.int16)
    assert kernels.mulaw_encode(every_sample).tobytes() == audioop.lin2ulaw(every_sample.tobytes(), 2)
    assert kernels.alaw_encode(every_sample).tobytes() == audioop.lin2alaw(every_sample.tobytes(), 2)
    assert kernels.mulaw_decode(b"").size == 0
    with pytest.raises(TypeError, match="int16"):
        kernels.mulaw_encode(np.zeros(2, np.float32))
    with pytest.raises(TypeError, match="uint8"):
        kernels.alaw_decode(np.zeros(2, np.int16))


RATES = [8000, 11025, 16000, 22050, 24000, 44100, 48000]


@pytest.mark.parametrize("rate_in, rate_out", [(8000, 16000), (16000, 8000), (22050, 16000), (44100, 48000), (48000, 8000), (11025, 24000)])
def test_resampler_chunked_equals_one_shot(rate_in, rate_out):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(rate_in).astype(np.float32) * 0.1
    one = kernels.StreamingResampler(rate_in, rate_out)
    ref = np.concatenate([one.process(x), one.flush()])
    assert abs(ref.size - rate_out) <= 1
    for chunk_ms in (10, 20, 37, 100):
        step = max(1, rate_in * chunk_ms // 1000)
        rs = kernels.StreamingResampler(rate_in, rate_out)
        parts = [rs.process(x[i:i + step]) for i in range(0, x.size, step)]
        got = np.concatenate(parts + [rs.process(np.zeros(0, np.float32)), rs.flush()])
        np.testing.assert_allclose(got, ref, atol=1e-6)


@pytest.mark.parametrize("rate_in, rate_out", [(8000, 16000), (22050, 16000), (48000, 16000), (16000, 22050)])
def test_resampler_matches_soxr_and_rejects_images(rate_in, rate_out):
    soxr = pytest.importorskip("soxr")
    t = np.arange(rate_in * 2) / rate_in
    lower_nyquist = min(rate_in, rate_out) / 2
    for freq in np.linspace(100, 0.85 * lower_nyquist, 6):  # passband sweep
        x = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
        rs = kernels.StreamingResampler(rate_in, rate_out)
        y = np.concatenate([rs.process(x), rs.flush()])
        ref = soxr.resample(x, rate_in, rate_out, quality="HQ")
        n = min(y.size, ref.size)
        core = slice(n // 10, n - n // 10)
        assert np.max(np.abs(y[core] - ref[core])) < 2e-3, freq  # same signal, same timing
    if rate_out < rate_in:  # stopband: a tone above the new Nyquist must vanish (>= 80 dB)
        x = (0.5 * np.sin(2 * np.pi * (0.6 * rate_in / 2 + 0.4 * rate_out / 2) * t)).astype(np.float32)
        rs = kernels.StreamingResampler(rate_in, rate_out)
        y = np.concatenate([rs.process(x), rs.flush()])
        n = y.size
        assert 20 * np.log10(np.sqrt(np.mean(y[n // 10:-n // 10] ** 2)) / (0.5 / np.sqrt(2))) < -80


def test_resampler_bad_input():
    rs = kernels.StreamingResampler(8000, 16000)
    with pytest.raises(TypeError, match="float32"):
        rs.process(np.zeros(10, np.int16))
    with pytest.raises(ValueError, match="positive"):
        kernels.StreamingResampler(0, 16000)
    assert rs.process(np.zeros(0, np.float32)).size == 0
    same = kernels.StreamingResampler(16000, 16000)
    np.testing.assert_array_equal(same.process(np.ones(5, np.float32)), np.ones(5))
