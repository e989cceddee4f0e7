"""Matrices held as 8-bit codes on an affine grid, multiplied by float32 rows in numba.

A one-sentence query multiplies a handful of rows by weight matrices of 0.5-2.6 MB each
(float32). Between two such products the matrices fall out of the core's cache, so a query's
cost is mostly reading weights from memory, and BLAS on a few rows reads them at a few GB/s.
The same matrix as one byte per weight (``W = lo + step * q``, ``q`` in 0..255) is a quarter
of the traffic; :func:`_affine_u8_matmul` widens the codes four weight rows at a time, applies
them to two rows of ``x`` per pass and accumulates in float32 (:func:`_affine_u8_matvec`, for one row, takes dot products along
the transposed codes), ``x @ W = step * (x @ q) + lo * rowsum(x)``.

USE multilingual v3's weights already lie on such grids (they were dequantized from 8-bit
ONNX tensors), so for them the codes are exact. Any other matrix can be quantized onto one
(:meth:`QuantizedMatrix.quantize`); the float32 copy kept for large batches is then the
dequantized grid, so both paths compute with the same weights.
"""

from __future__ import annotations

import numpy as np
from numba import njit

SMALL_BATCH = 48
"""Rows up to which the 8-bit kernel is used; above it BLAS on the float32 copy is faster
(its compute per weight read grows with the rows, the kernel's does not amortise as well)."""


@njit(cache=True, nogil=True, fastmath=True)
def _affine_u8_matmul(x, q, lo, step, out):  # pragma: no cover - compiled
    # four weight rows widened at a time, each used by two rows of x per pass
    m_rows, k_dim = x.shape
    n_cols = q.shape[1]
    acc = np.zeros((m_rows, n_cols), np.float32)
    w = np.empty((4, n_cols), np.float32)
    rowsum = np.zeros(m_rows, np.float32)
    k4 = k_dim - k_dim % 4
    for k in range(0, k4, 4):
        for j in range(4):
            for n in range(n_cols):
                w[j, n] = np.float32(q[k + j, n])
        m = 0
        while m < m_rows:
            a0 = x[m, k]
            a1 = x[m, k + 1]
            a2 = x[m, k + 2]
            a3 = x[m, k + 3]
            rowsum[m] += (a0 + a1) + (a2 + a3)
            if m + 1 < m_rows:
                b0 = x[m + 1, k]
                b1 = x[m + 1, k + 1]
                b2 = x[m + 1, k + 2]
                b3 = x[m + 1, k + 3]
                rowsum[m + 1] += (b0 + b1) + (b2 + b3)
                for n in range(n_cols):
                    w0 = w[0, n]
                    w1 = w[1, n]
                    w2 = w[2, n]
                    w3 = w[3, n]
                    acc[m, n] += (a0 * w0 + a1 * w1) + (a2 * w2 + a3 * w3)
                    acc[m + 1, n] += (b0 * w0 + b1 * w1) + (b2 * w2 + b3 * w3)
            else:
                for n in range(n_cols):
                    acc[m, n] += (a0 * w[0, n] + a1 * w[1, n]) + (a2 * w[2, n] + a3 * w[3, n])
            m += 2
    for k in range(k4, k_dim):
        for m in range(m_rows):
            xv = x[m, k]
            rowsum[m] += xv
            for n in range(n_cols):
                acc[m, n] += xv * np.float32(q[k, n])
    for m in range(m_rows):
        for n in range(n_cols):
            out[m, n] = step * acc[m, n] + lo * rowsum[m]


@njit(cache=True, nogil=True, fastmath=True)
def _affine_u8_matvec(x, codes_t, lo, step, out):  # pragma: no cover - compiled
    # one row: a dot product per weight column, the codes read along it (stored transposed)
    n_cols, k_dim = codes_t.shape
    total = np.float32(0.0)
    for k in range(k_dim):
        total += x[k]
    for n in range(n_cols):
        acc = np.float32(0.0)
        for k in range(k_dim):
            acc += x[k] * np.float32(codes_t[n, k])
        out[n] = step * acc + lo * total


class QuantizedMatrix:
    """A (K, N) matrix as uint8 codes ``q`` with ``W = lo + step * q``, and its float32 copy."""

    def __init__(self, codes: np.ndarray, lo: float, step: float):
        if codes.dtype != np.uint8 or codes.ndim != 2:
            raise TypeError(f"codes must be a 2-D uint8 array, got {codes.dtype} {codes.shape}")
        self.codes = np.ascontiguousarray(codes)
        self.codes_t = np.ascontiguousarray(codes.T)  # a single row's layout
        self.lo = np.float32(lo)
        self.step = np.float32(step)
        self.dense = (self.lo + self.step * self.codes.astype(np.float32)).astype(np.float32)
        self.shape = self.codes.shape

    @classmethod
    def from_grid(cls, W: np.ndarray, tolerance: float = 0.01) -> "QuantizedMatrix | None":
        """The exact codes of a matrix whose values lie on one affine grid of at most 256
        levels (within ``tolerance`` of a step), else None."""
        W = np.asarray(W, np.float32)
        levels = np.unique(W)
        if W.ndim != 2 or len(levels) < 2 or len(levels) > 256:
            return None
        lo = float(levels[0])
        step = float(np.diff(levels).min())
        q = (W.astype(np.float64) - lo) / step
        r = np.rint(q)
        if r.max() > 255 or np.abs(q - r).max() > tolerance:
            return None
        return cls(r.astype(np.uint8), lo, step)

    @classmethod
    def quantize(cls, W: np.ndarray) -> "QuantizedMatrix":
        """Any matrix rounded onto the 256-level grid spanning its values."""
        W = np.asarray(W, np.float32)
        if W.ndim != 2:
            raise ValueError(f"W must be 2-D, got shape {W.shape}")
        lo = float(W.min()) if W.size else 0.0
        hi = float(W.max()) if W.size else 0.0
        step = (hi - lo) / 255.0 or 1.0
        return cls(np.rint((W - lo) / step).clip(0, 255).astype(np.uint8), lo, step)

    def matmul(self, x: np.ndarray) -> np.ndarray:
        """``x @ W`` for float32 ``x`` of shape (M, K)."""
        if x.ndim != 2 or x.shape[1] != self.shape[0]:
            raise ValueError(f"x must have shape (M, {self.shape[0]}), got {x.shape}")
        if x.shape[0] > SMALL_BATCH or x.shape[0] == 0:
            return x @ self.dense
        out = np.empty((x.shape[0], self.shape[1]), np.float32)
        x = np.ascontiguousarray(x, np.float32)
        if x.shape[0] == 1:
            _affine_u8_matvec(x[0], self.codes_t, self.lo, self.step, out[0])
        else:
            _affine_u8_matmul(x, self.codes, self.lo, self.step, out)
        return out
