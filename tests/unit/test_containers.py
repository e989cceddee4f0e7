"""Synthesized audio into containers (voice.core.containers), shared by the OpenAI and Riva doors."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from voice.core.containers import container_encoder, container_formats
from voice.core.errors import InvalidArgument


def test_wav_and_pcm_are_always_there_and_a_wav_stream_reads_back():
    assert {"wav", "pcm"} <= set(container_formats())
    pcm = (np.sin(np.arange(1600) / 5) * 8000).astype("<i2").tobytes()
    enc = container_encoder("wav", 16000)
    data = enc.start() + enc.encode(pcm[:1000]) + enc.encode(pcm[1000:]) + enc.finish()
    assert data[:4] == b"RIFF" and data.endswith(pcm)
    assert container_encoder("pcm", 8000).encode(pcm) == pcm


def test_an_unknown_format_is_refused_naming_the_field():
    with pytest.raises(InvalidArgument) as err:
        container_encoder("aiff", 16000, field="response_format")
    assert err.value.field == "response_format" and "wav" in str(err.value)


def test_flac_comes_whole_and_reads_back():
    pcm = (np.arange(3200) % 200 * 50).astype("<i2")
    enc = container_encoder("flac", 16000)
    head = enc.start() + enc.encode(pcm.tobytes())
    data = head + enc.finish()
    audio, rate = sf.read(io.BytesIO(data), dtype="int16")
    assert rate == 16000 and np.array_equal(audio, pcm)
