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


def test_installed_piper_has_every_internal_we_use():
    piper_compat.check()
    assert (piper_compat.espeak_data_dir() / "lang").is_dir()
    assert piper_compat.espeak_lock() is piper_compat.espeak_lock()


def test_a_missing_piper_internal_names_the_compat_module(monkeypatch):
    import piper.voice

    monkeypatch.delattr(piper.voice, "_ESPEAK_PHONEMIZER_LOCK")
    with pytest.raises(piper_compat.PiperInternalsChanged, match="voice.engines.piper_compat.*_ESPEAK_PHONEMIZER_LOCK"):
        piper_compat.check()
