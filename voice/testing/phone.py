"""Short telephone answers with known text, built from Debian's asterisk-core-sounds prompts.

:func:`build_clips` joins the ``digits/`` prompts of a language (8 kHz) into the answers an IVR
asks for, the text known by construction:

* ``digits``: 4-8 digits read one by one, 50-250 ms apart ("3 2 1 5");
* ``number``: 21-99 from the tens and unit prompts (fr "vingt et un", es "treinta y dos");
* ``amount``: a number and the language's currency prompt (en/es/fr/ru dollars, it euro);
* ``date``: day and month in the language's order (en "March fifteenth", fr "15 mars",
  es "15 de marzo", it "15 marzo", ru "15 марта");
* ``time``: an hour with the language's o'clock prompt (en "three o'clock", es "a las tres
  en punto", fr "trois heure", it "alle tre in punto", ru "в три часов");
* ``yes_no``: whole prompts that are one answer word (``vm-no``: en/es "no", ru "нет") and
  answer words cut from the start or end of a prompt (:data:`ANSWER_CUTS`: en "No" of
  conf-noempty and vm-nomore, es "Si" of dir-instr and "No" of dir-nomore and vm-nomore, fr
  "Non" of unidentified-no-callback, it "Si" of please-try-call-later, ru "нет" ending
  vm-nomore). The prompts hold no "yes", "oui" or "да": the set leans to "no".

Each :class:`Clip` has its expected normalised value (the ``voice.core.answers`` form) and a
reference text for WER. Deterministic for a seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from voice.core.itn import MONTHS
from voice.testing.prompts import SOUNDS, MissingTestAudio

RATE = 8000
KINDS = ("digits", "number", "amount", "date", "time", "yes_no")
CURRENCY = {"en": ("dollars", "USD"), "es": ("dollars", "USD"), "fr": ("dollars", "USD"), "it": ("euros", "EUR"),
            "ru": ("dollars", "USD")}
CURRENCY_WORD = {"en": "dollars", "es": "dolares", "fr": "dollars", "it": "euro", "ru": "долларов"}
# answer words inside longer prompts: (prompt, word as spoken, value, which end of the prompt)
ANSWER_CUTS = {
    "en": [("conf-noempty", "no", "false", "start"), ("vm-nomore", "no", "false", "start")],
    "es": [("dir-instr", "si", "true", "start"), ("dir-nomore", "no", "false", "start"),
           ("vm-nomore", "no", "false", "start")],
    "fr": [("unidentified-no-callback", "non", "false", "start")],
    "it": [("please-try-call-later", "si", "true", "start")],
    "ru": [("vm-nomore", "нет", "false", "end")],
}
WHOLE_ANSWERS = {"en": [("vm-no", "no", "false")], "es": [("vm-no", "no", "false")], "ru": [("vm-no", "нет", "false")]}


@dataclass(frozen=True)
class Clip:
    lang: str
    kind: str
    audio: np.ndarray = field(repr=False)  # float32, 8 kHz, speech only (no padding)
    value: str  # the expected normalised answer
    reference: str  # what is said, for WER (numbers as digits)
    sources: tuple[str, ...]  # the prompts it is made of

    @property
    def duration(self) -> float:
        return len(self.audio) / RATE


def _path(lang: str, name: str) -> Path:
    return SOUNDS / lang / f"{name}.wav"


def _load(lang: str, name: str, trim: bool = True) -> np.ndarray:
    path = _path(lang, name)
    if not path.exists():
        raise MissingTestAudio(f"{path} missing: run tools/install_test_deps.py")
    audio, rate = sf.read(path, dtype="float32")
    if rate != RATE:
        raise ValueError(f"{path}: {rate} Hz, expected {RATE}")
    return _trim(audio) if trim else audio


def _trim(audio: np.ndarray, frame: int = 80) -> np.ndarray:
    """Cut leading and trailing silence (10 ms frames below 3 % of the loudest), 30 ms kept."""
    n = len(audio) // frame
    if n == 0:
        return audio
    rms = np.sqrt((audio[: n * frame].reshape(n, frame) ** 2).mean(axis=1))
    loud = np.flatnonzero(rms > 0.03 * rms.max())
    if loud.size == 0:
        return audio
    s = max(0, (loud[0] - 3) * frame)
    e = min(len(audio), (loud[-1] + 4) * frame)
    return audio[s:e]


def _join(lang: str, names: list[str], rng: random.Random, gap: tuple[float, float] = (0.05, 0.12)) -> np.ndarray:
    parts = []
    for i, name in enumerate(names):
        if i:
            parts.append(np.zeros(int(rng.uniform(*gap) * RATE), np.float32))
        parts.append(_load(lang, name))
    return np.concatenate(parts)


def _has(lang: str, *names: str) -> bool:
    return all(_path(lang, n).exists() for n in names)


def _cardinal(lang: str, n: int) -> list[str]:
    """Prompt names saying 0-99 in ``lang``."""
    if _has(lang, f"digits/{n}"):
        return [f"digits/{n}"]
    tens, unit = divmod(n, 10)
    names = [f"digits/{tens * 10}"]
    if unit:
        if lang == "fr" and unit == 1:
            names.append("digits/et")
        elif lang == "es":
            names.append("digits/and")
        names.append(f"digits/{unit}")
    return names


def _number_ok(lang: str, n: int) -> bool:
    if lang == "fr" and n >= 70:
        return False  # soixante-dix... are sums of prompts the files do not say
    return _has(lang, *_cardinal(lang, n))


def _digits(lang: str, rng: random.Random) -> Clip:
    k = rng.randint(4, 8)
    digits = "".join(str(rng.randint(0, 9)) for _ in range(k))
    names = [f"digits/{d}" for d in digits]
    return Clip(lang, "digits", _join(lang, names, rng, (0.05, 0.25)), digits, " ".join(digits), tuple(names))


def _pick_number(lang: str, rng: random.Random) -> int:
    while True:
        n = rng.randint(21, 99)
        if n % 10 and _number_ok(lang, n):
            return n


def _number(lang: str, rng: random.Random) -> Clip:
    n = _pick_number(lang, rng)
    names = _cardinal(lang, n)
    return Clip(lang, "number", _join(lang, names, rng), str(n), str(n), tuple(names))


def _amount(lang: str, rng: random.Random) -> Clip:
    n = _pick_number(lang, rng)
    prompt, code = CURRENCY[lang]
    names = [*_cardinal(lang, n), f"digits/{prompt}"]
    return Clip(lang, "amount", _join(lang, names, rng), f"{n} {code}", f"{n} {CURRENCY_WORD[lang]}", tuple(names))


def _date(lang: str, rng: random.Random) -> Clip:
    month = rng.randint(1, 12)
    day = rng.randint(1, 28)
    mon = f"digits/mon-{month - 1}"
    if lang == "en":
        day = rng.choice([d for d in range(1, 21)] + [30]) if day > 20 else day
        names = [mon, f"digits/h-{day}"]
    elif lang in ("fr", "it") and day == 1:
        names = ["digits/h-1", mon]
    else:
        names = [*_cardinal(lang, day), mon] if lang != "es" else [*_cardinal(lang, day), "digits/es-de", mon]
    month_word = MONTHS[lang][month - 1]
    reference = f"{month_word} {day}" if lang == "en" else f"{day} {'de ' if lang == 'es' else ''}{month_word}"
    return Clip(lang, "date", _join(lang, names, rng), f"--{month:02d}-{day:02d}", reference, tuple(names))


def _time(lang: str, rng: random.Random) -> Clip:
    hour = rng.randint(2, 11)
    words = {"en": (["digits/{h}", "digits/oclock"], "{h} o'clock"),
             "es": (["digits/at_s", "digits/{h}", "digits/oclock"], "a las {h} en punto"),
             "fr": (["digits/{h}", "digits/oclock"], "{h} heure"),
             "it": (["digits/at", "digits/{h}", "digits/oclock"], "alle {h} in punto"),
             "ru": (["digits/at", "digits/{h}", "digits/oclock"], "в {h} часов")}
    pattern, reference = words[lang]
    names = [n.format(h=hour) for n in pattern]
    return Clip(lang, "time", _join(lang, names, rng), f"{hour:02d}:00", reference.format(h=hour), tuple(names))


def _cut_word(lang: str, prompt: str, where: str) -> np.ndarray:
    """The first (or last) word of a prompt: cut at the quietest 10 ms frame 0.25-0.6 s from
    that end (the gap before the next word)."""
    audio = _load(lang, prompt)
    frame = 80
    n = len(audio) // frame
    rms = np.sqrt((audio[: n * frame].reshape(n, frame) ** 2).mean(axis=1))
    rms = np.convolve(rms, np.ones(3) / 3, mode="same")
    if where == "start":
        edge = 25 + int(np.argmin(rms[25:60]))
        return _trim(audio[: edge * frame])
    edge = n - 60 + int(np.argmin(rms[n - 60:n - 25]))
    return _trim(audio[edge * frame:])


def yes_no_clips(lang: str) -> list[Clip]:
    out = []
    for name, word, value in WHOLE_ANSWERS.get(lang, []):
        out.append(Clip(lang, "yes_no", _load(lang, name), value, word, (name,)))
    for name, word, value, where in ANSWER_CUTS.get(lang, []):
        if _has(lang, name):
            out.append(Clip(lang, "yes_no", _cut_word(lang, name, where), value, word, (f"{name}:{where}",)))
    return out


_BUILDERS = {"digits": _digits, "number": _number, "amount": _amount, "date": _date, "time": _time}


def build_clips(lang: str, counts: dict[str, int], seed: int = 12) -> list[Clip]:
    """``counts[kind]`` clips of each kind (yes_no: every available one, at most the count)."""
    rng = random.Random(f"{seed}-{lang}")
    clips: list[Clip] = []
    for kind in KINDS:
        n = counts.get(kind, 0)
        if not n:
            continue
        if kind == "yes_no":
            clips += yes_no_clips(lang)[:n]
        else:
            clips += [_BUILDERS[kind](lang, rng) for _ in range(n)]
    return clips
