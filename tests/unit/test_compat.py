"""The libraries' internals we rely on are all there, and their absence fails loudly, naming
the one module that uses them (voice.engines.fw_compat / voice.engines.piper_compat)."""

from __future__ import annotations

import pytest

from voice.engines import fw_compat, piper_compat


def test_installed_faster_whisper_has_every_internal_we_use():
    fw_compat.check()
    assert fw_compat.version().split(".")[:2] >= ["1", "1"]
    assert {"en", "fr", "es", "de", "it"} <= fw_compat.whisper_languages()


def test_a_missing_faster_whisper_internal_names_the_compat_module(monkeypatch):
    import faster_whisper.transcribe

    monkeypatch.delattr(faster_whisper.transcribe, "get_compression_ratio")
    with pytest.raises(fw_compat.WhisperInternalsChanged, match="voice.engines.fw_compat") as err:
        fw_compat.check()
    assert "faster_whisper.transcribe.get_compression_ratio" in str(err.value)


def test_a_missing_ctranslate2_method_names_the_compat_module(monkeypatch):
    import ctranslate2.models

    monkeypatch.delattr(ctranslate2.models.Whisper, "detect_language")
    with pytest.raises(fw_compat.WhisperInternalsChanged, match="Whisper.detect_language"):
        fw_compat.check()


def test_short_window_is_scoped_to_the_block():
    import faster_whisper.transcribe as fw
    import numpy as np

    fw_compat.install_short_window()
    fw_compat.install_short_window()  # idempotent
    mel = np.zeros((80, 500), np.float32)
    assert fw.pad_or_trim(mel).shape[-1] == fw_compat.FULL_WINDOW
    with fw_compat.short_window(1500):
        assert fw.pad_or_trim(mel).shape[-1] == 1500
        assert fw.pad_or_trim(mel, 700).shape[-1] == 700  # explicit lengths are left alone
    assert fw.pad_or_trim(mel).shape[-1] == fw_compat.FULL_WINDOW


def test_hypotheses_are_scoped_to_the_block():
    """n-best: inside ``hypotheses`` (this thread) a beam search returns and records several
    hypotheses, capped at its beam; outside, and for sampling, calls pass through unchanged."""
    from types import SimpleNamespace

    class Whisper:  # what the wrapper sees of CTranslate2's Whisper
        is_multilingual = True

        def __init__(self):
            self.calls = []

        def generate(self, features, prompts, **kwargs):
            self.calls.append(kwargs)
            n = kwargs.get("num_hypotheses", 1)
            return [SimpleNamespace(sequences_ids=[[i] for i in range(n)], scores=[-0.1 * (i + 1) for i in range(n)])]

    model = SimpleNamespace(model=Whisper())
    inner = model.model
    fw_compat.install_hypotheses(model)
    fw_compat.install_hypotheses(model)  # idempotent
    assert model.model.is_multilingual and model.model._inner is inner
    model.model.generate(None, [[1]], beam_size=5)
    assert "num_hypotheses" not in inner.calls[-1]
    with fw_compat.hypotheses(8) as calls:
        result = model.model.generate(None, [[1]], beam_size=5)[0]
        model.model.generate(None, [[1]], beam_size=1, num_hypotheses=5, sampling_temperature=0.4)
    assert inner.calls[-2]["num_hypotheses"] == 5  # at most the beam
    assert inner.calls[-1]["num_hypotheses"] == 5 and len(calls) == 1  # sampling: faster-whisper's best_of
    assert calls[0] == [([i], pytest.approx(-0.1 * (i + 1))) for i in range(5)]
    assert result.sequences_ids[0] == [0]  # faster-whisper reads the same best
    model.model.generate(None, [[1]], beam_size=5)
    assert "num_hypotheses" not in inner.calls[-1]


def test_installed_piper_has_every_internal_we_use():
    piper_compat.check()
    assert (piper_compat.espeak_data_dir() / "lang").is_dir()
    assert piper_compat.espeak_lock() is piper_compat.espeak_lock()


def test_a_missing_piper_internal_names_the_compat_module(monkeypatch):
    import piper.voice

    monkeypatch.delattr(piper.voice, "_ESPEAK_PHONEMIZER_LOCK")
    with pytest.raises(piper_compat.PiperInternalsChanged, match="voice.engines.piper_compat.*_ESPEAK_PHONEMIZER_LOCK"):
        piper_compat.check()
