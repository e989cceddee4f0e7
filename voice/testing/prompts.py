"""Real speech with its texts: Debian's asterisk-core-sounds telephone prompts, and WER.

The prompts (8 kHz WAV) and their transcripts come from the Debian packages
``asterisk-core-sounds-{en,es,fr,it,ru}(-wav)``; hold music from
``asterisk-moh-opsound-wav``. ``make test-deps`` (tools/install_test_deps.py) installs them.
"""

from __future__ import annotations

import gzip
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

SOUNDS = Path("/usr/share/asterisk/sounds")
DOCS = Path("/usr/share/doc")
MOH = Path("/usr/share/asterisk/moh")

_NUMBERS_EN = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


class MissingTestAudio(FileNotFoundError):
    """The Debian test audio is not installed."""


@dataclass(frozen=True)
class Prompt:
    """One recorded prompt: its language, file name (no suffix), WAV path and text."""

    lang: str
    name: str
    path: Path
    text: str


def load_prompts(lang: str) -> dict[str, Prompt]:
    """Every prompt of ``lang`` that has a WAV file and a plain text (no ``[...]`` notes)."""
    doc = DOCS / f"asterisk-core-sounds-{lang}" / f"core-sounds-{lang}.txt.gz"
    if not doc.exists():
        raise MissingTestAudio(
            f"{doc} missing: run `make test` (it installs the test audio) or tools/install_test_deps.py")
    prompts = {}
    with gzip.open(doc, "rt", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith(";") or ":" not in line:
                continue
            name, text = line.split(":", 1)
            name, text = name.strip(), text.strip()
            path = SOUNDS / lang / f"{name}.wav"
            if path.exists() and text and "[" not in text:
                prompts[name] = Prompt(lang, name, path, text)
    return prompts


def pick_prompts(lang: str, count: int, min_words: int = 5, max_words: int = 16) -> list[Prompt]:
    """A deterministic set of plain-text prompts (no digits, no brackets)."""
    chosen = []
    for _, p in sorted(load_prompts(lang).items()):
        words = p.text.split()
        if min_words <= len(words) <= max_words and not re.search(r"\d", p.text):
            chosen.append(p)
        if len(chosen) == count:
            break
    return chosen


def normalize(text: str) -> str:
    """Lower-case, fold accents, drop punctuation, English digits to words."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"\d", lambda m: f" {_NUMBERS_EN[int(m.group())]} ", text)
    text = re.sub(r"[^\w\s']|_", " ", text).replace("'", "")
    return " ".join(text.split())


def wer(references: list[str], hypotheses: list[str]) -> float:
    """Word error rate of ``hypotheses`` against ``references``, both :func:`normalize`\\ d."""
    import jiwer

    return jiwer.wer([normalize(r) for r in references], [normalize(h) or "<empty>" for h in hypotheses])
