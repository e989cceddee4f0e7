"""voice.audio: raw formats at the edge; the G.711 path chosen by size gives identical bytes."""

from __future__ import annotations

import numpy as np
import pytest

import kernels
from voice.core.audio import (
    AudioDecoder,
    AudioFormatError,
    Encoding,
    bytes_to_int16,
    int16_to_bytes,
    read_audio_bytes,
)


@pytest.mark.parametrize("n", [0, 1, 160, 399, 400, 3999, 4000, 20000])
def test_g711_paths_agree(n):
    x = (np.random.default_rng(n).standard_normal(n) * 6000).clip(-32768, 32767).astype(np.int16)
    for enc, encode, decode in [(Encoding.MULAW, kernels.mulaw_encode, kernels.mulaw_decode),
                                (Encoding.ALAW, kernels.alaw_encode, kernels.alaw_decode)]:
        data = int16_to_bytes(x, enc)
        assert data == encode(x).tobytes()
        np.testing.assert_array_equal(bytes_to_int16(data, enc), decode(np.frombuffer(data, np.uint8)))
    assert int16_to_bytes(x, Encoding.LINEAR16) == x.astype("<i2").tobytes()


def test_linear16_odd_length_names_the_field():
    with pytest.raises(AudioFormatError, match="^audio_content: "):
        bytes_to_int16(b"\x00\x00\x00", Encoding.LINEAR16)


def test_decoder_rates_and_telephony_path():
    pcm = (np.sin(np.arange(8000) * 2 * np.pi * 440 / 8000) * 8000).astype(np.int16)
    ref = AudioDecoder(Encoding.LINEAR16, 8000)
    ref_audio = np.concatenate([ref.decode(pcm.tobytes()).audio, ref.flush().audio])
    tel = AudioDecoder(Encoding.MULAW, 8000)
    parts = [tel.decode(kernels.mulaw_encode(pcm[i:i + 160]).tobytes()) for i in range(0, 8000, 160)]
    tel_audio = np.concatenate([p.audio for p in parts] + [tel.flush().audio])
    assert all(p.frames is not None and p.frames.shape[1] == 320 for p in parts)
    assert abs(tel_audio.size - ref_audio.size) <= 1 and abs(ref_audio.size - 16000) <= 1
    n = min(tel_audio.size, ref_audio.size)
    assert np.max(np.abs(tel_audio[:n] - ref_audio[:n])) < 0.02  # mu-law quantisation only


def test_read_audio_bytes_rejects_garbage():
    with pytest.raises(AudioFormatError, match="^audio_content: not a readable WAV/FLAC"):
        read_audio_bytes(b"RIFF\0\0\0\0WAVEnope")
