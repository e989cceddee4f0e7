"""Numba DSP kernels for the audio hot paths. Knows nothing of gRPC or models.

Each public function or class validates dtype/shape (``TypeError`` / ``ValueError`` naming
the argument), accepts non-contiguous and empty input, and calls a private
``@njit(cache=True, nogil=True)`` body. Compiled code is cached on disk (numba honours
``NUMBA_CACHE_DIR`` for read-only installs); :func:`warmup` compiles or loads every kernel
once, at server start.

Modules, one job each:

* :mod:`kernels.convert` - int16 <-> float32, interleaved stereo -> mono
* :mod:`kernels.g711` - mu-law / A-law encode and decode (bit-exact with ``audioop``)
* :mod:`kernels.resample` - streaming rational polyphase resampler, single and batched
* :mod:`kernels.level` - DC blocker, pre-emphasis, frame RMS in dBFS, AGC
* :mod:`kernels.mel` - Whisper log-mel spectrogram, one-shot and incremental
* :mod:`kernels.telephony` - fused G.711 8 kHz -> 16 kHz + VAD frames + energy, single and
  batched
* :mod:`kernels.echo` - streaming line / acoustic echo canceller (bulk delay + NLMS +
  double-talk detector) for barge-in on full-duplex calls
"""
from .convert import float32_to_int16, int16_to_float32, stereo_to_mono
from .echo import EchoCanceller
from .g711 import alaw_decode, alaw_encode, mulaw_decode, mulaw_encode
from .level import AGC, DCBlocker, PreEmphasis, frame_rms_dbfs
from .mel import LogMelStream, log_mel_spectrogram, mel_filters
from .resample import ResamplerBatch, StreamingResampler
from .telephony import BatchOutput, FrontEndOutput, TelephonyBatch, TelephonyFrontEnd

__all__ = [
    "AGC",
    "BatchOutput",
    "DCBlocker",
    "EchoCanceller",
    "FrontEndOutput",
    "LogMelStream",
    "PreEmphasis",
    "ResamplerBatch",
    "StreamingResampler",
    "TelephonyBatch",
    "TelephonyFrontEnd",
    "alaw_decode",
    "alaw_encode",
    "float32_to_int16",
    "frame_rms_dbfs",
    "int16_to_float32",
    "log_mel_spectrogram",
    "mel_filters",
    "mulaw_decode",
    "mulaw_encode",
    "stereo_to_mono",
    "warmup",
]


def warmup() -> None:
    """Compile (or load from the cache) and run every kernel once on tiny inputs."""
    import numpy as np

    x = np.zeros(320, np.int16)
    f = int16_to_float32(x)
    float32_to_int16(f)
    stereo_to_mono(x)
    stereo_to_mono(f)
    u8 = np.zeros(8, np.uint8)
    mulaw_encode(mulaw_decode(u8))
    alaw_encode(alaw_decode(u8))
    for a, b in ((8000, 16000), (16000, 8000), (22050, 16000), (16000, 22050)):
        r = StreamingResampler(a, b)
        r.process(f[:160])
        r.flush()
    rb = ResamplerBatch(2, 8000, 16000)
    rb.process([f[:160], f[:0]])
    rb.flush(0)
    DCBlocker(16000).process(f)
    PreEmphasis().process(f)
    AGC(16000).process(f)
    frame_rms_dbfs(f, 160)
    frame_rms_dbfs(x, 160)
    log_mel_spectrogram(f)
    LogMelStream().push(f)
    t = TelephonyFrontEnd()
    t.process(bytes(160))
    t.flush()
    tb = TelephonyBatch(2)
    tb.process([bytes(160), b""])
    tb.flush(0)
    EchoCanceller().process(f, f)
    from .echo import _warmup as _echo_warmup

    _echo_warmup()
