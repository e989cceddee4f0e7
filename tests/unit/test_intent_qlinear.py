"""8-bit weight matrices of the intent encoder's query path (voice.engines.intent.qlinear):
exact codes for weights on a grid, rounding for others, and products equal to float32 ones."""

from __future__ import annotations

import numpy as np
import pytest

from voice.engines.intent.qlinear import SMALL_BATCH, QuantizedMatrix


def _grid_matrix(rng, k: int, n: int) -> np.ndarray:
    """Values on one grid of 256 levels, every level present (as in a real weight matrix)."""
    codes = rng.integers(0, 256, k * n)
    codes[:256] = np.arange(256)
    return (np.float32(-0.37) + np.float32(0.0031) * rng.permutation(codes).reshape(k, n)).astype(np.float32)


def test_weights_on_a_grid_get_exact_codes():
    rng = np.random.default_rng(1)
    W = _grid_matrix(rng, 70, 33)
    m = QuantizedMatrix.from_grid(W)
    assert m is not None and m.codes.dtype == np.uint8 and m.shape == (70, 33)
    np.testing.assert_allclose(m.dense, W, rtol=0, atol=1e-5)


def test_weights_off_a_grid_are_refused_or_rounded():
    rng = np.random.default_rng(2)
    W = rng.standard_normal((40, 20)).astype(np.float32)
    assert QuantizedMatrix.from_grid(W) is None  # thousands of levels
    m = QuantizedMatrix.quantize(W)
    step = (W.max() - W.min()) / 255
    assert np.abs(m.dense - W).max() <= step / 2 + 1e-6
    assert QuantizedMatrix.from_grid(np.zeros((3, 3), np.float32)) is None  # one level: no step


@pytest.mark.parametrize("rows", [1, 2, 3, 4, 5, 17, SMALL_BATCH, SMALL_BATCH + 1])
def test_products_match_float32_for_every_row_count(rows):
    rng = np.random.default_rng(rows)
    for k, n in ((64, 48), (67, 5), (1, 9)):  # K not a multiple of 4 exercises the tail
        m = (QuantizedMatrix.from_grid(_grid_matrix(rng, k, n)) if k * n >= 256
             else QuantizedMatrix.quantize(rng.standard_normal((k, n)).astype(np.float32)))
        x = rng.standard_normal((rows, k)).astype(np.float32)
        ref = x.astype(np.float64) @ m.dense.astype(np.float64)
        got = m.matmul(x)
        assert got.shape == (rows, n) and got.dtype == np.float32
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


def test_non_contiguous_rows_and_empty_input():
    rng = np.random.default_rng(3)
    m = QuantizedMatrix.from_grid(_grid_matrix(rng, 16, 32))
    x = rng.standard_normal((6, 32)).astype(np.float32)[:, ::2]
    np.testing.assert_allclose(m.matmul(x), x @ m.dense, rtol=1e-4, atol=1e-4)
    assert m.matmul(np.zeros((0, 16), np.float32)).shape == (0, 32)


def test_bad_shapes_and_codes_are_named():
    m = QuantizedMatrix.quantize(np.eye(4, dtype=np.float32))
    with pytest.raises(ValueError, match=r"x must have shape \(M, 4\)"):
        m.matmul(np.zeros((2, 5), np.float32))
    with pytest.raises(TypeError, match="codes"):
        QuantizedMatrix(np.zeros((2, 2), np.int16), 0.0, 1.0)
    with pytest.raises(ValueError, match="2-D"):
        QuantizedMatrix.quantize(np.zeros(3, np.float32))
