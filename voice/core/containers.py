"""Synthesized audio into containers, as a stream: raw 16-bit PCM, WAV, FLAC, Ogg Opus, MP3.

Every door that sends synthesized audio in a container (OpenAI's ``/v1/audio/speech``, Riva's
Opus synthesis) uses these. An encoder takes 16-bit little-endian mono PCM chunks and returns
the bytes to send: ``start()`` (a header, if any), ``encode(pcm)`` per chunk, ``finish()``.
``blocking`` says whether a call is heavy enough to run off the event loop.
"""

from __future__ import annotations

import functools
import io
import struct

import numpy as np

from .errors import InvalidArgument


class PcmEncoder:
    """Raw 16-bit little-endian mono samples (OpenAI's ``pcm``)."""

    content_type = "audio/pcm"
    blocking = False  # cheap enough for the event loop

    def __init__(self, rate: int):
        self.rate = rate

    def start(self) -> bytes:
        return b""

    def encode(self, pcm: bytes) -> bytes:
        return pcm

    def finish(self) -> bytes:
        return b""


class WavEncoder(PcmEncoder):
    """A WAV header whose sizes say "until the end" (0xFFFFFFFF, as streaming servers send),
    then the samples as they come."""

    content_type = "audio/wav"

    def start(self) -> bytes:
        fmt = struct.pack("<HHIIHH", 1, 1, self.rate, self.rate * 2, 2, 16)
        return (b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
                + b"data" + struct.pack("<I", 0xFFFFFFFF))


class _Sink:
    """A write-only file for libsndfile that hands on what was written: bytes behind what was
    already sent (a header rewritten at close) are dropped, which leaves the stream's length
    "unknown", as in any live stream."""

    def __init__(self):
        self._pos = 0
        self._sent = 0
        self._buf = bytearray()

    def write(self, data) -> int:
        data = bytes(data)
        end = self._pos + len(data)
        if end > self._sent:
            skip = max(0, self._sent - self._pos)
            at = self._pos + skip - self._sent
            if at > len(self._buf):
                self._buf.extend(bytes(at - len(self._buf)))
            self._buf[at:at + len(data) - skip] = data[skip:]
        self._pos = end
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (0, self._pos, self._sent + len(self._buf))[whence]
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, size: int = -1) -> bytes:
        return b""

    def take(self) -> bytes:
        out = bytes(self._buf)
        self._sent += len(out)
        self._buf.clear()
        return out


_SNDFILE = {"flac": ("FLAC", "PCM_16", "audio/flac"), "opus": ("OGG", "OPUS", "audio/ogg"),
            "mp3": ("MP3", "MPEG_LAYER_III", "audio/mpeg")}
_OGG_PAGE_LATENCY_MS = 0x1302  # libsndfile's SFC_SET_OGG_PAGE_LATENCY_MS (1.1+)


class _WholeSink(io.BytesIO):
    """A seekable file whose bytes are handed on once, when it is complete."""

    done = False

    def take(self) -> bytes:
        return self.getvalue() if self.done else b""


class SndfileEncoder:
    """Ogg Opus or MP3 through libsndfile, bytes handed on as libsndfile writes them (Opus pages
    every 100 ms); FLAC whole, once complete: a streamed FLAC cannot have its length in its
    header, and libsndfile (so soundfile, and our own reader) cannot read one without it.
    Encoding costs ~1-10 ms per second of audio: run it off the loop."""

    blocking = True

    def __init__(self, fmt: str, rate: int):
        import soundfile as sf

        container, subtype, self.content_type = _SNDFILE[fmt]
        self.rate = rate
        self._sink = _WholeSink() if fmt == "flac" else _Sink()
        self._file = sf.SoundFile(self._sink, mode="w", samplerate=rate, channels=1, format=container,
                                  subtype=subtype)
        if container == "OGG":
            _set_page_latency(self._file, 100.0)

    def start(self) -> bytes:
        return self._sink.take()

    def encode(self, pcm: bytes) -> bytes:
        self._file.write(np.frombuffer(pcm, dtype="<i2"))
        return self._sink.take()

    def finish(self) -> bytes:
        if self._file.closed:
            return b""
        self._file.close()
        if isinstance(self._sink, _WholeSink):
            self._sink.done = True
        return self._sink.take()


def _set_page_latency(file, ms: float) -> None:
    """Ogg pages every ``ms`` (libsndfile otherwise holds them until the file closes); soundfile
    has no wrapper for this command, so it goes through its cffi handle. Best effort."""
    try:
        from soundfile import _ffi, _snd

        value = _ffi.new("double*", ms)
        _snd.sf_command(file._file, _OGG_PAGE_LATENCY_MS, value, _ffi.sizeof("double"))
    except Exception:  # an older libsndfile: pages come later, nothing breaks
        pass


@functools.cache
def container_formats() -> tuple[str, ...]:
    """The formats this server can write (libsndfile's MP3 and Opus are build options)."""
    import soundfile as sf

    formats = sf.available_formats()
    out = ["wav", "pcm"]
    if "FLAC" in formats:
        out.append("flac")
    if "OGG" in formats and "OPUS" in sf.available_subtypes("OGG"):
        out.append("opus")
    if "MP3" in formats and "MPEG_LAYER_III" in sf.available_subtypes("MP3"):
        out.append("mp3")
    return tuple(out)


def container_encoder(fmt: str, rate: int, field: str = "format"):
    """The streaming encoder for ``fmt`` at ``rate``; :class:`InvalidArgument` naming ``field``
    for a format this server's libsndfile cannot write."""
    if fmt == "pcm":
        return PcmEncoder(rate)
    if fmt == "wav":
        return WavEncoder(rate)
    if fmt not in container_formats():
        raise InvalidArgument(field, f"{fmt!r} is not available on this server "
                                     f"(use {', '.join(container_formats())})")
    return SndfileEncoder(fmt, rate)
