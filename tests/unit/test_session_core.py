"""The streaming core on synthetic audio: bounded memory, bad input, stream time at every rate."""

from __future__ import annotations

import numpy as np
import pytest

from voice.config import EndpointingDefaults
from voice.core.audio import AudioFormatError
from voice.core.session import RecognitionSession, StreamOptions


def test_memory_is_bounded_on_long_silence_and_speech():
    s = RecognitionSession(StreamOptions(sample_rate=16000, endpointing=EndpointingDefaults(max_utterance_seconds=2)))
    rng = np.random.default_rng(1)
    noise = (rng.standard_normal(16000 * 60) * 8000).clip(-32768, 32767).astype(np.int16)  # VAD hears "speech"
    for i in range(0, noise.size, 1600):
        s.push(noise[i:i + 1600].tobytes())
    assert s._buffer.size <= 16000 * 4.5


def test_odd_length_linear16_is_rejected_and_session_survives():
    s = RecognitionSession(StreamOptions(sample_rate=16000))
    with pytest.raises(AudioFormatError, match="audio_content.*even number of bytes"):
        s.push(b"\x00\x01\x02")
    s.push(b"\x00\x00" * 160)
    assert s.stream_seconds == pytest.approx(0.01)


def test_resampled_rates_keep_stream_time():
    for rate in (8000, 11025, 22050, 44100, 48000):
        s = RecognitionSession(StreamOptions(sample_rate=rate))
        s.push(np.zeros(rate * 2, np.int16).tobytes())
        s.finish()
        assert s.stream_seconds == pytest.approx(2.0, abs=1e-3), rate
