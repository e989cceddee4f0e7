"""Read WAV files as raw bytes in their own encoding (PCM16, mu-law, A-law) when possible.

Telephone audio is usually stored as 8 kHz G.711 WAV: sending those bytes unchanged (as
MULAW / ALAW) is what a call-centre integration does. Other formats are decoded to mono
LINEAR16 with soundfile.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

FORMAT_PCM = 1
FORMAT_ALAW = 6
FORMAT_MULAW = 7
FORMAT_EXTENSIBLE = 0xFFFE


@dataclass(frozen=True)
class RawAudio:
    encoding: str  # "LINEAR16" | "MULAW" | "ALAW"
    sample_rate: int
    data: bytes

    @property
    def bytes_per_second(self) -> int:
        return self.sample_rate * (2 if self.encoding == "LINEAR16" else 1)


def _riff_chunks(blob: bytes):
    pos = 12
    while pos + 8 <= len(blob):
        cid, size = struct.unpack_from("<4sI", blob, pos)
        yield cid, blob[pos + 8:pos + 8 + size]
        pos += 8 + size + (size & 1)


def read_raw(path: str) -> RawAudio:
    with open(path, "rb") as fh:
        blob = fh.read()
    if blob[:4] == b"RIFF" and blob[8:12] == b"WAVE":
        fmt = data = None
        for cid, body in _riff_chunks(blob):
            if cid == b"fmt ":
                fmt = body
            elif cid == b"data":
                data = body
        if fmt is not None and data is not None:
            tag, channels, rate = struct.unpack_from("<HHI", fmt, 0)
            bits = struct.unpack_from("<H", fmt, 14)[0]
            if tag == FORMAT_EXTENSIBLE and len(fmt) >= 26:
                tag = struct.unpack_from("<H", fmt, 24)[0]
            if channels == 1 and tag == FORMAT_MULAW:
                return RawAudio("MULAW", rate, data)
            if channels == 1 and tag == FORMAT_ALAW:
                return RawAudio("ALAW", rate, data)
            if channels == 1 and tag == FORMAT_PCM and bits == 16:
                return RawAudio("LINEAR16", rate, data[: len(data) // 2 * 2])
    import soundfile as sf

    audio, rate = sf.read(path, dtype="int16", always_2d=True)
    mono = audio.mean(axis=1).astype("<i2") if audio.shape[1] > 1 else audio[:, 0].astype("<i2")
    return RawAudio("LINEAR16", rate, mono.tobytes())


def write_wav(path: str, data: bytes, sample_rate: int, encoding: str = "LINEAR16") -> None:
    """Write mono audio bytes in ``encoding`` as a WAV file (G.711 WAV for MULAW/ALAW)."""
    from voice.audio import Encoding, wav_bytes

    with open(path, "wb") as fh:
        fh.write(wav_bytes(data, sample_rate, Encoding(encoding)))


def pcm16(raw: RawAudio) -> np.ndarray:
    if raw.encoding != "LINEAR16":
        raise ValueError("not LINEAR16")
    return np.frombuffer(raw.data, dtype="<i2")
