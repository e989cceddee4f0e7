"""smart-turn v3.2 end-of-turn model (voice.engines.turn): fetched by tools/fetch_smart_turn.py,
features identical to pipecat's own extractor, and sensible on real recorded speech.

Needs the model in the checkout's cache (``make test`` fetches it; so does this module when it
is missing), the Debian prompts, and the package registry (pipecat's extractor is read from
the pinned pipecat-ai wheel, pip's cache serving repeats).
Run with ``-s`` to see the figures.
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voice.core.audio import resample
from voice.engines import turn as turn_mod
from voice.engines.turn import (
    SmartTurn,
    default_model_dir,
    features,
    find_model,
    fit_window,
)
from voice.testing.paths import CACHE_DIR, ROOT
from voice.testing.prompts import pick_prompts

PIPECAT_FEATURES = "pipecat/audio/turn/smart_turn/_whisper_features.py"
TRAILING_SILENCE_S = 0.2  # what pipecat's VAD (stop_secs 0.2) hands smart-turn after speech


def _load_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tool():
    return _load_module("fetch_smart_turn", ROOT / "tools" / "fetch_smart_turn.py")


@pytest.fixture(scope="module")
def model_path(tool) -> Path:
    """The model in the tests' cache; fetched there first when missing (as the test servers
    assemble Whisper base there), e.g. when only ``pytest`` is run."""
    path = find_model(CACHE_DIR)
    if path is None:
        try:
            tool.fetch(CACHE_DIR, quiet=True)
        except (OSError, RuntimeError) as exc:
            pytest.fail(f"smart-turn model missing under {default_model_dir(CACHE_DIR)} and "
                        f"fetching it failed ({exc}): run `make test`")
        path = find_model(CACHE_DIR)
    assert path is not None
    return path


@pytest.fixture(scope="module")
def smart_turn(model_path) -> SmartTurn:
    return SmartTurn(model_path, threads=1)


@pytest.fixture(scope="module")
def pipecat(tool, tmp_path_factory):
    """pipecat's ``_whisper_features`` module, from the pinned wheel, imported by file path
    (it needs numpy only)."""
    tmp = tmp_path_factory.mktemp("pipecat")
    wheel = tool.download_wheel(tmp)
    with zipfile.ZipFile(wheel) as zf:
        zf.extract(PIPECAT_FEATURES, tmp / "src")
    return _load_module("pipecat_whisper_features", tmp / "src" / PIPECAT_FEATURES)


def pipecat_fit_window(audio: np.ndarray, n_seconds: int = 8, sample_rate: int = 16000) -> np.ndarray:
    """A numpy transcription of pipecat's ``truncate_audio_to_last_n_seconds`` (nested in
    ``LocalSmartTurnAnalyzerV3._predict_endpoint``, local_smart_turn_v3.py, whose module
    imports onnxruntime, soxr, loguru and pipecat, so it is not imported here): keep the last
    8 s, or zero-pad at the beginning to 8 s."""
    max_samples = n_seconds * sample_rate
    if len(audio) > max_samples:
        return audio[-max_samples:]
    if len(audio) < max_samples:
        return np.pad(audio, (max_samples - len(audio), 0), mode="constant", constant_values=0)
    return audio


def _load16(path: Path) -> np.ndarray:
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    return resample(np.ascontiguousarray(audio.mean(axis=1)), rate, 16000)


def _frame_energy_db(audio: np.ndarray) -> np.ndarray:
    frames = audio[: audio.size // 160 * 160].reshape(-1, 160)
    return 10 * np.log10((frames.astype(np.float64) ** 2).mean(axis=1) + 1e-12)


def _speech_span(audio: np.ndarray, floor_db: float = 40.0) -> tuple[int, int]:
    """First and one-past-last 10 ms frame within ``floor_db`` of the loudest one."""
    energy = _frame_energy_db(audio)
    loud = np.flatnonzero(energy > energy.max() - floor_db)
    return int(loud[0]), int(loud[-1]) + 1


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * 16000), np.float32)


@pytest.fixture(scope="module")
def utterances():
    """(prompt, whole, cut, as recorded): whole = the recording up to its last speech frame +
    200 ms of silence; cut = the same cut at the loudest 10 ms frame between 35 % and 65 % of
    the speech (inside a vowel: mid-word) + the same silence."""
    out = []
    for lang, count in (("en", 6), ("es", 4)):
        prompts = pick_prompts(lang, count)
        assert len(prompts) == count, f"only {len(prompts)} {lang} prompts"
        for prompt in prompts:
            audio = _load16(prompt.path)
            first, last = _speech_span(audio)
            energy = _frame_energy_db(audio)
            lo, hi = first + int(0.35 * (last - first)), first + int(0.65 * (last - first))
            peak = lo + int(np.argmax(energy[lo:hi]))
            whole = np.concatenate([audio[: last * 160], _silence(TRAILING_SILENCE_S)])
            cut = np.concatenate([audio[: peak * 160 + 80], _silence(TRAILING_SILENCE_S)])
            out.append((prompt, whole, cut, audio))
    return out


# ---------------------------------------------------------------------------- the download


def test_tool_and_engine_agree(tool, monkeypatch):
    from voice import config

    assert tool.MODEL_DIR_NAME == turn_mod.MODEL_DIR_NAME
    assert tool.MODEL_FILE == turn_mod.MODEL_FILE
    for env in ({"VOICE_CACHE_DIR": "/some/where"}, {"XDG_CACHE_HOME": "/xdg"}, {}):
        for key in ("VOICE_CACHE_DIR", "XDG_CACHE_HOME"):
            monkeypatch.delenv(key, raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        assert tool.default_cache_dir() == config._default_cache_dir(), env
    assert default_model_dir(Path("/c")) == Path("/c/smart-turn-v3.2")
    assert find_model(Path("/no/such/dir")) is None
    assert find_model(None) is None


def test_fetch_is_atomic_verified_and_idempotent(tool, tmp_path):
    target = tool.fetch(tmp_path, quiet=True)
    assert target == default_model_dir(tmp_path)
    assert sorted(p.name for p in target.iterdir()) == ["LICENSE", "smart-turn-v3.2-cpu.onnx"]
    assert "BSD 2-Clause" in (target / "LICENSE").read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["smart-turn-v3.2"], "temporary dir left behind"
    assert find_model(tmp_path) == target / "smart-turn-v3.2-cpu.onnx"
    stamp = (target / "smart-turn-v3.2-cpu.onnx").stat().st_mtime_ns
    start = time.perf_counter()
    assert tool.main(["--cache-dir", str(tmp_path), "--quiet"]) == 0
    assert time.perf_counter() - start < 2.0
    assert (target / "smart-turn-v3.2-cpu.onnx").stat().st_mtime_ns == stamp, "fetched again"
    # a damaged model (interrupted copy by hand, disk error) is replaced
    with open(target / "smart-turn-v3.2-cpu.onnx", "r+b") as fh:
        fh.truncate(1000)
    assert not tool.is_complete(target)
    tool.fetch(tmp_path, quiet=True)
    assert tool.is_complete(target)
    assert [p.name for p in tmp_path.iterdir()] == ["smart-turn-v3.2"]


# ---------------------------------------------------------------------------- the features


def test_filterbank_is_pipecats(pipecat):
    import kernels

    ours = turn_mod._slaney_mel_filterbank()
    assert ours.shape == pipecat._MEL_FILTERS.shape == (201, 80)
    np.testing.assert_array_equal(ours, pipecat._MEL_FILTERS)  # bit for bit
    # the kernels' float32 filterbank is the same one rounded (not used: see voice.engines.turn)
    np.testing.assert_allclose(kernels.mel_filters(80).T, ours, rtol=1e-5, atol=1e-7)


def test_window_fit_is_pipecats():
    rng = np.random.default_rng(0)
    for n in (1, 1600, 127999, 128000, 128001, 200000):
        audio = rng.standard_normal(n).astype(np.float32)
        np.testing.assert_array_equal(fit_window(audio), pipecat_fit_window(audio))


def test_features_match_pipecat(pipecat, smart_turn, utterances):
    rng = np.random.default_rng(1)
    long = np.concatenate([u[3] for u in utterances[:3]])  # > 8 s: the last 8 s are used
    cases = {
        "silence 1 s": _silence(1.0),
        "noise 0.3 s": (0.1 * rng.standard_normal(4800)).astype(np.float32),
        "noise 8 s": (0.1 * rng.standard_normal(128000)).astype(np.float32),
        f"speech {long.size / 16000:.1f} s": long,
    }
    for prompt, whole, cut, _ in utterances[:4]:
        cases[f"{prompt.lang}/{prompt.name} whole"] = whole
        cases[f"{prompt.lang}/{prompt.name} cut"] = cut
    worst = 0.0
    for name, audio in cases.items():
        ref = pipecat.compute_whisper_log_mel_features(pipecat_fit_window(audio), do_normalize=True)
        ours = features(audio)
        assert ours.shape == ref.shape == (80, 800) and ours.dtype == np.float32
        diff = float(np.abs(ours - ref).max())
        worst = max(worst, diff)
        # bit for bit: one float32 ulp here and there moves the quantised model by up to 0.08
        assert diff == 0.0, f"{name}: features differ by up to {diff}"
        p_ref, p_ours = smart_turn.predict_features(np.stack([ref, ours]))
        assert p_ref == p_ours, f"{name}: P(complete) {p_ours} vs pipecat's {p_ref}"
    print(f"\nfeatures vs pipecat's extractor: max |difference| {worst:.2e} over {len(cases)} inputs")


# ---------------------------------------------------------------------------- the model


def test_loads_from_dir_or_file_and_checks_input(model_path, smart_turn):
    by_dir = SmartTurn(model_path.parent)
    for audio in (_silence(0.5), np.full(200000, 0.01, np.float32)):
        p = by_dir.predict(audio)
        assert 0.0 <= p <= 1.0
        assert p == pytest.approx(smart_turn.predict(audio), abs=1e-6)
    with pytest.raises(ValueError):
        smart_turn.predict(np.zeros((2, 16000), np.float32))
    with pytest.raises(ValueError):
        smart_turn.predict(np.zeros(0, np.float32))
    with pytest.raises(FileNotFoundError, match="fetch_smart_turn"):
        SmartTurn(model_path.parent / "nothing-here")


def _jittered(smart_turn: SmartTurn, audio: np.ndarray, copies: int = 4) -> list[float]:
    """P(complete) of ``audio`` and of ``copies`` copies with -90 dBFS dither added (inaudible;
    the quantised model still moves by up to 0.2 on them)."""
    rng = np.random.default_rng(7)
    return [smart_turn.predict(audio)] + [
        smart_turn.predict(audio + (3e-5 * rng.standard_normal(audio.size)).astype(np.float32))
        for _ in range(copies)]


def test_whole_utterances_complete_cut_ones_not(smart_turn, utterances):
    """Judged on the mean over five inaudibly different copies of each utterance, so that the
    model's numeric jitter (and a CPU whose kernels round differently) does not decide."""
    rows = []
    for prompt, whole, cut, recorded in utterances:
        rows.append((prompt, _jittered(smart_turn, whole), _jittered(smart_turn, cut),
                     smart_turn.predict(recorded)))
    print(f"\nP(turn complete), speech + {TRAILING_SILENCE_S * 1000:.0f} ms silence: one call "
          f"[min-max of 5 dithered copies, mean]; as recorded: the WAV untouched, one call")
    for prompt, pw, pc, pr in rows:
        print(f"  {prompt.lang} {prompt.name:24s} whole {pw[0]:.3f} [{min(pw):.2f}-{max(pw):.2f}, "
              f"{statistics.mean(pw):.2f}]  cut mid-word {pc[0]:.3f} [{min(pc):.2f}-{max(pc):.2f}, "
              f"{statistics.mean(pc):.2f}]  as recorded {pr:.3f}  | {prompt.text}")

    def summary(label, selected):
        w1 = [r[1][0] for r in selected]
        c1 = [r[2][0] for r in selected]
        w = [statistics.mean(r[1]) for r in selected]
        c = [statistics.mean(r[2]) for r in selected]
        print(f"  {label}: whole one call {statistics.mean(w1):.3f} ({sum(p >= 0.5 for p in w1)}/{len(w1)} >= 0.5), "
              f"5-copy mean {statistics.mean(w):.3f} ({sum(p >= 0.5 for p in w)}/{len(w)}); "
              f"cut one call {statistics.mean(c1):.3f} ({sum(p >= 0.5 for p in c1)}/{len(c1)} >= 0.5), "
              f"5-copy mean {statistics.mean(c):.3f} ({sum(p >= 0.5 for p in c)}/{len(c)})")
        return w, c

    for lang in ("en", "es"):
        summary(lang, [r for r in rows if r[0].lang == lang])
    whole, cut = summary("all", rows)
    recorded = [r[3] for r in rows]
    print(f"  as recorded (no silence added): mean {statistics.mean(recorded):.3f} "
          f"({sum(p >= 0.5 for p in recorded)}/{len(recorded)} >= 0.5)")
    complete = sum(p >= 0.5 for p in whole) / len(whole)
    assert complete >= 0.8, f"only {complete:.0%} of whole utterances scored complete"
    assert statistics.mean(cut) < statistics.mean(whole)


def test_inference_time(model_path, utterances):
    start = time.perf_counter()
    model = SmartTurn(model_path, threads=1)
    load_ms = (time.perf_counter() - start) * 1000
    audio = utterances[0][1]
    model.predict(audio)  # warm-up
    feat_ms, total_ms = [], []
    for _ in range(10):
        t0 = time.perf_counter()
        feats = features(audio)
        t1 = time.perf_counter()
        model.predict_features(feats)
        t2 = time.perf_counter()
        feat_ms.append((t1 - t0) * 1000)
        total_ms.append((t2 - t0) * 1000)
    print(f"\nsmart-turn v3.2, 1 thread: load {load_ms:.0f} ms; per call median "
          f"{statistics.median(total_ms):.1f} ms (features {statistics.median(feat_ms):.1f} ms), "
          f"min {min(total_ms):.1f} ms, max {max(total_ms):.1f} ms")
