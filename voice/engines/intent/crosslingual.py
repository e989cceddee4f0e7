"""Languages an intents file has no sentences in, served through the sentence encoder.

USE multilingual maps sentences of its languages into one space, so the dense head of a
model trained on English sentences also scores German or Italian ones. What does not carry
over is calibration: a sentence and its translation sit at cosine ~0.7-0.9, not 1, so
confidences in another language run lower and the source language's none-threshold would
reject too much or too little. Each served language gets a :class:`LanguageProfile`,
measured on a bundled reference corpus of the same intents written in many languages
(``domains/reference.json``: sentences of Home Assistant's intents and of the call-centre
domain, per language; rebuilt with ``python -m voice.engines.intent.crosslingual``):

* an **offset**: the difference between the two languages' mean embeddings (each intent's
  sentences weigh the same), subtracted from the query before the head sees it;
* a **threshold**: the dense head's own none-threshold moved to the quantile that accepts
  the same share of the target language's reference sentences as of the source's (same
  content, so the same share should clear it).

Slots stay span-based: number and time lists work in every language (the target's number
words), text lists take the file's values in the target language when it has them; an
intent's slots whose lists have none are named in ``IntentResult.unavailable_slots`` and
left unfilled.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .corpus import LanguageData
from .dense import SentenceEncoder
from .model import LanguageModel, _softmax, dense_text, vote_text
from .numbers import NumberLexicon
from .slot_training import _surface_forms
from .slots import SlotMatcher
from .text import tokenize
from ...core.intents import NONE_INTENT, IntentResult

_LOGGER = logging.getLogger(__name__)

REFERENCE_FILE = Path(__file__).parent / "domains" / "reference.json"
REFERENCE_SOURCES = ("call_centre", "home_assistant")
_MIN_GROUPS = 5
# home-assistant-intents language codes for the encoder's languages
_HA_CODES = {"zh": "zh-CN"}


# --- the reference corpus ---------------------------------------------------------------------

def load_reference(sources: Sequence[str] = REFERENCE_SOURCES,
                   path: Path = REFERENCE_FILE) -> dict[str, dict[str, list[str]]]:
    """``"source/intent" -> language -> sentences`` of the bundled reference corpus."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, dict[str, list[str]]] = {}
    for source in sources:
        for intent, by_lang in doc["sources"].get(source, {}).items():
            out[f"{source}/{intent}"] = {k: list(v) for k, v in by_lang.items()}
    return out


def reference_languages(reference: Mapping[str, Mapping[str, list[str]]]) -> set[str]:
    return {lang for by_lang in reference.values() for lang in by_lang}


def build_reference(languages: Sequence[str], per_intent: int = 4, seed: int = 0) -> dict[str, Any]:
    """Sample the reference corpus (a development step; the result ships as JSON)."""
    from hassil.intents import Intents

    from .corpus import Template, template_slot_lists
    from .domainfile import DEFAULT_INTENTS_FILE, load_domain
    from .homeassistant import ENTITY_NAMES, entity_lists, home_assistant_raw
    from .model import sample_templates
    from hassil.parse_expression import parse_sentence

    sources: dict[str, dict[str, dict[str, list[str]]]] = {"call_centre": {}, "home_assistant": {}}
    cc = load_domain(DEFAULT_INTENTS_FILE)
    for lang, data in cc.languages.items():
        if lang in languages:
            for s in _per_intent(sample_templates(data, data.templates, 2, seed), per_intent):
                sources["call_centre"].setdefault(s.intent, {}).setdefault(lang, []).append(s.text)
    for lang in languages:
        try:
            raw = home_assistant_raw(_HA_CODES.get(lang, lang))
        except ValueError:
            continue
        intents = Intents.from_dict(raw)
        lists = dict(intents.slot_lists)
        if lang in ENTITY_NAMES:
            lists.update(entity_lists(lang))
        data = LanguageData(lang, [], lists, dict(intents.expansion_rules))
        for name, intent in intents.intents.items():
            for b, block in enumerate(intent.data):
                for i, text in enumerate(block.sentence_texts):
                    t = Template(name, f"{name}/{b}/{i}", parse_sentence(text, keep_text=True),
                                 requires_context=dict(block.requires_context or {}),
                                 excludes_context=dict(block.excludes_context or {}),
                                 rules=dict(block.expansion_rules or {}), lists=dict(block.slot_lists or {}))
                    needed = {ln for _s, ln in template_slot_lists(t, data)}
                    if needed - set(lists) - set(t.lists) or needed & set(block.wildcard_list_names):
                        continue
                    data.templates.append(t)
        for s in _per_intent(sample_templates(data, data.templates, 1, seed), per_intent):
            sources["home_assistant"].setdefault(s.intent, {}).setdefault(lang, []).append(s.text)
    return {"about": "Sentences of the same intents in many languages: the cross-lingual calibration "
                     "corpus (voice/engines/intent/crosslingual.py). Sampled from home-assistant-intents "
                     "and the call-centre domain.", "sources": sources}


def _per_intent(samples, per_intent: int):
    import random

    by: dict[str, list] = {}
    for s in samples:
        by.setdefault(s.intent, []).append(s)
    rng = random.Random(0)
    for intent in sorted(by):
        items = by[intent]
        rng.shuffle(items)
        yield from items[:per_intent]


# --- calibration ------------------------------------------------------------------------------

@dataclass(frozen=True)
class LanguageProfile:
    """How a language the model was not trained in is scored."""

    language: str
    source: str  # the trained language whose model serves it
    offset: np.ndarray  # mean embedding of ``language`` minus that of ``source``
    threshold: float  # none-threshold of the dense head for ``language``
    groups: int  # reference intents it was measured on


def _embed(encoder: SentenceEncoder, texts: list[str], lang: str,
           cache: dict[tuple[str, str], np.ndarray] | None = None) -> np.ndarray:
    """Embeddings of ``texts``; ``cache`` keeps them across calls (the source language's
    reference sentences are scored against every target). Numbers stay as written (a
    target's number words would cost building its lexicon at training time)."""
    cache = {} if cache is None else cache
    todo = list(dict.fromkeys(t for t in texts if (lang, t) not in cache))
    if todo:
        for t, e in zip(todo, encoder.encode(todo)):
            cache[(lang, t)] = e
    if not texts:
        return np.zeros((0, encoder.dim), np.float32)
    return np.stack([cache[(lang, t)] for t in texts])


def _normalise(E: np.ndarray) -> np.ndarray:
    return E / np.maximum(np.linalg.norm(E, axis=-1, keepdims=True), 1e-6)


def _top_confidence(model: LanguageModel, E: np.ndarray, E_vote: np.ndarray | None = None) -> np.ndarray:
    Z = model.dense.alone_logits(E, E_vote)
    Z -= Z.max(axis=1, keepdims=True)
    P = np.exp(Z)
    P /= P.sum(axis=1, keepdims=True)
    j = P.argmax(axis=1)
    top = P[np.arange(len(P)), j]
    if NONE_INTENT in model.classes:
        top = np.where(j == model.classes.index(NONE_INTENT), 0.0, top)
    return top


def transfer_threshold(source_conf: np.ndarray, target_conf: np.ndarray, threshold: float) -> float:
    """The threshold that accepts the same share of ``target_conf`` as ``threshold`` does of
    ``source_conf`` (confidences of the same reference content in two languages): quantile
    matching. Clipped to [0.05, 0.95]; ``threshold`` itself when it accepts all or nothing."""
    source_conf = np.asarray(source_conf, np.float64)
    target_conf = np.asarray(target_conf, np.float64)
    if not len(source_conf) or not len(target_conf):
        return float(threshold)
    accepted = float(np.mean(source_conf >= threshold))
    if not 0.0 < accepted < 1.0:
        return float(threshold)
    return float(np.clip(np.quantile(target_conf, 1.0 - accepted), 0.05, 0.95))


def calibrate(model: LanguageModel, encoder: SentenceEncoder, target: str,
              reference: Mapping[str, Mapping[str, list[str]]],
              cache: dict[tuple[str, str], np.ndarray] | None = None) -> LanguageProfile | None:
    """The profile of ``target`` for ``model`` (None when the reference has too little of
    both languages, or the model has no dense head)."""
    if model.dense is None:
        return None
    source = model.language
    groups = [g for g, by in reference.items() if by.get(source) and by.get(target)]
    if len(groups) < _MIN_GROUPS:
        return None
    src_texts = [t for g in groups for t in reference[g][source]]
    tgt_texts = [t for g in groups for t in reference[g][target]]
    E_s = _embed(encoder, src_texts, source, cache)
    E_t = _embed(encoder, tgt_texts, target, cache)

    def group_mean(E: np.ndarray, lang: str) -> np.ndarray:
        means, k = [], 0
        for g in groups:
            n = len(reference[g][lang])
            means.append(E[k : k + n].mean(axis=0))
            k += n
        return np.mean(means, axis=0)

    offset = (group_mean(E_t, target) - group_mean(E_s, source)).astype(np.float32)
    V_s = V_t = None  # the vote's embeddings (numerals as one placeholder), when it votes
    if model.dense.alone_knn_weight > 0:
        V_s = _embed(encoder, [vote_text(t) for t in src_texts], source, cache)
        V_t = _normalise(_embed(encoder, [vote_text(t) for t in tgt_texts], target, cache) - offset)
    conf_s = _top_confidence(model, E_s, V_s)
    conf_t = _top_confidence(model, _normalise(E_t - offset), V_t)
    threshold = transfer_threshold(conf_s, conf_t, model.dense.threshold)
    accepted = float(np.mean(conf_s >= model.dense.threshold))
    _LOGGER.info("Cross-lingual profile %s <- %s: %d reference intents, offset %.3f, threshold %.2f "
                 "(source %.2f, %.0f %% of reference accepted)", target, source, len(groups),
                 float(np.linalg.norm(offset)), threshold, model.dense.threshold, 100 * accepted)
    return LanguageProfile(target, source, offset, threshold, len(groups))


# --- slots in the target language -------------------------------------------------------------

def foreign_slot_state(source: SlotMatcher, target: str, lists: Mapping[str, Any]) -> tuple[dict, dict]:
    """The source language's slot matcher state with its text-list forms replaced by the
    target language's values (``lists``: list name -> TextSlotList, from the file); and,
    per intent, the slot names whose lists have no target values."""
    state = copy.deepcopy(source.state())
    text_lists = {ln for entries in source.forms.values() for ln, _v in entries}
    data = LanguageData(target, [], dict(lists), {})
    forms: dict[str, list[list[str]]] = {}
    for list_name, slot_list in lists.items():
        if list_name not in text_lists:
            continue
        for value in slot_list.values:
            for text in _surface_forms(value.text_in, data):
                words = tokenize(text).words
                if words:
                    entry = [list_name, str(value.value_out if value.value_out is not None else " ".join(text.split()))]
                    bucket = forms.setdefault(" ".join(words), [])
                    if entry not in bucket:
                        bucket.append(entry)
    state["forms"] = forms
    state["suffixes"] = {}
    state["literal"] = {}
    missing = text_lists - set(lists)
    unavailable = {
        intent: sorted({name for ln, names in by_list.items() if ln in missing for name in names})
        for intent, by_list in source.intent_slots.items()
    }
    return state, {k: v for k, v in unavailable.items() if v}


class ForeignModel:
    """A trained language's model serving another language through its dense head."""

    def __init__(self, source: LanguageModel, profile: LanguageProfile, slots: SlotMatcher,
                 unavailable: Mapping[str, Sequence[str]], lexicon: NumberLexicon | None = None):
        if source.dense is None or source.encoder is None:
            raise ValueError("intent.encoder: serving another language needs the dense features")
        self.source = source
        self.profile = profile
        self.language = profile.language
        self.classes = source.classes
        self.threshold = profile.threshold
        self.slots = slots
        self.unavailable = {k: tuple(v) for k, v in unavailable.items()}
        self._lexicon = lexicon
        self._lexicon_lock = threading.Lock()

    @property
    def lexicon(self) -> NumberLexicon:
        """The target language's number words, built at first use (~1 s: spelling 0-999)."""
        if self._lexicon is None:
            with self._lexicon_lock:
                if self._lexicon is None:
                    self._lexicon = NumberLexicon.build(self.language)
        return self._lexicon

    def intents(self) -> list[str]:
        return self.source.intents()

    def understand(self, text: str, previous_intent: str | None = None) -> IntentResult:
        toks = tokenize(text)
        numbers = self.lexicon.find(toks.words)
        dense = self.source.dense
        e, ev = self.source.embeddings(dense_text(text, toks, numbers), dense.alone_knn_weight > 0)
        offset = self.profile.offset
        p = _softmax(dense.alone_logits(_normalise(e - offset), _normalise(ev - offset) if ev is not e else None))
        result = self.source.decide(p, text, toks, numbers, previous_intent, threshold=self.threshold,
                                    slots=self.slots)
        missing = self.unavailable.get(result.intent)
        if missing:
            taken = {s.name for s in result.slots}
            result = dataclasses.replace(result, unavailable_slots=tuple(n for n in missing if n not in taken))
        return result

    # --- persistence ----------------------------------------------------------------------------

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta = {"language": self.language, "source": self.profile.source, "threshold": self.threshold,
                "groups": self.profile.groups, "slots": self.slots.state(), "unavailable": self.unavailable}
        return meta, {"offset": self.profile.offset}

    @classmethod
    def from_state(cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray],
                   models: Mapping[str, LanguageModel]) -> "ForeignModel":
        profile = LanguageProfile(meta["language"], meta["source"], np.asarray(arrays["offset"], np.float32),
                                  float(meta["threshold"]), int(meta["groups"]))
        return cls(models[meta["source"]], profile, SlotMatcher(meta["slots"]), meta["unavailable"])


def build_foreign(models: Mapping[str, LanguageModel], encoder: SentenceEncoder, target: str,
                  lists: Mapping[str, Any], reference: Mapping[str, Mapping[str, list[str]]],
                  cache: dict[tuple[str, str], np.ndarray] | None = None) -> ForeignModel | None:
    """Serve ``target`` from the trained language whose embeddings lie closest to it (the
    smallest offset: Portuguese from Spanish rather than from German)."""
    best: tuple[float, LanguageModel, LanguageProfile] | None = None
    for model in models.values():
        profile = calibrate(model, encoder, target, reference, cache)
        if profile is None:
            continue
        distance = float(np.linalg.norm(profile.offset))
        if best is None or distance < best[0]:
            best = (distance, model, profile)
    if best is None:
        return None
    _d, model, profile = best
    state, unavailable = foreign_slot_state(model.slots, target, lists)
    return ForeignModel(model, profile, SlotMatcher(state), unavailable)


def main(argv: list[str] | None = None) -> int:
    """Rebuild ``domains/reference.json``."""
    import argparse

    from .dense import ENCODER_LANGUAGES

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--per-intent", type=int, default=4)
    parser.add_argument("--out", default=str(REFERENCE_FILE))
    args = parser.parse_args(argv)
    doc = build_reference(ENCODER_LANGUAGES["usem3"], args.per_intent)
    Path(args.out).write_text(json.dumps(doc, ensure_ascii=False, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
