"""Load an intents file (YAML or JSON) into a :class:`~voice.engines.intent.corpus.Domain`.

The format is documented in ``voice/engines/intent/README.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence as Seq
from pathlib import Path
from typing import Any

import yaml
from hassil.expression import Group, RuleReference, Sentence
from hassil.intents import RangeSlotList, SlotList, TextSlotList, TextSlotValue
from hassil.parse_expression import parse_sentence

from .corpus import Domain, IntentMeta, LanguageData, Template
from ...core.intents import IntentFileError

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def read_intents_file(path: Path) -> dict[str, Any]:
    """Parse the raw file (YAML, or JSON by suffix)."""
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as err:
        raise IntentFileError(f"intents_file: cannot read {path}: {err}") from err
    try:
        if path.suffix.lower() == ".json":
            doc = json.loads(raw)
        else:
            doc = yaml.safe_load(raw)
    except (yaml.YAMLError, json.JSONDecodeError) as err:
        raise IntentFileError(f"intents_file: {path} is not valid YAML/JSON: {err}") from err
    if not isinstance(doc, Mapping):
        raise IntentFileError(f"intents_file: {path} must contain a mapping at the top level")
    return dict(doc)


def load_domain(path: Path, languages: Seq[str] | None = None) -> Domain:
    """Load and validate an intents file; keep only ``languages`` when given."""
    return domain_from_dict(read_intents_file(path), name=path.stem, languages=languages)


def _parse(text: Any, where: str) -> Sentence:
    if not isinstance(text, str) or not text.strip():
        raise IntentFileError(f"{where}: expected a non-empty string, got {text!r}")
    try:
        return parse_sentence(text, keep_text=True)
    except Exception as err:  # noqa: BLE001 - hassil raises several parse error types
        raise IntentFileError(f"{where}: cannot parse template {text!r}: {err}") from err


def _per_language(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise IntentFileError(f"{where}: expected a mapping of language code -> list")
    return {str(k): v for k, v in value.items()}


def domain_from_dict(doc: Mapping[str, Any], name: str = "domain", languages: Seq[str] | None = None) -> Domain:
    intents_doc = doc.get("intents")
    if not isinstance(intents_doc, Mapping) or not intents_doc:
        raise IntentFileError("intents: the file must define at least one intent")
    wanted = set(languages) if languages else None

    # lists: shared definitions, text values per language
    lists_doc = doc.get("lists", {}) or {}
    if not isinstance(lists_doc, Mapping):
        raise IntentFileError("lists: expected a mapping of list name -> definition")
    shared_lists: dict[str, SlotList] = {}
    time_lists: set[str] = set()
    text_lists: dict[str, dict[str, list]] = {}
    for list_name, spec in lists_doc.items():
        where = f"lists.{list_name}"
        if not isinstance(spec, Mapping):
            raise IntentFileError(f"{where}: expected a mapping")
        kind = spec.get("type", "text" if "values" in spec else None)
        if kind == "number" or "range" in spec:
            rng = spec.get("range", {})
            try:
                start, stop = int(rng.get("from", 0)), int(rng["to"])
                step = int(rng.get("step", 1))
            except (KeyError, TypeError, ValueError) as err:
                raise IntentFileError(f"{where}.range: needs integer 'from' and 'to'") from err
            if start > stop or step <= 0:
                raise IntentFileError(f"{where}.range: need from <= to and step > 0")
            shared_lists[list_name] = RangeSlotList(name=list_name, start=start, stop=stop, step=step)
        elif kind == "time":
            time_lists.add(list_name)
        elif kind == "text":
            text_lists[list_name] = _per_language(spec.get("values"), f"{where}.values")
        else:
            raise IntentFileError(f"{where}: type must be text (with values), number (with range) or time")

    rules_doc = _per_language(doc.get("rules", {}) or {}, "rules")
    oos_doc = _per_language(doc.get("out_of_scope", {}) or {}, "out_of_scope")

    metas: dict[str, IntentMeta] = {}
    per_lang_templates: dict[str, list[Template]] = {}
    for intent_name, spec in intents_doc.items():
        where = f"intents.{intent_name}"
        if not isinstance(intent_name, str) or not intent_name or not set(intent_name) <= _NAME_CHARS:
            raise IntentFileError(f"{where}: intent names use letters, digits, _ . - only")
        if intent_name == "none":
            raise IntentFileError(f"{where}: 'none' is reserved for out-of-scope text")
        if not isinstance(spec, Mapping):
            raise IntentFileError(f"{where}: expected a mapping with 'sentences'")
        metas[intent_name] = IntentMeta(intent_name, str(spec.get("description", "")))
        sentences = _per_language(spec.get("sentences"), f"{where}.sentences")
        for lang, items in sentences.items():
            if wanted is not None and lang not in wanted:
                continue
            if not isinstance(items, list) or not items:
                raise IntentFileError(f"{where}.sentences.{lang}: expected a non-empty list")
            templates = per_lang_templates.setdefault(lang, [])
            for i, text in enumerate(items):
                sentence = _parse(text, f"{where}.sentences.{lang}[{i}]")
                templates.append(Template(intent_name, f"{intent_name}/{i}", sentence))

    if wanted is not None:
        missing = sorted(wanted - set(per_lang_templates))
        if missing:
            raise IntentFileError(f"languages: no sentences for {', '.join(missing)}")
    if not per_lang_templates:
        raise IntentFileError("intents: no sentences in any language")

    langs: dict[str, LanguageData] = {}
    for lang, templates in per_lang_templates.items():
        slot_lists: dict[str, SlotList] = dict(shared_lists)
        for list_name, by_lang in text_lists.items():
            values = by_lang.get(lang)
            if values is None:
                continue
            slot_lists[list_name] = _text_list(list_name, values, f"lists.{list_name}.values.{lang}")
        rules: dict[str, Sentence] = {}
        lang_rules = rules_doc.get(lang, {}) or {}
        if not isinstance(lang_rules, Mapping):
            raise IntentFileError(f"rules.{lang}: expected a mapping of rule name -> template")
        for rule_name, body in lang_rules.items():
            rules[str(rule_name)] = _parse(body, f"rules.{lang}.{rule_name}")
        oos = oos_doc.get(lang, []) or []
        if not isinstance(oos, list) or not all(isinstance(s, str) for s in oos):
            raise IntentFileError(f"out_of_scope.{lang}: expected a list of sentences")
        data = LanguageData(lang, templates, slot_lists, rules, frozenset(time_lists), list(oos))
        _check_references(data)
        langs[lang] = data
    return Domain(str(doc.get("name", name)), metas, langs)


def _text_list(list_name: str, values: Any, where: str) -> TextSlotList:
    if not isinstance(values, list) or not values:
        raise IntentFileError(f"{where}: expected a non-empty list")
    parsed: list[TextSlotValue] = []
    for i, item in enumerate(values):
        if isinstance(item, str):
            text_in, value_out = item, None
        elif isinstance(item, Mapping) and "in" in item:
            text_in, value_out = item["in"], item.get("out")
        else:
            raise IntentFileError(f"{where}[{i}]: expected a string or {{in: ..., out: ...}}")
        sentence = _parse(text_in, f"{where}[{i}]")
        if value_out is None:
            value_out = " ".join(str(text_in).split())
        parsed.append(TextSlotValue(text_in=sentence.expression, value_out=str(value_out)))
    return TextSlotList(name=list_name, values=parsed)


def _check_references(data: LanguageData) -> None:
    from .corpus import template_slot_lists

    def rules_in(expr, seen: set[str]) -> None:
        if isinstance(expr, RuleReference):
            if expr.rule_name not in data.rules:
                raise IntentFileError(f"rules.{data.language}: rule <{expr.rule_name}> is used but not defined")
            if expr.rule_name not in seen:
                seen.add(expr.rule_name)
                rules_in(data.rules[expr.rule_name].expression, seen)
        elif isinstance(expr, Group):
            for item in expr.items:
                rules_in(item, seen)

    for template in data.templates:
        rules_in(template.sentence.expression, set())
        for _slot, list_name in template_slot_lists(template, data):
            if list_name not in data.slot_lists and list_name not in data.time_lists:
                raise IntentFileError(
                    f"intents.{template.intent}.sentences.{data.language}: "
                    f"list {{{list_name}}} is not defined for language {data.language}"
                )
