"""IntentEngine: owns the trained per-language models of one intents domain."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...core.errors import InvalidArgument
from ...core.languages import resolve_language
from .corpus import Domain
from .domainfile import DEFAULT_INTENTS_FILE, HOME_ASSISTANT, builtin_domain, load_domain
from .crosslingual import REFERENCE_FILE, ForeignModel, build_foreign, load_reference, reference_languages
from .dense import SentenceEncoder, load_encoder
from .model import LanguageModel, TrainConfig, train_language
from ...core.intents import NONE_INTENT, IntentInfo, IntentResult

_LOGGER = logging.getLogger(__name__)

MODEL_VERSION = "7"
MAX_TEXT_CHARS = 2000


class IntentEngine:
    """Trained intent models for one domain, one per language.

    Create with :meth:`load` (intents file, cached training) or :meth:`from_domain`.
    Thread-safe for concurrent :meth:`understand` calls (models are read-only).
    """

    def __init__(self, name: str, models: Mapping[str, LanguageModel], descriptions: Mapping[str, str],
                 foreign: Mapping[str, ForeignModel] | None = None):
        if not models:
            raise ValueError("languages: no language models")
        self.name = name
        self._models = dict(models)
        self._descriptions = dict(descriptions)
        # languages without sentences in the file, served through the sentence encoder
        self._foreign = {k: v for k, v in (foreign or {}).items() if k not in self._models}

    # --- construction ----------------------------------------------------------------------

    @classmethod
    def load(cls, intents_file: Path | str | None, languages: Sequence[str] | None, cache_dir: Path,
             config: TrainConfig | None = None, *, threads: int = 1,
             encoder: SentenceEncoder | None = None) -> "IntentEngine":
        """Load the model for ``intents_file`` (None = the shipped call-centre domain; a
        built-in name, :data:`~.domainfile.BUILTIN_DOMAINS`, instead of a path).

        Trains at the first start and caches the result in ``cache_dir`` under a key made of
        the file's hash (a built-in's sources), the languages, the training config and the
        model version. The sentence encoder ``config.encoder`` names is loaded once, with
        ``threads`` BLAS threads a call, unless ``encoder`` passes one already loaded.
        """
        builtin = builtin_domain(intents_file)
        config = config or TrainConfig()
        langs = sorted(set(languages)) if languages else None
        if builtin == HOME_ASSISTANT:
            from .homeassistant import HA_LANGUAGES, home_assistant_domain, home_assistant_fingerprint

            raw, stem = home_assistant_fingerprint(), HOME_ASSISTANT
            build = home_assistant_domain
            written = set(HA_LANGUAGES)
        else:
            path = DEFAULT_INTENTS_FILE if builtin is not None else Path(intents_file)
            try:
                raw = path.read_bytes()
            except OSError as err:
                raise ValueError(f"intents_file: cannot read {path}: {err}") from err
            stem = path.stem
            written = _sentence_languages(path)

            def build(wanted):
                return load_domain(path, wanted)
        if not config.encoder:
            encoder = None
        elif encoder is None:
            encoder = load_encoder(config.encoder, threads)
        # requested languages the file has no sentences in are served through the encoder
        foreign = None
        if langs is not None:
            foreign = [lang for lang in langs if lang not in written]
            if foreign and encoder is None:
                raise InvalidArgument("languages", f"no sentences for {', '.join(foreign)} (and no sentence "
                                      "encoder to serve them with: intent.encoder)")
            langs = [lang for lang in langs if lang in written] or None  # none written: train them all
        if encoder is not None:
            raw += REFERENCE_FILE.read_bytes()
        key = _cache_key(raw, langs, config, foreign)
        cache_path = Path(cache_dir) / f"intents-{stem}-{key[:16]}.npz"
        if cache_path.exists():
            try:
                engine = cls._read(cache_path, encoder)
                _LOGGER.info("Loaded intent model %s from %s", engine.name, cache_path)
                return engine
            except Exception as err:  # noqa: BLE001 - a broken cache is retrained, not fatal
                _LOGGER.warning("Ignoring unreadable intent cache %s: %s", cache_path, err)
        domain = build(langs)
        engine = cls.from_domain(domain, config, encoder, foreign_languages=foreign)
        try:
            engine._write(cache_path)
        except OSError as err:
            _LOGGER.warning("Cannot cache intent model at %s: %s", cache_path, err)
        return engine

    @classmethod
    def from_domain(cls, domain: Domain, config: TrainConfig | None = None,
                    encoder: SentenceEncoder | None = None, *, foreign_languages: Sequence[str] | None = None,
                    reference: Mapping[str, Mapping[str, list[str]]] | None = None) -> "IntentEngine":
        """Train every language of ``domain``; with an encoder, also serve
        ``foreign_languages`` (None: every language the encoder and the reference corpus
        know) through it, calibrated on ``reference`` (None: the bundled corpus)."""
        config = config or TrainConfig()
        if config.encoder and encoder is None:
            encoder = load_encoder(config.encoder)
        if not config.encoder:
            encoder = None
        t0 = time.perf_counter()
        models = {lang: train_language(data, config, encoder=encoder)
                  for lang, data in sorted(domain.languages.items())}
        foreign: dict[str, ForeignModel] = {}
        if encoder is not None and foreign_languages != []:
            reference = load_reference() if reference is None else reference
            if foreign_languages is None:
                targets = sorted((set(encoder.languages) & reference_languages(reference)) - set(models))
            else:
                targets = [lang for lang in foreign_languages if lang not in models]
            cache: dict = {}
            for lang in targets:
                model = build_foreign(models, encoder, lang, domain.foreign_lists.get(lang, {}), reference, cache)
                if model is not None:
                    foreign[lang] = model
                elif foreign_languages is not None:
                    raise InvalidArgument("languages", f"no sentences for {lang}, and the sentence encoder "
                                          f"cannot serve it (no reference sentences in {lang})")
        _LOGGER.info("Trained intent domain %s (%s; through the encoder: %s) in %.1f s", domain.name,
                     ", ".join(models), ", ".join(foreign) or "none", time.perf_counter() - t0)
        return cls(domain.name, models, {n: m.description for n, m in domain.intents.items()}, foreign)

    # --- queries ---------------------------------------------------------------------------

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages the intents file has sentences in (trained)."""
        return tuple(sorted(self._models))

    @property
    def foreign_languages(self) -> tuple[str, ...]:
        """Languages served through the sentence encoder from a trained one."""
        return tuple(sorted(self._foreign))

    def model(self, language_code: str) -> LanguageModel | ForeignModel:
        lang = resolve_language(language_code, list(self._models))
        if lang is not None:
            return self._models[lang]
        lang = resolve_language(language_code, list(self._foreign))
        if lang is None:
            supported = ", ".join(self.languages) + (
                f"; through the encoder: {', '.join(self.foreign_languages)}" if self._foreign else "")
            raise InvalidArgument(
                "language_code", f"{language_code!r} is not supported by intents "
                f"{self.name!r} (supported: {supported})")
        return self._foreign[lang]

    def understand(self, text: str, language_code: str, context: Mapping[str, Any] | None = None) -> IntentResult:
        """Intent, confidence, slots and alternatives for ``text``.

        ``context`` may carry ``previous_intent``: a bare slot answer ("my savings account")
        then continues that intent. Raises ``ValueError`` naming the bad field.
        """
        if not isinstance(text, str):
            raise InvalidArgument("text", "must be a string")
        if not text.strip():
            raise InvalidArgument("text", "must not be empty")
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidArgument("text", f"longer than {MAX_TEXT_CHARS} characters")
        if not isinstance(language_code, str) or not language_code.strip():
            raise InvalidArgument("language_code", "must be given")
        if context is not None and not isinstance(context, Mapping):
            raise InvalidArgument("context", "must be a mapping")
        model = self.model(language_code)
        previous = None
        if context:
            previous = context.get("previous_intent") or None
            if previous is not None and (not isinstance(previous, str) or previous not in model.classes
                                         or previous == NONE_INTENT):
                previous = None
        return model.understand(text, previous)

    def list_intents(self, language_code: str | None = None) -> list[IntentInfo]:
        if language_code:
            models = {self.model(language_code).language: self.model(language_code)}
        else:
            models = self._models
        names: dict[str, set[str]] = {}
        slots: dict[str, set[str]] = {}
        for lang, m in models.items():
            for intent in m.intents():
                names.setdefault(intent, set()).add(lang)
                slots.setdefault(intent, set()).update(m.slots.slot_names(intent))
        return [
            IntentInfo(name, tuple(sorted(names[name])), tuple(sorted(slots[name])), self._descriptions.get(name, ""))
            for name in sorted(names)
        ]

    # --- persistence -----------------------------------------------------------------------

    def _write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        metas: dict[str, Any] = {}
        for lang, m in self._models.items():
            meta, arrs = m.state()
            metas[lang] = meta
            for k, v in arrs.items():
                arrays[f"{lang}/{k}"] = v
        foreign: dict[str, Any] = {}
        for lang, fm in self._foreign.items():
            meta, arrs = fm.state()
            foreign[lang] = meta
            for k, v in arrs.items():
                arrays[f"foreign/{lang}/{k}"] = v
        header = {"version": MODEL_VERSION, "name": self.name, "descriptions": self._descriptions, "models": metas,
                  "foreign": foreign}
        arrays["__meta__"] = np.frombuffer(json.dumps(header).encode("utf-8"), np.uint8)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".intents-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(buf.getvalue())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def _read(cls, path: Path, encoder: SentenceEncoder | None = None) -> "IntentEngine":
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(bytes(z["__meta__"]).decode("utf-8"))
            if header.get("version") != MODEL_VERSION:
                raise ValueError("model version mismatch")
            models = {}
            for lang, meta in header["models"].items():
                prefix = f"{lang}/"
                arrays = {k[len(prefix):]: z[k] for k in z.files if k.startswith(prefix)}
                models[lang] = LanguageModel.from_state(meta, arrays, encoder)
            foreign = {}
            for lang, meta in header.get("foreign", {}).items():
                prefix = f"foreign/{lang}/"
                arrays = {k[len(prefix):]: z[k] for k in z.files if k.startswith(prefix)}
                foreign[lang] = ForeignModel.from_state(meta, arrays, models)
        return cls(header["name"], models, header.get("descriptions", {}), foreign)


def _cache_key(raw: bytes, languages: Sequence[str] | None, config: TrainConfig,
               foreign: Sequence[str] | None = None) -> str:
    h = hashlib.sha256()
    h.update(raw)
    h.update(json.dumps({"languages": languages, "foreign": foreign, "config": dataclasses.asdict(config),
                         "version": MODEL_VERSION}, sort_keys=True).encode())
    return h.hexdigest()


def _sentence_languages(path: Path) -> set[str]:
    """Languages an intents file has sentences in (a cheap read; load_domain validates)."""
    from .domainfile import read_intents_file

    doc = read_intents_file(path)
    langs: set[str] = set()
    for spec in (doc.get("intents") or {}).values():
        if isinstance(spec, Mapping) and isinstance(spec.get("sentences"), Mapping):
            langs.update(str(k) for k in spec["sentences"])
    return langs
