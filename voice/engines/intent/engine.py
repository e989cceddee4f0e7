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
from .dense import SentenceEncoder, load_encoder
from .model import LanguageModel, TrainConfig, train_language
from ...core.intents import NONE_INTENT, IntentInfo, IntentResult

_LOGGER = logging.getLogger(__name__)

MODEL_VERSION = "5"
MAX_TEXT_CHARS = 2000


class IntentEngine:
    """Trained intent models for one domain, one per language.

    Create with :meth:`load` (intents file, cached training) or :meth:`from_domain`.
    Thread-safe for concurrent :meth:`understand` calls (models are read-only).
    """

    def __init__(self, name: str, models: Mapping[str, LanguageModel], descriptions: Mapping[str, str]):
        if not models:
            raise ValueError("languages: no language models")
        self.name = name
        self._models = dict(models)
        self._descriptions = dict(descriptions)

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
        if config.encoder and encoder is None:
            encoder = load_encoder(config.encoder, threads)
        langs = sorted(set(languages)) if languages else None
        if builtin == HOME_ASSISTANT:
            from .homeassistant import home_assistant_domain, home_assistant_fingerprint

            raw, stem = home_assistant_fingerprint(), HOME_ASSISTANT
            build = home_assistant_domain
        else:
            path = DEFAULT_INTENTS_FILE if builtin is not None else Path(intents_file)
            try:
                raw = path.read_bytes()
            except OSError as err:
                raise ValueError(f"intents_file: cannot read {path}: {err}") from err
            stem = path.stem

            def build(wanted):
                return load_domain(path, wanted)
        key = _cache_key(raw, langs, config)
        cache_path = Path(cache_dir) / f"intents-{stem}-{key[:16]}.npz"
        if cache_path.exists():
            try:
                engine = cls._read(cache_path, encoder)
                _LOGGER.info("Loaded intent model %s from %s", engine.name, cache_path)
                return engine
            except Exception as err:  # noqa: BLE001 - a broken cache is retrained, not fatal
                _LOGGER.warning("Ignoring unreadable intent cache %s: %s", cache_path, err)
        domain = build(langs)
        engine = cls.from_domain(domain, config, encoder)
        try:
            engine._write(cache_path)
        except OSError as err:
            _LOGGER.warning("Cannot cache intent model at %s: %s", cache_path, err)
        return engine

    @classmethod
    def from_domain(cls, domain: Domain, config: TrainConfig | None = None,
                    encoder: SentenceEncoder | None = None) -> "IntentEngine":
        config = config or TrainConfig()
        if config.encoder and encoder is None:
            encoder = load_encoder(config.encoder)
        t0 = time.perf_counter()
        models = {lang: train_language(data, config, encoder=encoder)
                  for lang, data in sorted(domain.languages.items())}
        _LOGGER.info("Trained intent domain %s (%s) in %.1f s", domain.name, ", ".join(models),
                     time.perf_counter() - t0)
        return cls(domain.name, models, {n: m.description for n, m in domain.intents.items()})

    # --- queries ---------------------------------------------------------------------------

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(self._models))

    def model(self, language_code: str) -> LanguageModel:
        lang = resolve_language(language_code, list(self._models))
        if lang is None:
            raise InvalidArgument(
                "language_code", f"{language_code!r} is not supported by intents "
                f"{self.name!r} (supported: {', '.join(self.languages)})")
        return self._models[lang]

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
        header = {"version": MODEL_VERSION, "name": self.name, "descriptions": self._descriptions, "models": metas}
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
        return cls(header["name"], models, header.get("descriptions", {}))


def _cache_key(raw: bytes, languages: Sequence[str] | None, config: TrainConfig) -> str:
    h = hashlib.sha256()
    h.update(raw)
    h.update(json.dumps({"languages": languages, "config": dataclasses.asdict(config),
                         "version": MODEL_VERSION}, sort_keys=True).encode())
    return h.hexdigest()
