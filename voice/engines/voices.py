"""The voice catalogue: Piper voices, Kokoro voice packs, and an espeak-ng fallback per language.

Knows voices without loading them (:class:`VoiceInfo` from a voice's ``.onnx.json``, from a
Kokoro pack file (:mod:`voice.engines.kokoro`), or from espeak-ng's language files that
piper-tts ships); picks one by name or by language, the latter by measured intelligibility:
``voice_wer.json`` (written by ``bench/voices.py``) holds each voice's round-trip word error
rate through our ASR, and the voice with the lowest one speaks the language.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from ..core.languages import base_language, normalize_bcp47
from .piper_compat import espeak_data_dir

ESPEAK_ENGINE = "espeak-ng"
PIPER_ENGINE = "piper"
KOKORO_ENGINE = "kokoro"
LABEL_NEURAL = "neural"
LABEL_ACCENTED = "neural, accented"
LABEL_FALLBACK = "fallback"
# the measured round-trip WER of every shipped voice (bench/voices.py writes it)
WER_TABLE = Path(__file__).with_name("voice_wer.json")
# a voice nobody measured (an operator's, until bench/voices.py is run) ranks as if it had
# this WER: a native neural voice before an accented one before a fallback
UNMEASURED_WER = {LABEL_NEURAL: 0.15, LABEL_ACCENTED: 0.35, LABEL_FALLBACK: 0.6}
# a native neural voice understood at least this well (the goal for a product voice) keeps
# its language ahead of any accented one, however much better that one measures
GOOD_WER = 0.15
ESPEAK_RATE = 22050
ESPEAK_PREFIX = "espeak-"


def wer_rank(label: str, wer: float) -> tuple[bool, float]:
    """The first sort keys of a voice for its language (lower is better): a native neural voice
    within :data:`GOOD_WER` first, then the round-trip WER."""
    return (not (label == LABEL_NEURAL and wer <= GOOD_WER), round(wer, 4))


@dataclass(frozen=True)
class VoiceInfo:
    name: str
    language: str  # BCP-47, e.g. "en-US"
    sample_rate: int
    quality: str
    num_speakers: int
    model_path: Path | None
    neural: bool = True
    engine: str = PIPER_ENGINE
    speakers: tuple[str, ...] = ()  # speaker names by id (multi-speaker voices)
    espeak_voice: str = ""  # espeak-ng voice used to phonemise / to speak
    accented: bool = False  # speaks a language other than its own (a Kokoro pack abroad)
    wer: float | None = None  # measured round-trip WER through our ASR (None: not measured)
    pack: str = ""  # Kokoro: the voice pack's name (its key in an .npz)
    pack_path: Path | None = None  # Kokoro: the file holding the pack

    @property
    def base_language(self) -> str:
        return base_language(self.language)

    @property
    def label(self) -> str:
        """``neural``, ``neural, accented`` or ``fallback``."""
        if not self.neural:
            return LABEL_FALLBACK
        return LABEL_ACCENTED if self.accented else LABEL_NEURAL

    @property
    def expected_wer(self) -> float:
        """The measured WER, else the guess for its label (used to rank voices of a language)."""
        return self.wer if self.wer is not None else UNMEASURED_WER[self.label]


def read_voice_info(onnx: Path) -> VoiceInfo:
    with open(f"{onnx}.json", encoding="utf-8") as fh:
        cfg = json.load(fh)
    lang = cfg.get("language", {}).get("code") or cfg.get("espeak", {}).get("voice", "")
    name = onnx.name[: -len(".onnx")] if onnx.name.endswith(".onnx") else onnx.stem
    speaker_map = cfg.get("speaker_id_map") or {}
    speakers = tuple(n for n, _ in sorted(speaker_map.items(), key=lambda kv: kv[1]))
    return VoiceInfo(
        name=name,
        language=normalize_bcp47(lang),
        sample_rate=int(cfg["audio"]["sample_rate"]),
        quality=str(cfg["audio"].get("quality", "")),
        num_speakers=int(cfg.get("num_speakers", 1)),
        model_path=onnx,
        speakers=speakers,
        espeak_voice=cfg.get("espeak", {}).get("voice", ""),
    )


def espeak_voices(data_dir: Path | None = None) -> list[VoiceInfo]:
    """One fallback voice per espeak-ng language file (``lang/<family>/<name>``)."""
    data_dir = data_dir or espeak_data_dir()
    voices = []
    for path in sorted((data_dir / "lang").glob("**/*")):
        if not path.is_file():
            continue
        language = ""
        try:
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "language":
                    language = parts[1]
                    break
        except OSError:
            continue
        if not language or "-x-" in path.name:
            continue
        # BCP-47 casing: "en-us" -> "en-US", "pt-br" -> "pt-BR"
        bits = language.split("-")
        bcp = "-".join([bits[0].lower()] + [b.upper() if len(b) == 2 else b for b in bits[1:]])
        voices.append(VoiceInfo(
            name=f"{ESPEAK_PREFIX}{path.name}", language=bcp, sample_rate=ESPEAK_RATE, quality="fallback",
            num_speakers=1, model_path=None, neural=False, engine=ESPEAK_ENGINE, espeak_voice=path.name))
    return voices


def load_wer_tables(paths: list[Path] | tuple[Path, ...] = (WER_TABLE,)) -> dict[str, float]:
    """Voice name -> measured WER from ``bench/voices.py`` tables (later files win; missing
    files are skipped). Format: ``{"voices": {name: {"language": ..., "wer": 0.04, ...}}}``."""
    table: dict[str, float] = {}
    for path in paths:
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:
            raise ValueError(f"voice WER table {path} is unreadable: {exc}") from None
        for name, entry in (data.get("voices") or {}).items():
            if isinstance(entry, dict) and isinstance(entry.get("wer"), (int, float)):
                table[name] = float(entry["wer"])
    return table


# Whisper language codes whose espeak-ng name differs
_LANGUAGE_ALIASES = {"zh": "cmn", "jw": "jv", "haw": "haw", "nn": "nb", "no": "nb"}
_QUALITY = {"high": 0, "medium": 1, "low": 2, "x_low": 3}


class VoiceCatalogue:
    """Every configured voice, by name; the first is the default. Fallbacks come last.

    ``wer``: measured round-trip WER by voice name (default: the shipped ``voice_wer.json``);
    it is set on each voice (:attr:`VoiceInfo.wer`) and ranks the voices of a language.
    """

    def __init__(self, voices: list[VoiceInfo], fallbacks: bool | list[VoiceInfo] = True,
                 wer: dict[str, float] | None = None):
        if not voices:
            raise ValueError("at least one voice is required")
        wer = load_wer_tables() if wer is None else wer
        extra = espeak_voices() if fallbacks is True else (fallbacks or [])
        self._voices: dict[str, VoiceInfo] = {}
        for v in [*voices, *extra]:
            if v.name not in self._voices:
                self._voices[v.name] = replace(v, wer=wer[v.name]) if v.name in wer and v.wer is None else v
        self.default = self._voices[voices[0].name]

    def __iter__(self):
        return iter(self._voices.values())

    def get(self, name: str) -> VoiceInfo:
        try:
            return self._voices[name]
        except KeyError:
            neural = [v.name for v in self._voices.values() if v.neural]
            raise KeyError(f"voice {name!r} is unknown (neural voices: {', '.join(neural)}; "
                           f"fallbacks: {ESPEAK_PREFIX}<language>, see ListVoices)") from None

    def for_language(self, language: str) -> VoiceInfo | None:
        """Best voice for a BCP-47 code: lowest measured round-trip WER (an unmeasured voice counts
        as :data:`UNMEASURED_WER` of its label), except that a native neural voice within
        :data:`GOOD_WER` comes before every other; then exact region, quality, the default."""
        want = normalize_bcp47(language).lower()
        base = base_language(language)
        base = _LANGUAGE_ALIASES.get(base, base)
        same = [v for v in self._voices.values() if v.base_language == base]
        if not same:
            return None

        def rank(v: VoiceInfo):
            return (*wer_rank(v.label, v.expected_wer), v.language.lower() != want, _QUALITY.get(v.quality, 4),
                    v.name != self.default.name, "-" in v.language and "-" not in want)

        return sorted(same, key=rank)[0]

    def select(self, name: str = "", language: str = "") -> VoiceInfo:
        if name:
            return self.get(name)
        if language:
            voice = self.for_language(language)
            if voice is None:
                raise KeyError(f"no voice for language_code {language!r} (not even an espeak-ng fallback)")
            return voice
        return self.default


