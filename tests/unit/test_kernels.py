"""Kernels against trusted references: audioop (G.711), soxr / scipy (resampling).

Tolerances: G.711 bit-exact; resampler chunked == one-shot to 1e-6, sine amplitude within
0.01 dB of the input through the passband, >= 80 dB stopband, same timing as soxr and
scipy.signal.resample_poly. Log-mel and telephony live in tests/test_kernels_more.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import kernels

try:
    import audioop
except ImportError:  # Python >= 3.13: audioop-lts
    import audioop  # type: ignore


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
PAIRS = [(a, b) for a in RATES for b in RATES if a != b]


def _run(rs, x, step):
    parts = [rs.process(x[i:i + step]) for i in range(0, x.size, step)]
    return np.concatenate(parts + [rs.process(np.zeros(0, np.float32)), rs.flush()])


@pytest.mark.parametrize("rate_in, rate_out", PAIRS)
def test_resampler_chunked_equals_one_shot(rate_in, rate_out):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(rate_in // 2 + 7).astype(np.float32) * 0.1
    one = kernels.StreamingResampler(rate_in, rate_out)
    ref = np.concatenate([one.process(x), one.flush()])
    assert abs(ref.size - round(x.size * rate_out / rate_in)) <= 1
    for chunk_ms in (10, 20, 37, 100):
        step = max(1, rate_in * chunk_ms // 1000)
        got = _run(kernels.StreamingResampler(rate_in, rate_out), x, step)
        np.testing.assert_allclose(got, ref, atol=1e-6, rtol=0)
    # flush resets: the object can be reused for a new signal
    assert np.allclose(_run(one, x, 1234), ref, atol=1e-6)


@pytest.mark.parametrize("rate_in, rate_out", [(8000, 16000), (16000, 8000), (11025, 16000),
                                               (22050, 16000), (24000, 16000), (44100, 16000),
                                               (48000, 16000), (16000, 22050), (44100, 48000),
                                               (48000, 8000), (22050, 8000)])
def test_resampler_sine_sweep_against_soxr_and_scipy(rate_in, rate_out):
    import soxr
    from scipy import signal
    secs = 1.0
    t = np.arange(int(rate_in * secs)) / rate_in
    lower_nyquist = min(rate_in, rate_out) / 2
    g = np.gcd(rate_in, rate_out)
    for freq in np.linspace(50, 0.9 * lower_nyquist, 9):  # passband sweep up to the edge
        x = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
        y = _run(kernels.StreamingResampler(rate_in, rate_out), x, rate_in // 50)
        n = y.size
        core = slice(n // 5, n - n // 5)  # away from the zero-padded ends
        # amplitude: ripple well under 0.01 dB (fit a sine at the known frequency)
        tt = np.arange(n) / rate_out
        basis = np.stack([np.sin(2 * np.pi * freq * tt), np.cos(2 * np.pi * freq * tt)], 1)[core]
        coef, *_ = np.linalg.lstsq(basis, y[core], rcond=None)
        gain_db = 20 * np.log10(np.hypot(*coef) / 0.5)
        assert abs(gain_db) < 0.01, (freq, gain_db)
        # timing: no shift (phase of the fitted sine equals the input's)
        assert abs(np.arctan2(coef[1], coef[0])) < 1e-3, freq
        ref = soxr.resample(x, rate_in, rate_out, quality="HQ")
        m = min(n, ref.size)
        c = slice(m // 5, m - m // 5)
        # soxr HQ itself droops ~0.02 dB near 0.9 x Nyquist: 0.5 % of the tone's amplitude
        assert np.max(np.abs(y[c] - ref[c])) < 2.5e-3, freq
        if freq <= 0.5 * lower_nyquist:  # scipy's default filter droops above (by design)
            ref2 = signal.resample_poly(x, rate_out // g, rate_in // g).astype(np.float32)
            assert np.max(np.abs(y[core] - ref2[:n][core])) < 2.5e-3, freq


@pytest.mark.parametrize("rate_in, rate_out", [(8000, 16000), (16000, 8000), (22050, 16000),
                                               (48000, 16000), (44100, 48000), (16000, 22050),
                                               (11025, 8000), (48000, 8000)])
def test_resampler_stopband_at_least_80_db(rate_in, rate_out):
    """Tones the output cannot carry (decimation) and the images of the input spectrum
    (interpolation) must be >= 80 dB down."""
    t = np.arange(rate_in) / rate_in
    nyq_in, nyq_out = rate_in / 2, rate_out / 2
    worst = -np.inf
    if rate_out < rate_in:  # tones between the new Nyquist and the old one must vanish
        freqs = np.linspace(nyq_out * 1.02, nyq_in * 0.98, 8)
    else:  # in-band tones near the old Nyquist: images above it must vanish
        freqs = np.linspace(nyq_in * 0.5, nyq_in * 0.9, 5)
    for freq in freqs:
        x = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
        y = _run(kernels.StreamingResampler(rate_in, rate_out), x, 999)
        y = y[y.size // 5: -y.size // 5].astype(np.float64)
        spec = np.abs(np.fft.rfft(y * np.blackman(y.size)))
        f = np.fft.rfftfreq(y.size, 1 / rate_out)
        if rate_out < rate_in:
            unwanted = spec  # everything is alias: the tone itself is out of band
        else:
            unwanted = np.where((f > nyq_in * 1.0), spec, 0)
        full_scale = np.sum(np.blackman(y.size)) * 0.5 / 2  # a 0.5-amplitude tone's peak
        worst = max(worst, 20 * np.log10(unwanted.max() / full_scale + 1e-30))
    assert worst < -80, worst


def test_resampler_odd_and_empty_and_bad_input():
    rs = kernels.StreamingResampler(8000, 16000)
    assert rs.process(np.zeros(0, np.float32)).size == 0
    assert rs.flush().size == 0
    x = np.arange(10, dtype=np.float32)
    a = np.concatenate([rs.process(x[::2]), rs.flush()])  # non-contiguous
    b = np.concatenate([rs.process(np.ascontiguousarray(x[::2])), rs.flush()])
    np.testing.assert_array_equal(a, b)
    assert a.size == 10
    assert 0 < rs.delay_s < 0.01
    with pytest.raises(TypeError, match="float32"):
        rs.process(np.zeros(10, np.int16))
    with pytest.raises(ValueError, match="1-D"):
        rs.process(np.zeros((2, 2), np.float32))
    with pytest.raises(TypeError, match="x must be"):
        rs.process([0.0, 1.0])
    with pytest.raises(ValueError, match="in_rate"):
        kernels.StreamingResampler(0, 16000)
    with pytest.raises(ValueError, match="out_rate"):
        kernels.StreamingResampler(16000, 16000.5)
    same = kernels.StreamingResampler(16000, 16000)
    np.testing.assert_array_equal(same.process(np.ones(5, np.float32)), np.ones(5))
    assert same.flush().size == 0
    # an unlisted rate the service accepts
    odd = kernels.StreamingResampler(12345, 16000)
    y = np.concatenate([odd.process(np.ones(12345, np.float32)), odd.flush()])
    assert abs(y.size - 16000) <= 1 and abs(y[8000] - 1) < 1e-4


def test_resampler_reset_starts_over():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(800).astype(np.float32)
    rs = kernels.StreamingResampler(8000, 16000)
    first = rs.process(x)
    rs.process(x)
    rs.reset()
    np.testing.assert_array_equal(rs.process(x), first)


def test_resampler_batch_equals_single_streams():
    rng = np.random.default_rng(4)
    for rate_in, rate_out in ((8000, 16000), (22050, 16000), (16000, 16000)):
        streams = [rng.standard_normal(n).astype(np.float32) for n in (0, 1, 333, 4000)]
        refs = []
        for s in streams:
            r = kernels.StreamingResampler(rate_in, rate_out)
            refs.append(np.concatenate([r.process(s), r.flush()]))
        batch = kernels.ResamplerBatch(len(streams), rate_in, rate_out)
        got = [[] for _ in streams]
        steps = (7, 160, 50, 999)
        pos = [0] * len(streams)
        while any(p < s.size for p, s in zip(pos, streams)):
            chunks = [s[p:p + st] for s, p, st in zip(streams, pos, steps)]
            pos = [p + st for p, st in zip(pos, steps)]
            out, off = batch.process(chunks)
            for i in range(len(streams)):
                got[i].append(out[off[i]:off[i + 1]])
        for i in range(len(streams)):
            got[i].append(batch.flush(i))
            np.testing.assert_allclose(np.concatenate(got[i]), refs[i], atol=1e-6, rtol=0)
    with pytest.raises(TypeError, match=r"chunks\[1\]"):
        batch.process([np.zeros(1, np.float32), np.zeros(1, np.float64), np.zeros(0, np.float32),
                       np.zeros(0, np.float32)])
    with pytest.raises(ValueError, match="one array per stream"):
        batch.process([np.zeros(1, np.float32)])
    with pytest.raises(ValueError, match="slot"):
        batch.flush(9)
