"""ITU-T G.711 mu-law and A-law, bit-exact with CPython's audioop (and audioop-lts).

mu-law decoding is computed arithmetically (it vectorises), A-law decoding is a 256-entry
table lookup (its arithmetic form does not vectorise and is slower); encoding uses
65,536-entry tables built once at import from the reference algorithm (Sun's g711.c, as in
audioop). The 256-entry decode tables are kept for the fused telephony kernel.

Speed (bench/dsp.py): on long buffers several times faster than audioop; on one 20 ms
chunk the Python call itself (~1 us) costs more than audioop's whole C call (~0.2 us), so
per-chunk callers should prefer the fused :mod:`kernels.telephony` front end.
"""

import numpy as np
from numba import njit

_SEG_U = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], np.int32)
_SEG_A = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], np.int32)


def _ulaw_dec(u):
    u = ~u & 0xFF
    t = ((u & 0x0F) << 3) + 0x84
    t <<= (u & 0x70) >> 4
    return (0x84 - t) if (u & 0x80) else (t - 0x84)


def _alaw_dec(a):
    a ^= 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t += 0x108
        t <<= seg - 1
    return t if (a & 0x80) else -t


def _seg(v, table):
    for i, e in enumerate(table):
        if v <= e:
            return i
    return 8


def _ulaw_enc(s):
    v = s >> 2
    if v < 0:
        v = -v; mask = 0x7F
    else:
        mask = 0xFF
    if v > 8159:
        v = 8159
    v += 0x84 >> 2
    seg = _seg(v, _SEG_U)
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((v >> (seg + 1)) & 0xF)) ^ mask


def _alaw_enc(s):
    v = s >> 3
    if v >= 0:
        mask = 0xD5
    else:
        mask = 0x55; v = -v - 1
    seg = _seg(v, _SEG_A)
    if seg >= 8:
        return 0x7F ^ mask
    a = seg << 4
    a |= ((v >> 1) if seg < 2 else (v >> seg)) & 0xF
    return a ^ mask


_UDEC = np.array([_ulaw_dec(i) for i in range(256)], np.int16)
_ADEC = np.array([_alaw_dec(i) for i in range(256)], np.int16)
_UENC = np.array([_ulaw_enc(s) for s in range(-32768, 32768)], np.uint8)
_AENC = np.array([_alaw_enc(s) for s in range(-32768, 32768)], np.uint8)


@njit(cache=True, nogil=True)
def _lut_dec(x, table, out):
    for i in range(x.size):
        out[i] = table[x[i]]


@njit(cache=True, nogil=True)
def _ulaw_dec_k(x, out):
    for i in range(x.size):
        u = ~np.int32(x[i]) & 0xFF
        t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
        out[i] = (0x84 - t) if (u & 0x80) else (t - 0x84)


@njit(cache=True, nogil=True)
def _lut_enc(x, table, out):
    for i in range(x.size):
        out[i] = table[np.int32(x[i]) + 32768]


def _as_u8(data):
    if isinstance(data, (bytes, bytearray, memoryview)):
        return np.frombuffer(data, np.uint8)
    if not isinstance(data, np.ndarray):
        raise TypeError(f"data must be bytes or a uint8 array, got {type(data).__name__}")
    if data.dtype != np.uint8:
        raise TypeError(f"data must be bytes or uint8, got {data.dtype}")
    return np.ascontiguousarray(data.ravel())


def mulaw_decode(data) -> np.ndarray:
    """mu-law bytes (or 1-D uint8 array) -> int16 samples (ITU-T G.711, as audioop.ulaw2lin)."""
    x = _as_u8(data)
    out = np.empty(x.size, np.int16)
    if x.size:
        _ulaw_dec_k(x, out)
    return out


def alaw_decode(data) -> np.ndarray:
    """A-law bytes (or 1-D uint8 array) -> int16 samples (ITU-T G.711, as audioop.alaw2lin)."""
    x = _as_u8(data)
    out = np.empty(x.size, np.int16)
    if x.size:
        _lut_dec(x, _ADEC, out)  # the arithmetic form does not vectorise: table is faster
    return out


def _as_i16(x):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"x must be an int16 array, got {type(x).__name__}")
    if x.dtype != np.int16:
        raise TypeError(f"x must be int16, got {x.dtype}")
    return np.ascontiguousarray(x.ravel())


def mulaw_encode(x) -> np.ndarray:
    """int16 samples -> mu-law uint8 codes (as audioop.lin2ulaw(x, 2))."""
    x = _as_i16(x)
    out = np.empty(x.size, np.uint8)
    if x.size:
        _lut_enc(x, _UENC, out)
    return out


def alaw_encode(x) -> np.ndarray:
    """int16 samples -> A-law uint8 codes (as audioop.lin2alaw(x, 2))."""
    x = _as_i16(x)
    out = np.empty(x.size, np.uint8)
    if x.size:
        _lut_enc(x, _AENC, out)
    return out
