"""Argument checks shared by the public kernel wrappers (clear errors naming the argument)."""

from __future__ import annotations

import numpy as np


def as_f32_1d(x, name: str = "x", hint: str = "") -> np.ndarray:
    """``x`` as a contiguous 1-D float32 array, or TypeError/ValueError naming ``name``.

    ``hint`` is appended to the dtype error, e.g. " (16 kHz, full scale 1.0)".
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy float32 array, got {type(x).__name__}")
    if x.dtype != np.float32:
        raise TypeError(f"{name} must be float32{hint}, got {x.dtype}")
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-D (mono), got shape {x.shape}")
    return np.ascontiguousarray(x)
