"""Config loading/validation, device and batch-size choice, the encoder window, the kernel
feature extractor, the embedded voice's files, stub regeneration (no models are loaded)."""

from __future__ import annotations

import filecmp
import importlib.util

import numpy as np
import pytest

from voice.config import ConfigError, load_config
from voice.engines.devices import DeviceChoice, choose_batch_size, choose_device
from voice.runtime.models import ModelNotFound, embedded_voice_path, find_voice_files
from voice.testing.paths import ROOT


@pytest.mark.parametrize(
    "device, compute, cuda, expected",
    [
        ("auto", "auto", 0, ("cpu", "int8")),
        ("auto", "auto", 1, ("cuda", "float16")),
        ("cpu", "auto", 2, ("cpu", "int8")),
        ("cuda", "auto", 1, ("cuda", "float16")),
        ("auto", "int8_float16", 1, ("cuda", "int8_float16")),
        ("cpu", "float32", 0, ("cpu", "float32")),
    ],
)
def test_choose_device(device, compute, cuda, expected):
    choice = choose_device(device, compute, cuda)
    assert (choice.device, choice.compute_type) == expected


def test_choose_device_rejects_cuda_without_gpu():
    with pytest.raises(ValueError, match="no CUDA device"):
        choose_device("cuda", "auto", 0)
    with pytest.raises(ValueError, match="asr.device"):
        choose_device("tpu", "auto", 0)


def test_config_file_env_and_overrides(tmp_path):
    cfg_file = tmp_path / "voice.toml"
    cfg_file.write_text('[server]\nport = 6000\n[asr]\nbeam_size = 2\n[endpointing]\ntrailing_silence_ms = 400\n')
    cfg = load_config(cfg_file, env={"VOICE_ASR_MODEL": "tiny.en", "VOICE_CACHE_DIR": str(tmp_path)}, host="127.0.0.1")
    assert cfg.server.port == 6000 and cfg.server.host == "127.0.0.1"
    assert cfg.asr.beam_size == 2 and cfg.asr.model == "tiny.en"
    assert cfg.endpointing.trailing_silence_ms == 400
    assert cfg.cache_dir == tmp_path
    with pytest.raises(Exception):
        cfg.server.port = 1  # frozen


@pytest.mark.parametrize(
    "text, field",
    [
        ("[server]\nport = 70000\n", "server.port"),
        ("[asr]\nbeam_size = 0\n", "asr.beam_size"),
        ("[endpointing]\nvad_aggressiveness = 4\n", "endpointing.vad_aggressiveness"),
        ("[asr]\nunknown_key = 1\n", "unknown_key"),
        ("[bogus]\n", "bogus"),
        ("not toml ===", "not valid TOML"),
    ],
)
def test_config_errors_name_the_field(tmp_path, text, field):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=field):
        load_config(path, env={})


def test_config_missing_file():
    with pytest.raises(ConfigError, match="not found"):
        load_config("/nonexistent/voice.toml", env={})


def test_voice_files(tmp_path):
    onnx = embedded_voice_path()
    assert onnx.name == "en_US-joe-medium.onnx"
    assert find_voice_files([str(onnx.parent)]) == [onnx]
    lonely = tmp_path / "x.onnx"
    lonely.write_bytes(b"")
    with pytest.raises(ModelNotFound, match="no config"):
        find_voice_files([str(lonely)])


def test_regenerating_stubs_leaves_no_diff(tmp_path):
    spec = importlib.util.spec_from_file_location("gen_protos", ROOT / "tools" / "gen_protos.py")
    gen_protos = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_protos)
    written = gen_protos.generate(tmp_path)
    committed = ROOT / "clients" / "voice_api" / "v1"
    names = sorted(p.name for p in written)
    assert names == sorted(p.name for p in committed.iterdir() if p.is_file()), \
        "clients/voice_api/v1 must hold generated files only"
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "voice_api" / "v1", committed, names, shallow=False)
    assert not mismatch and not errors, f"stale generated stubs: {mismatch or errors}; run `make protos`"


def test_encoder_window():
    from voice.engines.limits import encoder_window

    assert encoder_window(16000 * 4, 15) == 1500  # short audio: the minimum window
    assert encoder_window(16000 * 14, 15) == 1700  # audio + 3 s, whole seconds
    assert encoder_window(16000 * 29, 15) == 3000  # never more than Whisper's 30 s
    assert encoder_window(16000 * 4, 30) == 3000


def test_kernel_feature_extractor_matches_faster_whisper():
    from faster_whisper.feature_extractor import FeatureExtractor

    from voice.engines.fw_compat import KernelFeatureExtractor

    rng = np.random.default_rng(3)
    audio = (rng.standard_normal(16000 * 3 + 77) * 0.1).astype(np.float32)
    for n_mels in (80, 128):
        ref = FeatureExtractor(feature_size=n_mels)
        ours = KernelFeatureExtractor(FeatureExtractor(feature_size=n_mels))
        np.testing.assert_allclose(ours(audio), ref(audio), atol=1e-4)
        np.testing.assert_allclose(ours(audio, chunk_length=10), ref(audio, chunk_length=10), atol=1e-4)
        assert ours.nb_max_frames == ref.nb_max_frames == 1000
        np.testing.assert_allclose(ours(audio, padding=0), ref(audio, padding=0), atol=1e-4)


def test_choose_batch_size():
    assert choose_batch_size(0, DeviceChoice("cuda", "float16")) == 8
    assert choose_batch_size(0, DeviceChoice("cpu", "int8")) == 1
    assert choose_batch_size(3, DeviceChoice("cpu", "int8")) == 3
    assert choose_batch_size(16, DeviceChoice("cuda", "float16")) == 16


def test_deterministic_config_from_toml(tmp_path):
    from voice.config import load_config

    path = tmp_path / "voice.toml"
    path.write_text("[tts]\ndeterministic = true\n")
    assert load_config(path, env={}).tts.deterministic
    assert not load_config(None, env={}).tts.deterministic
