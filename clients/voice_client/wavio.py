"""Read and write WAV files as raw bytes in their own encoding, with the standard library only.

Telephone audio is usually stored as 8 kHz G.711 WAV: sending those bytes unchanged (as
MULAW / ALAW) is what a call-centre integration does. PCM16 WAV is sent as LINEAR16
(multi-channel PCM16 is downmixed to mono). Other formats (FLAC, OGG, 24-bit or float WAV,
...) are decoded to mono LINEAR16 by ``soundfile`` when the optional ``formats`` extra is
installed; without it :func:`read_raw` raises :class:`UnsupportedAudioError`.
"""

from __future__ import annotations

import importlib
import struct
import sys
from array import array
from collections.abc import Iterator
from dataclasses import dataclass

FORMAT_PCM = 1
FORMAT_ALAW = 6
FORMAT_MULAW = 7
FORMAT_EXTENSIBLE = 0xFFFE

# encoding -> (WAV format tag, bytes per sample)
_WAV_FORMATS = {"LINEAR16": (FORMAT_PCM, 2), "MULAW": (FORMAT_MULAW, 1), "ALAW": (FORMAT_ALAW, 1)}

NEEDS_FORMATS_EXTRA = ("only WAV (PCM16, mono mu-law, mono A-law) is read without the optional `soundfile` extra; "
                       "pip install 'voice-client[formats]'")


class UnsupportedAudioError(ValueError):
    """A file that needs the optional ``soundfile`` extra (``voice-client[formats]``) to be read."""


@dataclass(frozen=True)
class RawAudio:
    """Mono audio bytes as sent on the wire: ``encoding`` is "LINEAR16", "MULAW" or "ALAW"."""

    encoding: str
    sample_rate: int
    data: bytes

    @property
    def bytes_per_second(self) -> int:
        """Bytes of ``data`` per second of audio."""
        return self.sample_rate * (2 if self.encoding == "LINEAR16" else 1)


def _riff_chunks(blob: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(chunk id, chunk body) of each chunk of a RIFF file, after the 12-byte header."""
    pos = 12
    while pos + 8 <= len(blob):
        cid, size = struct.unpack_from("<4sI", blob, pos)
        yield cid, blob[pos + 8:pos + 8 + size]
        pos += 8 + size + (size & 1)


def _downmix(samples: array, channels: int) -> bytes:
    """Interleaved native-order int16 ``samples`` -> mono little-endian PCM16 (floored channel mean)."""
    if channels > 1:
        columns = [samples[c::channels] for c in range(channels)]
        samples = array("h", (sum(frame) // channels for frame in zip(*columns)))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def _pcm16_mono(data: bytes, channels: int) -> bytes:
    """Little-endian interleaved PCM16 ``data`` -> mono little-endian PCM16 (a partial frame is dropped)."""
    frame = 2 * channels
    data = data[: len(data) // frame * frame]
    if channels == 1:
        return data
    samples = array("h", data)
    if sys.byteorder == "big":
        samples.byteswap()
    return _downmix(samples, channels)


def _read_wav(blob: bytes) -> RawAudio | None:
    """The audio of a WAV file this module decodes itself, or None for one it does not."""
    fmt = data = None
    for cid, body in _riff_chunks(blob):
        if cid == b"fmt ":
            fmt = body
        elif cid == b"data":
            data = body
    if fmt is None or data is None or len(fmt) < 16:
        return None
    tag, channels, rate = struct.unpack_from("<HHI", fmt, 0)
    bits = struct.unpack_from("<H", fmt, 14)[0]
    if tag == FORMAT_EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack_from("<H", fmt, 24)[0]  # the first two bytes of the SubFormat GUID
    if channels == 1 and tag == FORMAT_MULAW:
        return RawAudio("MULAW", rate, data)
    if channels == 1 and tag == FORMAT_ALAW:
        return RawAudio("ALAW", rate, data)
    if channels >= 1 and tag == FORMAT_PCM and bits == 16:
        return RawAudio("LINEAR16", rate, _pcm16_mono(data, channels))
    return None


def _read_with_soundfile(path: str) -> RawAudio:
    """Decode any format libsndfile reads to mono LINEAR16 (needs the ``formats`` extra)."""
    try:  # imported by name: the optional extra is no dependency of the client
        soundfile = importlib.import_module("soundfile")
    except ImportError:
        raise UnsupportedAudioError(NEEDS_FORMATS_EXTRA) from None
    audio, rate = soundfile.read(path, dtype="int16", always_2d=True)
    return RawAudio("LINEAR16", int(rate), _downmix(array("h", audio.tobytes()), audio.shape[1]))


def read_raw(path: str) -> RawAudio:
    """The mono audio of the file at ``path``, in its own encoding when it is PCM16 / G.711 WAV.

    Raises :class:`UnsupportedAudioError` for other formats when ``soundfile`` is not installed,
    and ``OSError`` for a file that cannot be opened.
    """
    with open(path, "rb") as fh:
        blob = fh.read()
    if blob[:4] == b"RIFF" and blob[8:12] == b"WAVE":
        raw = _read_wav(blob)
        if raw is not None:
            return raw
    return _read_with_soundfile(path)


def wav_bytes(data: bytes, sample_rate: int, encoding: str = "LINEAR16") -> bytes:
    """Mono ``encoding`` bytes in a RIFF/WAVE container.

    PCM16 gets the 16-byte fmt chunk; MULAW / ALAW (non-PCM formats) get an 18-byte fmt chunk
    (cbSize = 0) and a fact chunk with the sample count, as the WAV specification asks.
    """
    if encoding not in _WAV_FORMATS:
        raise ValueError(f"unknown encoding {encoding!r}; one of {', '.join(_WAV_FORMATS)}")
    tag, width = _WAV_FORMATS[encoding]
    fmt = struct.pack("<HHIIHH", tag, 1, sample_rate, sample_rate * width, width, 8 * width)
    chunks = []
    if tag != FORMAT_PCM:
        fmt += struct.pack("<H", 0)
        chunks.append(b"fact" + struct.pack("<II", 4, len(data) // width))
    chunks.insert(0, b"fmt " + struct.pack("<I", len(fmt)) + fmt)
    chunks.append(b"data" + struct.pack("<I", len(data)) + data + b"\0" * (len(data) & 1))
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def write_wav(path: str, data: bytes, sample_rate: int, encoding: str = "LINEAR16") -> None:
    """Write mono audio bytes in ``encoding`` as a WAV file (G.711 WAV for MULAW/ALAW)."""
    with open(path, "wb") as fh:
        fh.write(wav_bytes(data, sample_rate, encoding))
