"""Log-mel (against faster-whisper's FeatureExtractor), level kernels, the fused telephony
front end and its batched form, warmup.

Tolerances: log-mel max abs difference <= 1e-4 against FeatureExtractor (measured ~3e-6),
incremental == one-shot to 1e-4; telephony audio equals decode + StreamingResampler exactly
and frames equal float32_to_int16 of it exactly; streaming filters chunked == one-shot to
1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest

import kernels


def _speechlike(n, seed=0):
    """Noise with a slow amplitude envelope, a quiet stretch and a loud tone."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    x = rng.standard_normal(n) * 0.05 * (1 + np.sin(2 * np.pi * 3 * t))
    x += 0.3 * np.sin(2 * np.pi * 440 * t) * (t > 0.5)
    x[n // 3: n // 2] *= 1e-4
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def feature_extractor():
    import faster_whisper.feature_extractor as fw
    return {80: fw.FeatureExtractor(80), 128: fw.FeatureExtractor(128)}


@pytest.mark.parametrize("n_mels", [80, 128])
def test_mel_filters_match_faster_whisper(n_mels, feature_extractor):
    np.testing.assert_allclose(kernels.mel_filters(n_mels), feature_extractor[n_mels].mel_filters,
                               atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("n_mels", [80, 128])
@pytest.mark.parametrize("n", [0, 1, 150, 399, 400, 401, 16000, 16161, 16000 * 30 + 3])
def test_log_mel_matches_feature_extractor(n_mels, n, feature_extractor):
    x = _speechlike(n, seed=n)
    ref = feature_extractor[n_mels](x)
    got = kernels.log_mel_spectrogram(x, n_mels)
    assert got.dtype == np.float32 and got.shape == ref.shape == (n_mels, n // 160 + 1)
    assert np.max(np.abs(got - ref)) <= 1e-4


def test_log_mel_silence_and_tone(feature_extractor):
    for x in (np.zeros(8000, np.float32), (0.9 * np.sin(np.arange(8000) * 0.3)).astype(np.float32)):
        assert np.max(np.abs(kernels.log_mel_spectrogram(x) - feature_extractor[80](x))) <= 1e-4


def test_log_mel_bad_input():
    x = _speechlike(3200)
    np.testing.assert_array_equal(kernels.log_mel_spectrogram(x[::2]),
                                  kernels.log_mel_spectrogram(np.ascontiguousarray(x[::2])))
    with pytest.raises(TypeError, match="float32"):
        kernels.log_mel_spectrogram(x.astype(np.float64))
    with pytest.raises(ValueError, match="1-D"):
        kernels.log_mel_spectrogram(x.reshape(2, -1))
    with pytest.raises(ValueError, match="n_mels"):
        kernels.log_mel_spectrogram(x, 64)


@pytest.mark.parametrize("n_mels", [80, 128])
def test_log_mel_stream_equals_one_shot(n_mels, feature_extractor):
    x = _speechlike(16000 * 3 + 77, seed=5)
    for step in (1, 37, 160, 1600, 4801):
        st = kernels.LogMelStream(n_mels)
        limit = 2000 if step < 100 else x.size  # tiny steps: the start is the tricky part
        for i in range(0, limit, step):
            got = st.push(x[i:i + step])
            buf = x[:i + step]
            if step < 100 or (i // step) % 3 == 0:
                assert np.max(np.abs(got - kernels.log_mel_spectrogram(buf, n_mels))) <= 1e-4
        assert np.max(np.abs(got - feature_extractor[n_mels](buf))) <= 1e-4
    assert st.push(np.zeros(0, np.float32)).shape == (n_mels, buf.size // 160 + 1)
    st.reset()
    assert st.push(np.zeros(0, np.float32)).shape == (n_mels, 1)


def test_frame_rms_dbfs():
    full_sine = np.sin(2 * np.pi * np.arange(1600) / 32).astype(np.float32)
    np.testing.assert_allclose(kernels.frame_rms_dbfs(full_sine, 320), -3.0103, atol=1e-3)
    i16 = (np.ones(700) * 3277).astype(np.int16)  # 0.1 full scale -> -20 dBFS
    np.testing.assert_allclose(kernels.frame_rms_dbfs(i16, 320), [-20.0, -20.0], atol=1e-3)
    assert kernels.frame_rms_dbfs(np.zeros(320, np.float32), 320)[0] == kernels.level.FLOOR_DB
    assert kernels.frame_rms_dbfs(np.zeros(10, np.float32), 320).size == 0
    np.testing.assert_allclose(kernels.frame_rms_dbfs(full_sine[::2], 160), -3.0103, atol=1e-3)
    with pytest.raises(TypeError, match="float32 or int16"):
        kernels.frame_rms_dbfs(np.zeros(4, np.float64), 2)
    with pytest.raises(ValueError, match="frame_len"):
        kernels.frame_rms_dbfs(np.zeros(4, np.float32), 0)


@pytest.mark.parametrize("make", [lambda: kernels.DCBlocker(8000, 20.0), lambda: kernels.PreEmphasis(0.97),
                                  lambda: kernels.AGC(8000)])
def test_streaming_level_filters_chunked_equals_one_shot(make):
    x = _speechlike(8000 * 2, seed=9) + np.float32(0.2)  # with a DC offset
    ref = make().process(x)
    f = make()
    got = np.concatenate([f.process(x[i:i + 123]) for i in range(0, x.size, 123)] +
                         [f.process(np.zeros(0, np.float32))])
    np.testing.assert_allclose(got, ref, atol=1e-6, rtol=0)
    with pytest.raises(TypeError, match="float32"):
        f.process(np.zeros(3, np.int16))
    np.testing.assert_array_equal(make().process(x[::3]), make().process(np.ascontiguousarray(x[::3])))


def test_dc_blocker_and_pre_emphasis_values():
    x = np.full(8000, 0.5, np.float32)
    y = kernels.DCBlocker(8000, 20.0).process(x)
    assert abs(y[-1]) < 1e-3 and abs(y[0] - 0.5) < 1e-6  # DC decays away
    from scipy import signal
    x = _speechlike(1000)
    ref = signal.lfilter([1, -0.97], [1], x.astype(np.float64))
    np.testing.assert_allclose(kernels.PreEmphasis(0.97).process(x), ref, atol=1e-6)
    with pytest.raises(ValueError, match="coef"):
        kernels.PreEmphasis(1.5)


def test_agc_brings_quiet_speech_to_target_and_holds_in_silence():
    rng = np.random.default_rng(1)
    quiet = (rng.standard_normal(16000 * 2) * 10 ** (-40 / 20)).astype(np.float32)  # -40 dBFS
    agc = kernels.AGC(16000, target_dbfs=-20.0, max_gain_db=30.0)
    y = agc.process(quiet)
    level = kernels.frame_rms_dbfs(y[16000:], 1600)
    assert np.all(np.abs(level + 20) < 2.0), level
    gain = agc.gain_db
    agc.process(np.zeros(16000, np.float32))  # gate: silence is not pumped up...
    assert agc.gain_db < gain + 3.0  # (only the ~50 ms before the level falls below the gate)
    held = agc.gain_db
    agc.process(np.zeros(16000, np.float32))  # ...and the gain is held while it lasts
    assert abs(agc.gain_db - held) < 1e-9
    loud = (rng.standard_normal(16000) * 0.5).astype(np.float32)
    y = agc.process(loud)
    assert np.max(np.abs(y)) <= 1.0
    assert np.all(kernels.frame_rms_dbfs(y[1600:], 1600) < -15)  # attack pulls it down fast
    with pytest.raises(ValueError):
        kernels.AGC(16000, min_gain_db=10, max_gain_db=0)


def _g711(law, pcm):
    return (kernels.mulaw_encode if law == "mulaw" else kernels.alaw_encode)(pcm).tobytes()


def _telephony_reference(law, data, frame_len=320):
    dec = kernels.mulaw_decode if law == "mulaw" else kernels.alaw_decode
    rs = kernels.StreamingResampler(8000, 16000)
    audio = np.concatenate([rs.process(kernels.int16_to_float32(dec(data))), rs.flush()])
    i16 = kernels.float32_to_int16(audio)
    nf = -(-i16.size // frame_len)
    frames = np.zeros(nf * frame_len, np.int16)
    frames[:i16.size] = i16
    frames = frames.reshape(nf, frame_len)
    return audio, frames, kernels.frame_rms_dbfs(frames.ravel(), frame_len)


@pytest.mark.parametrize("law", ["mulaw", "alaw"])
@pytest.mark.parametrize("step", [1, 80, 160, 237, 800])
def test_telephony_front_end_equals_separate_kernels(law, step):
    rng = np.random.default_rng(step)
    pcm = (rng.standard_normal(8000 * 2 + 13) * 4000).astype(np.int16)
    data = _g711(law, pcm)
    ref_audio, ref_frames, ref_energy = _telephony_reference(law, data)
    fe = kernels.TelephonyFrontEnd(law)
    outs = [fe.process(data[i:i + step]) for i in range(0, len(data), step)]
    outs.append(fe.process(b""))
    outs.append(fe.flush())
    np.testing.assert_array_equal(np.concatenate([o.audio for o in outs]), ref_audio)
    np.testing.assert_array_equal(np.concatenate([o.frames for o in outs]), ref_frames)
    np.testing.assert_allclose(np.concatenate([o.energy_db for o in outs]), ref_energy, atol=1e-4)
    assert all(o.frames.shape[1:] == (320,) and o.frames.dtype == np.int16 for o in outs)


def test_telephony_inputs():
    fe = kernels.TelephonyFrontEnd("alaw")
    data = _g711("alaw", (np.arange(800) * 40).astype(np.int16))
    a = fe.process(np.frombuffer(data, np.uint8)[::2]).audio
    fe.reset()
    b = fe.process(np.ascontiguousarray(np.frombuffer(data, np.uint8)[::2])).audio
    np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="data must be bytes"):
        fe.process(np.zeros(4, np.int16))
    with pytest.raises(ValueError, match="law"):
        kernels.TelephonyFrontEnd("g722")
    assert fe.flush().audio.size > 0 and fe.flush().audio.size == 0  # flush resets
    out = kernels.TelephonyFrontEnd().process(b"")
    assert out.audio.size == 0 and out.frames.shape == (0, 320) and out.energy_db.size == 0


def test_telephony_batch_equals_single_streams():
    rng = np.random.default_rng(7)
    laws = ["mulaw", "alaw", "mulaw", "alaw", "mulaw"]
    lengths = [0, 100, 8000, 12345, 4000]
    datas = [_g711(law, (rng.standard_normal(n) * 3000).astype(np.int16)) for law, n in zip(laws, lengths)]
    batch = kernels.TelephonyBatch(len(laws))
    for s, law in enumerate(laws):
        batch.reset(s, law)
    steps = [160, 7, 160, 480, 800]
    got = [[] for _ in laws]
    pos = [0] * len(laws)
    while any(p < len(d) for p, d in zip(pos, datas)):
        chunks = [d[p:p + st] if p < len(d) else None for d, p, st in zip(datas, pos, steps)]
        pos = [p + st for p, st in zip(pos, steps)]
        out = batch.process(chunks)
        for s in range(len(laws)):
            got[s].append(out.stream(s))
    for s, law in enumerate(laws):
        got[s].append(batch.flush(s))
        audio, frames, energy = _telephony_reference(law, datas[s])
        np.testing.assert_array_equal(np.concatenate([o.audio for o in got[s]]), audio)
        np.testing.assert_array_equal(np.concatenate([o.frames for o in got[s]]), frames)
        np.testing.assert_allclose(np.concatenate([o.energy_db for o in got[s]]), energy, atol=1e-4)
    with pytest.raises(TypeError, match=r"chunks\[1\]"):
        batch.process([b"", 5, b"", b"", b""])
    with pytest.raises(ValueError, match="one entry per slot"):
        batch.process([b""])
    with pytest.raises(ValueError, match="slot"):
        batch.reset(-1)


def test_warmup_runs():
    kernels.warmup()
