"""Voice choice by measured intelligibility: the WER table, the catalogue's ranking, install checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from voice.config import load_config
from voice.engines.voices import (
    ESPEAK_ENGINE,
    KOKORO_ENGINE,
    WER_TABLE,
    VoiceCatalogue,
    VoiceInfo,
    load_wer_tables,
)
from voice.runtime.models import VoiceFileError, install_voice


def _v(name, language, engine="piper", accented=False, quality="medium"):
    return VoiceInfo(name=name, language=language, sample_rate=22050, quality=quality, num_speakers=1,
                     model_path=None, neural=engine != ESPEAK_ENGINE, engine=engine, accented=accented)


VOICES = [
    _v("en_US-joe-medium", "en-US"),
    _v("kokoro-a-es", "es", KOKORO_ENGINE, accented=True),
    _v("kokoro-b-es", "es", KOKORO_ENGINE, accented=True),
    _v("kokoro-a-de", "de", KOKORO_ENGINE, accented=True),
]
FALLBACKS = [_v("espeak-es", "es", ESPEAK_ENGINE, quality="fallback"),
             _v("espeak-de", "de", ESPEAK_ENGINE, quality="fallback"),
             _v("espeak-hi", "hi", ESPEAK_ENGINE, quality="fallback")]


def test_language_picks_the_lowest_measured_wer():
    wer = {"kokoro-a-es": 0.12, "kokoro-b-es": 0.04, "espeak-es": 0.45, "kokoro-a-de": 0.62, "espeak-de": 0.41}
    cat = VoiceCatalogue(VOICES, FALLBACKS, wer=wer)
    assert cat.for_language("es").name == "kokoro-b-es"  # not the first found
    assert cat.for_language("es-MX").name == "kokoro-b-es"
    assert cat.for_language("de").name == "espeak-de"  # a fallback that is understood better wins
    assert cat.get("kokoro-b-es").wer == 0.04 and cat.get("en_US-joe-medium").wer is None
    assert cat.default.name == "en_US-joe-medium"
    assert cat.select(language="es").name == "kokoro-b-es"
    assert cat.select(name="kokoro-a-es").name == "kokoro-a-es"  # a name still picks that voice


def test_unmeasured_voices_rank_by_label():
    cat = VoiceCatalogue(VOICES, FALLBACKS, wer={})
    # nothing measured: neural before accented before fallback, then the old order
    assert cat.for_language("es").name == "kokoro-a-es"
    assert cat.for_language("hi").name == "espeak-hi"
    native = _v("es_ES-x-medium", "es-ES")
    # an operator's native voice takes its language until it is measured badly
    cat = VoiceCatalogue([*VOICES, native], FALLBACKS, wer={"kokoro-b-es": 0.04})
    assert cat.for_language("es").name == "es_ES-x-medium"
    cat = VoiceCatalogue([*VOICES, native], FALLBACKS, wer={"kokoro-b-es": 0.04, "es_ES-x-medium": 0.25})
    assert cat.for_language("es").name == "kokoro-b-es"
    # among accented voices, a measured one beats an unmeasured guess and vice versa
    cat = VoiceCatalogue(VOICES, FALLBACKS, wer={"kokoro-b-es": 0.5})
    assert cat.for_language("es").name == "kokoro-a-es"
    assert [v.label for v in (native, VOICES[1], FALLBACKS[0])] == ["neural", "neural, accented", "fallback"]


def test_wer_tables_merge_and_the_shipped_one_reads(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"voices": {"x": {"language": "es", "wer": 0.2}, "y": {"language": "es", "wer": 0.3}}}))
    b.write_text(json.dumps({"voices": {"y": {"language": "es", "wer": 0.1}, "z": {"note": "no wer"}}}))
    assert load_wer_tables([a, b, tmp_path / "missing.json"]) == {"x": 0.2, "y": 0.1}
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="bad.json"):
        load_wer_tables([tmp_path / "bad.json"])
    shipped = load_wer_tables([WER_TABLE])
    assert shipped and all(0 <= w <= 2 for w in shipped.values())


def test_config_keys():
    cfg = load_config(env={})
    assert cfg.tts.kokoro and cfg.tts.kokoro_model == "" and "es" in cfg.tts.kokoro_languages


def test_install_validates_before_writing(tmp_path):
    dest = tmp_path / "voices"
    pack = np.random.default_rng(0).normal(0, 0.3, (510, 1, 256)).astype(np.float32)
    pack.tofile(tmp_path / "raw.bin")
    written = install_voice(tmp_path / "raw.bin", dest, language="es", name="ef_mine")
    assert [p.name for p in written] == ["ef_mine.bin", "ef_mine.bin.json"]
    assert json.loads(Path(written[1]).read_text()) == {"language": "es"}
    with pytest.raises(VoiceFileError, match="already installed"):
        install_voice(tmp_path / "raw.bin", dest, name="ef_mine")
    np.zeros(10, np.float32).tofile(tmp_path / "bad.bin")
    with pytest.raises(VoiceFileError, match="522240"):
        install_voice(tmp_path / "bad.bin", dest)
    with pytest.raises(VoiceFileError, match="language"):
        install_voice(tmp_path / "raw.bin", dest, language="ja", name="jf_x")
    (tmp_path / "v.onnx").write_bytes(b"not onnx")
    with pytest.raises(VoiceFileError, match="onnx.json"):
        install_voice(tmp_path / "v.onnx", dest)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(VoiceFileError, match="neither"):
        install_voice(tmp_path / "notes.txt", dest)
    assert sorted(p.name for p in (dest / "kokoro").iterdir()) == ["ef_mine.bin", "ef_mine.bin.json"]


def test_a_native_voice_that_is_understood_keeps_its_language():
    voices = [_v("en_US-joe-medium", "en-US"), _v("kokoro-j-en-US", "en-US", KOKORO_ENGINE, accented=True)]
    cat = VoiceCatalogue(voices, [], wer={"en_US-joe-medium": 0.06, "kokoro-j-en-US": 0.0})
    assert cat.for_language("en").name == "en_US-joe-medium"  # within the 15 % goal: kept
    cat = VoiceCatalogue(voices, [], wer={"en_US-joe-medium": 0.30, "kokoro-j-en-US": 0.05})
    assert cat.for_language("en").name == "kokoro-j-en-US"  # a native voice nobody understands is not
    # no native neural voice: the lowest WER wins outright, even by a hair over a fallback
    cat = VoiceCatalogue(VOICES, FALLBACKS, wer={"kokoro-a-de": 0.40, "espeak-de": 0.41})
    assert cat.for_language("de").name == "kokoro-a-de"
