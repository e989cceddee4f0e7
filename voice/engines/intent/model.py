"""One language of a trained intent model: features -> softmax -> threshold -> slots."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .classifier import predict_proba, train_softmax
from .corpus import LanguageData, Sample, Sampler, Template, split_templates
from .features import NUMBER_TOKEN, Delexicaliser, Vocabulary, feature_strings, to_csr
from .numbers import NumberLexicon, find_times
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


class LanguageModel:
    """A trained classifier + slot matcher for one language."""

    def __init__(self, language: str, classes: list[str], vocab: Vocabulary, W: np.ndarray, b: np.ndarray,
                 threshold: float, slots: SlotMatcher, lexicon: NumberLexicon, max_alternatives: int = 3,
                 delex: Delexicaliser | None = None):
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
        self._none_index = classes.index(NONE_INTENT) if NONE_INTENT in classes else -1

    # --- inference -------------------------------------------------------------------------

    def understand(self, text: str, previous_intent: str | None = None) -> IntentResult:
        toks = tokenize(text)
        numbers = self.lexicon.find(toks.words)
        words = _replace_numbers(toks.words, numbers)
        feats = feature_strings(words, self.delex(words))
        idx, val = self.vocab.vectorize(feats)
        p = predict_proba(self.W, self.b, idx, val)
        order = np.argsort(-p)
        best = int(order[0])
        confidence = float(p[best])
        intent = self.classes[best]
        alternatives = tuple(
            (self.classes[int(j)], float(p[j]))
            for j in order[1 : 1 + self.max_alternatives]
            if int(j) != self._none_index and p[j] > 0.001
        )
        times = find_times(toks.words, numbers) if self.slots.time_lists else []
        if intent != NONE_INTENT and confidence >= self.threshold:
            slots = self.slots.extract(text, toks, numbers, times, intent)
            return IntentResult(intent, confidence, slots, alternatives)
        if previous_intent:
            # a bare slot answer ("the savings one") continues the previous intent
            slots = self.slots.extract(text, toks, numbers, times, previous_intent)
            if slots and len(toks) <= 2 * sum(1 + len(s.value.split()) for s in slots) + 2:
                alts = tuple(a for a in ((intent, confidence),) + alternatives if a[0] not in (previous_intent, NONE_INTENT))
                return IntentResult(previous_intent, max(confidence, self.threshold), slots,
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
        return meta, {"W": self.W, "b": self.b}

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> "LanguageModel":
        lex = meta["lexicon"]
        lexicon = NumberLexicon(
            meta["language"],
            {tuple(k.split(" ")): int(v) for k, v in lex["table"]},
            tuple(lex["thousand"]),
            tuple(lex["infixes"]),
        )
        return cls(meta["language"], list(meta["classes"]), Vocabulary(meta["vocab"]),
                   np.ascontiguousarray(arrays["W"], np.float32), np.asarray(arrays["b"], np.float32),
                   float(meta["threshold"]), SlotMatcher(meta["slots"]), lexicon,
                   int(meta.get("max_alternatives", 3)), Delexicaliser.from_state(meta.get("delex", {})))


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


def train_language(data: LanguageData, cfg: TrainConfig = TrainConfig(), *,
                   templates: list[Template] | None = None, calibrate: bool = True) -> LanguageModel:
    """Train one language: sample the templates, fit, calibrate the none-threshold, refit."""
    t0 = time.perf_counter()
    templates = list(data.templates if templates is None else templates)
    if not templates:
        raise ValueError(f"language_code: no templates for {data.language}")
    lexicon = NumberLexicon.build(data.language)
    intents = sorted({t.intent for t in templates})
    classes = intents + ([NONE_INTENT] if data.out_of_scope else [])
    rng = random.Random(cfg.seed)

    samples = sample_templates(data, templates, cfg.samples_per_template, cfg.seed)
    slots = SlotMatcher.build(data, templates, samples)
    delex = build_delexicaliser(samples, slots, cfg.delex_min_share)
    feat = _Featurizer(lexicon, delex)
    threshold = 0.3
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
            probs, correct = [], []
            for s in held_s:
                idx, val = vocab.vectorize(feat.features(feat.words(s.text)))
                p = predict_proba(W, b, idx, val)
                j = int(np.argmax(p))
                probs.append(float(p[j]) if classes[j] != NONE_INTENT else 0.0)
                correct.append(classes[j] == s.intent)
            oos_p = []
            for text in oos_held:
                idx, val = vocab.vectorize(feat.features(feat.words(text)))
                p = predict_proba(W, b, idx, val)
                j = int(np.argmax(p))
                oos_p.append(float(p[j]) if classes[j] != NONE_INTENT else 0.0)
            threshold = _pick_threshold(np.asarray(probs), np.asarray(correct, bool), np.asarray(oos_p))
    rows, labels, weights = _training_rows(samples, list(data.out_of_scope), classes, feat, cfg, rng)
    vocab, W, b = _fit(rows, labels, weights, len(classes), cfg)
    _LOGGER.info("Trained intent model %s: %d intents, %d sentences, %d features, threshold %.2f in %.2f s",
                 data.language, len(intents), len(samples), len(vocab), threshold, time.perf_counter() - t0)
    return LanguageModel(data.language, classes, vocab, W, b, threshold, slots, lexicon, cfg.max_alternatives, delex)
