"""Numba DSP kernels for the audio hot paths. Knows nothing of gRPC or models.

Each public function validates dtype/shape and calls a private ``@njit(cache=True,
nogil=True)`` body. Compiled code is cached on disk (numba honours ``NUMBA_CACHE_DIR`` for
read-only installs); :func:`warmup` compiles/loads everything once, at server start.
"""
from .convert import int16_to_float32, float32_to_int16, stereo_to_mono
from .g711 import mulaw_decode, alaw_decode, mulaw_encode, alaw_encode
from .resample import StreamingResampler

__all__ = [
    "int16_to_float32", "float32_to_int16", "stereo_to_mono",
    "mulaw_decode", "alaw_decode", "mulaw_encode", "alaw_encode",
    "StreamingResampler", "warmup",
]


def warmup():
    """Compile (or load from cache) and run every kernel once on tiny inputs."""
    import numpy as np
    x = np.zeros(320, np.int16)
    float32_to_int16(int16_to_float32(x))
    mulaw_encode(mulaw_decode(np.zeros(8, np.uint8)))
    alaw_encode(alaw_decode(np.zeros(8, np.uint8)))
    r = StreamingResampler(8000, 16000)
    r.process(np.zeros(160, np.float32)); r.flush()
