"""`voice voices add`: an operator's Piper voice or Kokoro pack is validated, installed, listed,
selectable by language, and speaks; a broken file is refused with the reason."""

from __future__ import annotations

import json
import shutil
import zipfile

import numpy as np
import pytest

from voice.cli import main
from voice.config import load_config
from voice.runtime.models import assemble_kokoro, embedded_kokoro_packs, embedded_voice_path
from voice.testing.paths import CACHE_DIR


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("voices")
    cfg = root / "voice.toml"
    # the Kokoro model from an operator's directory (here: where the embedded one was joined)
    model_dir = assemble_kokoro(CACHE_DIR).parent
    cfg.write_text(f'cache_dir = "{CACHE_DIR}"\n[tts]\nvoices_dir = "{root / "installed"}"\n'
                   f'kokoro_model = "{model_dir}"\n')
    with np.load(embedded_kokoro_packs()) as npz:
        kumo = npz["jm_kumo"]
    return root, cfg, kumo


def _cli(cfg, *args, capsys):
    rc = main(["--config", str(cfg), "--log-level", "WARNING", "voices", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_kokoro_pack_in_each_upstream_format(setup, capsys):
    root, cfg, kumo = setup
    # onnx-community's raw float32 .bin, named like an upstream Hindi voice
    kumo.astype("<f4").tofile(root / "hm_test.bin")
    rc, out, err = _cli(cfg, "add", str(root / "hm_test.bin"), capsys=capsys)
    assert rc == 0, err
    assert "installed" in out and "kokoro-hm_test-hi" in out and "neural " in out
    # a torch .pt (the layout torch.save writes), declared Spanish
    with zipfile.ZipFile(root / "voice.pt", "w") as zf:
        zf.writestr("voice/data.pkl", b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\nctorch\nFloatStorage\n.")
        zf.writestr("voice/data/0", kumo.astype("<f4").tobytes())
    rc, out, err = _cli(cfg, "add", str(root / "voice.pt"), "--name", "my_es", "--language", "es", capsys=capsys)
    assert rc == 0, err
    assert "kokoro-my_es-es" in out
    # an .npz of packs (kokoro-onnx's voices file)
    np.savez(root / "pack.npz", ef_one=kumo, if_two=kumo)
    rc, out, err = _cli(cfg, "add", str(root / "pack.npz"), capsys=capsys)
    assert rc == 0, err
    assert "kokoro-ef_one-es" in out and "kokoro-if_two-it" in out
    # listed, with labels; the Hindi pack is the best Hindi voice (neural beats the fallback)
    rc, out, _ = _cli(cfg, "list", "--language", "hi", "--json", capsys=capsys)
    rows = [json.loads(line) for line in out.splitlines()]
    hindi = next(r for r in rows if r["name"] == "kokoro-hm_test-hi")
    assert hindi["engine"] == "kokoro" and hindi["label"] == "neural" and hindi["best_for_language"]
    assert any(r["name"] == "espeak-hi" and r["label"] == "fallback" for r in rows)


def test_bad_files_are_refused(setup, capsys):
    root, cfg, kumo = setup
    kumo[:100].astype("<f4").tofile(root / "short.bin")
    rc, _, err = _cli(cfg, "add", str(root / "short.bin"), capsys=capsys)
    assert rc == 2 and "522240 bytes" in err
    np.save(root / "f16.npy", kumo.astype(np.float16))
    rc, _, err = _cli(cfg, "add", str(root / "f16.npy"), capsys=capsys)
    assert rc == 2 and "float32" in err
    (root / "fake.onnx").write_bytes(b"\0" * 100)
    shutil.copyfile(f"{embedded_voice_path()}.json", root / "fake.onnx.json")
    rc, _, err = _cli(cfg, "add", str(root / "fake.onnx"), capsys=capsys)
    assert rc == 2 and "not a loadable ONNX model" in err
    rc, _, err = _cli(cfg, "add", str(root / "missing.onnx"), capsys=capsys)
    assert rc == 2 and "no such file" in err
    installed = root / "installed"
    assert not (installed / "piper").exists() or not list((installed / "piper").glob("fake*"))


def test_piper_voice_is_installed_and_speaks(setup, capsys, tmp_path):
    root, cfg, _ = setup
    src = tmp_path / "en_GB-operator-medium.onnx"
    shutil.copyfile(embedded_voice_path(), src)
    config = json.loads(open(f"{embedded_voice_path()}.json", encoding="utf-8").read())
    config["language"] = {"code": "en_GB"}
    (tmp_path / "en_GB-operator-medium.onnx.json").write_text(json.dumps(config))
    rc, out, err = _cli(cfg, "add", str(src), capsys=capsys)
    assert rc == 0, err
    assert "en_GB-operator-medium" in out and "piper" in out
    rc, _, err = _cli(cfg, "add", str(src), capsys=capsys)
    assert rc == 2 and "already installed" in err
    # the engine of that config knows it, by name and by its language
    from voice.runtime.engine import SpeechEngine
    from voice.service.types import SynthesisRequest

    engine = SpeechEngine(load_config(cfg))
    try:
        voice = engine.catalogue.get("en_GB-operator-medium")
        assert voice.language == "en-GB" and voice.label == "neural"
        assert engine.catalogue.for_language("hi").name == "kokoro-hm_test-hi"
        pool = engine.synthesizer(engine.catalogue.get("kokoro-my_es-es"))
        assert pool.model.model_path.parent == assemble_kokoro(CACHE_DIR).parent
        assert pool.render("Hola.").size > 0.3 * 24000
        import asyncio

        from voice.service import VoiceService

        engine.ready.set()
        service = VoiceService(engine)
        result = asyncio.run(service.synthesis.synthesize(SynthesisRequest(
            text="Hello.", voice="en_GB-operator-medium", container="wav")))
        assert result.voice == "en_GB-operator-medium" and result.audio[:4] == b"RIFF"
    finally:
        engine.close()
