"""Sample format conversion: int16 <-> float32 (full scale 32768), stereo -> mono."""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _i2f(x, out):
    for i in range(x.size):
        out[i] = x[i] * np.float32(1.0 / 32768.0)


@njit(cache=True, nogil=True)
def _f2i(x, out):
    for i in range(x.size):
        v = x[i] * np.float32(32768.0)
        if v >= 32767.0:
            out[i] = 32767
        elif v <= -32768.0:
            out[i] = -32768
        else:
            out[i] = np.int16(np.rint(v))


def int16_to_float32(x: np.ndarray) -> np.ndarray:
    """int16 samples -> float32 in [-1, 1): ``x / 32768``."""
    x = np.ascontiguousarray(x)
    if x.dtype != np.int16:
        raise TypeError(f"x must be int16, got {x.dtype}")
    out = np.empty(x.shape, np.float32)
    _i2f(x.ravel(), out.ravel())
    return out


def float32_to_int16(x: np.ndarray) -> np.ndarray:
    """float32 samples -> int16: ``round(x * 32768)`` clipped to [-32768, 32767]."""
    x = np.ascontiguousarray(x)
    if x.dtype != np.float32:
        raise TypeError(f"x must be float32, got {x.dtype}")
    out = np.empty(x.shape, np.int16)
    _f2i(x.ravel(), out.ravel())
    return out


@njit(cache=True, nogil=True)
def _mix(x, out):
    for i in range(out.size):
        out[i] = (np.float32(x[2 * i]) + np.float32(x[2 * i + 1])) * np.float32(0.5)


def stereo_to_mono(x: np.ndarray) -> np.ndarray:
    """Interleaved stereo (shape (2n,) or (n, 2)), int16 or float32 -> mono of the same dtype.

    int16 results are rounded half-to-even after averaging.
    """
    x = np.ascontiguousarray(x)
    if x.dtype not in (np.int16, np.float32):
        raise TypeError(f"x must be int16 or float32, got {x.dtype}")
    if (x.ndim == 2 and x.shape[1] != 2) or x.ndim > 2 or x.size % 2:
        raise ValueError(f"x must be interleaved stereo, shape (2n,) or (n, 2); got {x.shape}")
    out = np.empty(x.size // 2, np.float32)
    _mix(x.ravel(), out)
    return np.rint(out).astype(np.int16) if x.dtype == np.int16 else out
