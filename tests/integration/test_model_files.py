"""The embedded Whisper models on disk: base assembled once and atomically, names and paths
resolved to CTranslate2 directories."""

from __future__ import annotations

import pytest

from voice.runtime.models import (
    ModelNotFound,
    assemble_whisper_base,
    resolve_whisper_model,
)


def test_whisper_base_assembled_once_atomically(tmp_path):
    path = assemble_whisper_base(tmp_path)
    assert {"model.bin", "config.json", "tokenizer.json", "vocabulary.json"} <= {p.name for p in path.iterdir()}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary dir left behind"
    stamp = (path / "model.bin").stat().st_mtime_ns
    assert assemble_whisper_base(tmp_path) == path
    assert (path / "model.bin").stat().st_mtime_ns == stamp, "reassembled although complete"
    # a truncated model.bin (interrupted copy by an older tool, disk full...) is rebuilt
    size = (path / "model.bin").stat().st_size
    with open(path / "model.bin", "r+b") as fh:
        fh.truncate(size // 2)
    assemble_whisper_base(tmp_path)
    assert (path / "model.bin").stat().st_size == size


def test_resolve_models(tmp_path):
    assert (resolve_whisper_model("tiny.en", tmp_path) / "model.bin").is_file()
    base = resolve_whisper_model("base", tmp_path)
    # any local CTranslate2 directory works, by path or by configured name
    assert resolve_whisper_model(str(base), tmp_path) == base
    assert resolve_whisper_model("mine", tmp_path, {"mine": str(base)}) == base
    with pytest.raises(ModelNotFound, match="neither a known name"):
        resolve_whisper_model("/no/such/model", tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFound, match="missing config.json"):
        resolve_whisper_model(str(tmp_path / "empty"), tmp_path)
