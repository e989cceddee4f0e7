"""The SSML subset we speak, parsed into a flat list of tokens (no models, no I/O).

Supported: ``<speak>``, ``<p>``, ``<s>``, ``<break time|strength>``, ``<prosody rate>``,
``<say-as interpret-as="characters|spell-out|cardinal|number|digits|telephone">`` and
``<sub alias>``. Anything else is an :class:`SsmlError` whose message says what is not
supported and what is, so a caller can fix the request instead of hearing markup read out.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from . import textnorm

SUPPORTED = "<speak>, <p>, <s>, <break>, <prosody rate>, <say-as>, <sub>"
SAY_AS = ("characters", "spell-out", "cardinal", "number", "digits", "telephone")
MAX_BREAK_S = 10.0
_STRENGTH = {"none": 0.0, "x-weak": 0.1, "weak": 0.2, "medium": 0.4, "strong": 0.7, "x-strong": 1.2}
_RATES = {"x-slow": 0.5, "slow": 0.75, "medium": 1.0, "default": 1.0, "fast": 1.25, "x-fast": 1.6}


class SsmlError(ValueError):
    """SSML the service does not accept; the message is for the caller."""


@dataclass(frozen=True)
class Text:
    text: str
    rate: float = 1.0
    verbatim: bool = False  # already normalised (say-as / sub output)


@dataclass(frozen=True)
class Break:
    seconds: float


@dataclass(frozen=True)
class Boundary:
    kind: str  # "s" (sentence) or "p" (paragraph)


Token = Text | Break | Boundary


def looks_like_ssml(text: str) -> bool:
    return text.lstrip().startswith("<speak")


def parse(document: str, language: str = "en") -> list[Token]:
    """Parse an SSML document into tokens; raises :class:`SsmlError`."""
    try:
        root = ET.fromstring(document.strip())
    except ET.ParseError as exc:
        raise SsmlError(f"SSML is not well-formed XML ({exc})") from None
    if _local(root.tag) != "speak":
        raise SsmlError(f"SSML must have <speak> as its root element, not <{_local(root.tag)}>")
    tokens: list[Token] = []
    _walk(root, 1.0, language, tokens, top=True)
    return tokens


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _attrs(el: ET.Element) -> dict[str, str]:
    return {_local(k): v for k, v in el.attrib.items()}


def _check_attrs(el: ET.Element, allowed: set[str]) -> dict[str, str]:
    attrs = _attrs(el)
    extra = set(attrs) - allowed - {"lang", "base", "version", "id"}
    if extra:
        name = _local(el.tag)
        raise SsmlError(f"SSML <{name} {sorted(extra)[0]}> is not supported"
                        + (f" (<{name}> takes: {', '.join(sorted(allowed))})" if allowed else ""))
    return attrs


def _text(tokens: list[Token], text: str | None, rate: float) -> None:
    if text and text.strip():
        tokens.append(Text(text, rate))


def _walk(el: ET.Element, rate: float, language: str, tokens: list[Token], top: bool = False) -> None:
    name = _local(el.tag)
    if name == "speak":
        if not top:
            raise SsmlError("SSML <speak> may only be the root element")
        _check_attrs(el, set())
        _children(el, rate, language, tokens)
    elif name in ("p", "s", "paragraph", "sentence"):
        _check_attrs(el, set())
        tokens.append(Boundary("s"))
        _children(el, rate, language, tokens)
        tokens.append(Boundary("p" if name in ("p", "paragraph") else "s"))
    elif name == "break":
        attrs = _check_attrs(el, {"time", "strength"})
        tokens.append(Break(_break_seconds(attrs)))
        if len(el) or (el.text and el.text.strip()):
            raise SsmlError("SSML <break> must be empty")
    elif name == "prosody":
        attrs = _check_attrs(el, {"rate"})
        new_rate = rate * _rate(attrs.get("rate", "medium"))
        if not 0.25 <= new_rate <= 4.0:
            raise SsmlError(f"SSML <prosody rate> gives a speaking rate of {new_rate:.2f}; allowed 0.25-4.0")
        _children(el, new_rate, language, tokens)
    elif name == "say-as":
        attrs = _check_attrs(el, {"interpret-as", "format", "detail"})
        kind = attrs.get("interpret-as", "")
        if kind not in SAY_AS:
            raise SsmlError(f"SSML <say-as interpret-as={kind!r}> is not supported (supported: {', '.join(SAY_AS)})")
        if len(el):
            raise SsmlError("SSML <say-as> must contain only text")
        content = el.text or ""
        try:
            if kind in ("characters", "spell-out"):
                spoken = textnorm.say_characters(content)
            elif kind == "digits":
                spoken = textnorm.say_digits(content)
            elif kind == "telephone":
                spoken = textnorm.say_telephone(content, language)
            else:
                spoken = textnorm.say_cardinal(content, language)
        except ValueError as exc:
            raise SsmlError(f"SSML <say-as>: {exc}") from None
        if spoken:
            tokens.append(Text(spoken, rate, verbatim=True))
    elif name == "sub":
        attrs = _check_attrs(el, {"alias"})
        if "alias" not in attrs:
            raise SsmlError("SSML <sub> needs an alias attribute")
        if len(el):
            raise SsmlError("SSML <sub> must contain only text")
        if attrs["alias"].strip():
            tokens.append(Text(attrs["alias"], rate))
    else:
        raise SsmlError(f"SSML <{name}> is not supported (supported: {SUPPORTED})")


def _children(el: ET.Element, rate: float, language: str, tokens: list[Token]) -> None:
    _text(tokens, el.text, rate)
    for child in el:
        _walk_child(child, rate, language, tokens)


def _walk_child(child: ET.Element, rate: float, language: str, tokens: list[Token]) -> None:
    # the text after a child (its tail) is the parent's, spoken at the parent's rate
    _walk(child, rate, language, tokens)
    _text(tokens, child.tail, rate)


def _break_seconds(attrs: dict[str, str]) -> float:
    if "time" in attrs:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*", attrs["time"])
        if not m:
            raise SsmlError(f"SSML <break time={attrs['time']!r}>: use e.g. \"500ms\" or \"1.5s\"")
        seconds = float(m.group(1)) / (1000.0 if m.group(2) == "ms" else 1.0)
        if seconds > MAX_BREAK_S:
            raise SsmlError(f"SSML <break time>: at most {MAX_BREAK_S:g}s, got {seconds:g}s")
        return seconds
    strength = attrs.get("strength", "medium")
    if strength not in _STRENGTH:
        raise SsmlError(f"SSML <break strength={strength!r}>: use one of {', '.join(_STRENGTH)}")
    return _STRENGTH[strength]


def _rate(value: str) -> float:
    value = value.strip()
    if value in _RATES:
        return _RATES[value]
    m = re.fullmatch(r"([+-]?)(\d+(?:\.\d+)?)%", value)
    if m:
        pct = float(m.group(2))
        if m.group(1) == "+":
            return 1.0 + pct / 100
        if m.group(1) == "-":
            return 1.0 - pct / 100
        return pct / 100
    m = re.fullmatch(r"\d+(?:\.\d+)?", value)
    if m:
        return float(value)
    raise SsmlError(f"SSML <prosody rate={value!r}>: use x-slow..x-fast, a percentage (\"80%\", \"+20%\") or a multiplier")
