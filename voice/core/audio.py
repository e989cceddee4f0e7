"""Audio formats at the edge: raw LINEAR16 / MULAW / ALAW bytes and WAV / FLAC files.

Everything inside the service is mono float32 at 16 kHz (what Whisper and the VAD want).
:class:`AudioDecoder` turns one stream's raw chunks into that, carrying resampler state
across chunks; :func:`read_audio_file` reads containers. The DSP itself is in :mod:`kernels`.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from enum import Enum

import numpy as np

import kernels

from .errors import InvalidArgument

try:  # the C reference: stdlib up to 3.12, the audioop-lts package on 3.13+
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop as _audioop
except ImportError:  # pragma: no cover - depends on the Python build
    _audioop = None

# Below these sizes (samples) one audioop call beats one numba kernel call (per-call dispatch
# dominates); above them the kernels win by up to 40x. Measured by bench/dsp.py and
# the crossover measured on the 2-core machine (README).
G711_ENCODE_AUDIOOP_BELOW = 400
G711_DECODE_AUDIOOP_BELOW = {"MULAW": 4000, "ALAW": 16000}

# everything inside the service is mono float32 at this rate (what Whisper and the VAD want)
SAMPLE_RATE = 16000
# the rates accepted at every door, in and out
MIN_RATE = 8000
MAX_RATE = 48000
# telephone audio: G.711 at this rate takes the fused front end
TELEPHONE_RATE = 8000


class Encoding(str, Enum):
    LINEAR16 = "LINEAR16"
    MULAW = "MULAW"
    ALAW = "ALAW"

    @property
    def sample_width(self) -> int:
        return 2 if self is Encoding.LINEAR16 else 1


class AudioFormatError(InvalidArgument):
    """Audio that cannot be decoded; ``field`` names the offending request field."""


def check_rate(rate: int, field: str = "sample_rate_hertz") -> int:
    if not isinstance(rate, int) or not MIN_RATE <= rate <= MAX_RATE:
        raise AudioFormatError(field, f"must be between {MIN_RATE} and {MAX_RATE} Hz, got {rate}")
    return rate


def bytes_to_int16(data: bytes, encoding: Encoding) -> np.ndarray:
    """Decode one chunk of raw audio bytes to int16 samples."""
    if encoding is Encoding.LINEAR16:
        if len(data) % 2:
            raise AudioFormatError("audio_content", f"LINEAR16 audio must have an even number of bytes, got {len(data)}")
        return np.frombuffer(data, dtype="<i2")
    if _audioop is not None and len(data) < G711_DECODE_AUDIOOP_BELOW[encoding.value]:
        pcm = _audioop.ulaw2lin(data, 2) if encoding is Encoding.MULAW else _audioop.alaw2lin(data, 2)
        return np.frombuffer(pcm, dtype="<i2")
    raw = np.frombuffer(data, dtype=np.uint8)
    return kernels.mulaw_decode(raw) if encoding is Encoding.MULAW else kernels.alaw_decode(raw)


def int16_to_bytes(samples: np.ndarray, encoding: Encoding) -> bytes:
    """Encode int16 samples as raw ``encoding`` bytes."""
    if encoding is Encoding.LINEAR16:
        return samples.astype("<i2", copy=False).tobytes()
    if _audioop is not None and samples.size < G711_ENCODE_AUDIOOP_BELOW:
        raw = samples.astype("<i2", copy=False).tobytes()
        return _audioop.lin2ulaw(raw, 2) if encoding is Encoding.MULAW else _audioop.lin2alaw(raw, 2)
    if encoding is Encoding.MULAW:
        return kernels.mulaw_encode(samples).tobytes()
    return kernels.alaw_encode(samples).tobytes()


@dataclass(frozen=True)
class Decoded:
    audio: np.ndarray  # float32, 16 kHz
    frames: np.ndarray | None = None  # the same audio's complete 20 ms int16 VAD frames, when fused


class AudioDecoder:
    """One stream's raw chunks -> mono float32 at 16 kHz, resampler state carried across chunks.

    8 kHz G.711 (the telephone case) goes through the fused :class:`kernels.TelephonyFrontEnd`
    (decode + resample + int16 VAD frames in one pass per chunk); everything else through the
    G.711 / conversion kernels and :class:`kernels.StreamingResampler`.
    """

    def __init__(self, encoding: Encoding, sample_rate: int):
        self.encoding = encoding
        self.sample_rate = check_rate(sample_rate)
        self._telephony = None
        self._resampler = None
        if encoding is not Encoding.LINEAR16 and sample_rate == TELEPHONE_RATE:
            self._telephony = kernels.TelephonyFrontEnd("mulaw" if encoding is Encoding.MULAW else "alaw")
        elif sample_rate != SAMPLE_RATE:
            self._resampler = kernels.StreamingResampler(sample_rate, SAMPLE_RATE)
        self.samples_in = 0  # input samples accepted so far

    def decode(self, data: bytes) -> Decoded:
        if self._telephony is not None:
            self.samples_in += len(data)
            out = self._telephony.process(data)
            return Decoded(out.audio, out.frames)
        pcm = bytes_to_int16(data, self.encoding)
        self.samples_in += pcm.size
        audio = kernels.int16_to_float32(pcm)
        return Decoded(self._resampler.process(audio) if self._resampler is not None else audio)

    def flush(self) -> Decoded:
        """What the resampler still holds back (call once, at the end of the stream)."""
        if self._telephony is not None:
            out = self._telephony.flush()
            return Decoded(out.audio, out.frames)
        if self._resampler is None:
            return Decoded(np.zeros(0, dtype=np.float32))
        return Decoded(self._resampler.flush())


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """One-shot resampling of float32 audio."""
    if rate_in == rate_out:
        return audio.astype(np.float32, copy=False)
    rs = kernels.StreamingResampler(rate_in, rate_out)
    return np.concatenate([rs.process(np.ascontiguousarray(audio, dtype=np.float32)), rs.flush()])


@dataclass(frozen=True)
class DecodedFile:
    audio: np.ndarray  # float32 mono at ``sample_rate``
    sample_rate: int


def looks_like_container(data: bytes) -> bool:
    return data[:4] in (b"RIFF", b"fLaC", b"RIFX") or data[:4] == b"OggS"


def read_audio_bytes(data: bytes, field: str = "audio_content") -> DecodedFile:
    """Decode WAV (PCM, mu-law, A-law) or FLAC bytes to mono float32 at the file's rate."""
    import soundfile as sf

    try:
        audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises several types for bad input
        raise AudioFormatError(field, f"not a readable WAV/FLAC file ({exc})") from None
    return DecodedFile(audio.mean(axis=1).astype(np.float32) if audio.shape[1] > 1 else audio[:, 0].copy(), rate)


def read_audio_file(path: str) -> DecodedFile:
    with open(path, "rb") as fh:
        return read_audio_bytes(fh.read(), field=str(path))


_WAV_FORMATS = {Encoding.LINEAR16: (1, 2), Encoding.MULAW: (7, 1), Encoding.ALAW: (6, 1)}


def wav_bytes(data: bytes, sample_rate: int, encoding: Encoding) -> bytes:
    """Mono ``encoding`` samples in a RIFF/WAVE container (G.711 WAV for MULAW / ALAW)."""
    tag, width = _WAV_FORMATS[encoding]
    fmt = struct.pack("<HHIIHH", tag, 1, sample_rate, sample_rate * width, width, width * 8)
    body = b"WAVE"
    if tag != 1:
        fmt += struct.pack("<H", 0)  # non-PCM formats carry cbSize and a fact chunk
        body += b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"fact" + struct.pack("<II", 4, len(data) // width)
    else:
        body += b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data + (b"\0" if len(data) & 1 else b"")
    return b"RIFF" + struct.pack("<I", len(body)) + body
