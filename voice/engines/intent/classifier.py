"""Multinomial logistic regression on sparse features, trained with SGD in numba.

Prediction is plain numpy (a gather and a sum), so a query costs microseconds.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _train_sgd(indptr, indices, values, labels, weights, n_classes, n_features,
               epochs, lr0, l2, seed):
    np.random.seed(seed)
    n = labels.shape[0]
    W = np.zeros((n_features, n_classes), np.float32)
    b = np.zeros(n_classes, np.float32)
    logits = np.zeros(n_classes, np.float32)
    order = np.arange(n)
    step = 0
    total = epochs * n
    for _epoch in range(epochs):
        np.random.shuffle(order)
        for r in range(n):
            i = order[r]
            lr = lr0 * (1.0 - step / (total + 1.0)) + lr0 * 0.02
            step += 1
            for c in range(n_classes):
                logits[c] = b[c]
            for k in range(indptr[i], indptr[i + 1]):
                j = indices[k]
                v = values[k]
                for c in range(n_classes):
                    logits[c] += W[j, c] * v
            m = logits[0]
            for c in range(1, n_classes):
                if logits[c] > m:
                    m = logits[c]
            s = 0.0
            for c in range(n_classes):
                logits[c] = np.exp(logits[c] - m)
                s += logits[c]
            y = labels[i]
            g_scale = lr * weights[i]
            for c in range(n_classes):
                g = logits[c] / s
                if c == y:
                    g -= 1.0
                logits[c] = g * g_scale
                b[c] -= logits[c]
            decay = 1.0 - lr * l2
            for k in range(indptr[i], indptr[i + 1]):
                j = indices[k]
                v = values[k]
                for c in range(n_classes):
                    W[j, c] = W[j, c] * decay - logits[c] * v
    return W, b


def train_softmax(indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, labels: np.ndarray,
                  n_classes: int, n_features: int, *, sample_weight: np.ndarray | None = None,
                  epochs: int = 12, lr: float = 0.5, l2: float = 1e-4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Fit weights ``W`` (features x classes) and bias ``b``."""
    if labels.ndim != 1 or indptr.shape[0] != labels.shape[0] + 1:
        raise ValueError("labels must be 1-D with one row per CSR row")
    if sample_weight is None:
        sample_weight = np.ones(labels.shape[0], np.float32)
    return _train_sgd(indptr.astype(np.int64), indices.astype(np.int32), values.astype(np.float32),
                      labels.astype(np.int64), sample_weight.astype(np.float32), int(n_classes),
                      int(n_features), int(epochs), float(lr), float(l2), int(seed))


def predict_proba(W: np.ndarray, b: np.ndarray, idx: np.ndarray, val: np.ndarray) -> np.ndarray:
    """Class probabilities for one sparse row."""
    logits = b + val @ W[idx] if len(idx) else b.copy()
    logits = logits - logits.max()
    p = np.exp(logits)
    return p / p.sum()
