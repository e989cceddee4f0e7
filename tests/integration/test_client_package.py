"""``pip install ./clients`` on its own: a fresh venv gets voice-client with grpc and protobuf only.

The venv is built once for the module from a copy of ``clients/`` (so that the build leaves
no ``build/`` or ``*.egg-info`` in the checkout); pip fetches grpcio / protobuf through its
configured index. The client then talks to the real test server.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from voice_client.wavio import read_raw, write_wav

from voice.core.audio import Encoding, wav_bytes

ROOT = Path(__file__).resolve().parents[2]
PROMPT = Path("/usr/share/asterisk/sounds/en/agent-pass.wav")  # 8 kHz PCM16 mono
# its text in /usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz
PROMPT_TEXT = "Please enter your password followed by the pound key."
SERVER_ONLY = ["numpy", "numba", "faster_whisper", "piper", "soundfile", "voice", "kernels"]


def _env() -> dict[str, str]:
    """The environment without anything that would leak the main venv into the fresh one."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}


def _words(text: str) -> str:
    """Lower case, punctuation dropped, single spaces."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _run(cmd: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (the base interpreter of this one) with ``pip install clients`` done: its bin/."""
    work = tmp_path_factory.mktemp("client_pkg")
    src = work / "clients"
    shutil.copytree(ROOT / "clients", src, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    venv = work / "venv"
    proc = _run([sys._base_executable, "-m", "venv", str(venv)], cwd=work)
    assert proc.returncode == 0, proc.stderr
    proc = _run([str(venv / "bin" / "pip"), "install", str(src)], cwd=work, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return venv / "bin"


def test_installs_grpc_and_protobuf_only(client_venv: Path, tmp_path: Path) -> None:
    code = ("import importlib.util, sys\n"
            f"print(' '.join(m for m in {SERVER_ONLY!r} if importlib.util.find_spec(m)))\n"
            "import grpc, google.protobuf, grpc_health.v1.health_pb2, voice_client.cli, voice_api.v1.recognizer_pb2\n"
            "print(voice_client.cli.__file__)\n")
    proc = _run([str(client_venv / "python"), "-c", code], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    present, location = proc.stdout.splitlines()
    assert present == "", f"server-side packages importable in the client venv: {present}"
    assert Path(location).is_relative_to(client_venv.parent), location
    for stub in ("audio_pb2", "recognizer_pb2", "synthesizer_pb2", "understander_pb2"):
        assert list(client_venv.parent.glob(f"lib/python*/site-packages/voice_api/v1/{stub}.pyi")), stub
    proc = _run([str(client_venv / "voice-client"), "--help"], cwd=tmp_path)
    assert proc.returncode == 0 and "transcribe" in proc.stdout, proc.stderr


def test_transcribe_from_the_client_venv(client_venv: Path, server, tmp_path: Path) -> None:
    proc = _run([str(client_venv / "voice-client"), "transcribe", str(PROMPT), "--server", server.address,
                 "--language", "en"], cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    finals = [line.split("] ", 1)[1] for line in proc.stdout.splitlines() if line.startswith("[final")]
    assert [_words(f) for f in finals] == [_words(PROMPT_TEXT)], proc.stdout


def test_flac_needs_the_formats_extra(client_venv: Path, tmp_path: Path) -> None:
    flac = tmp_path / "tone.flac"
    sf.write(flac, (np.sin(np.arange(800) / 5) * 8000).astype(np.int16), 8000, format="FLAC")
    proc = _run([str(client_venv / "voice-client"), "transcribe", str(flac), "--server", "127.0.0.1:1"],
                cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert str(flac) in proc.stderr and "soundfile" in proc.stderr and "voice-client[formats]" in proc.stderr


# the stdlib WAV code, checked against libsndfile and the server's writer in this (main) venv

@pytest.mark.parametrize("encoding", ["LINEAR16", "MULAW", "ALAW"])
def test_write_wav_matches_the_server_writer(tmp_path: Path, encoding: str) -> None:
    data = bytes(range(256)) * 3 + b"\x07"  # odd length: the pad byte
    path = tmp_path / "out.wav"
    write_wav(str(path), data, 8000, encoding)
    assert path.read_bytes() == wav_bytes(data, 8000, Encoding(encoding))
    raw = read_raw(str(path))
    width = 2 if encoding == "LINEAR16" else 1
    assert (raw.encoding, raw.sample_rate, raw.data) == (encoding, 8000, data[: len(data) // width * width])
    info = sf.info(str(path))
    assert info.samplerate == 8000 and info.frames == len(data) // width


@pytest.mark.parametrize("channels, fmt", [(1, "WAV"), (2, "WAV"), (3, "WAVEX"), (1, "WAVEX")])
def test_read_pcm16_downmixes_like_the_mean(tmp_path: Path, channels: int, fmt: str) -> None:
    rng = np.random.default_rng(channels)
    audio = rng.integers(-32768, 32767, size=(1001, channels), dtype=np.int16)
    path = tmp_path / "in.wav"
    sf.write(path, audio, 16000, format=fmt, subtype="PCM_16")
    raw = read_raw(str(path))
    assert raw.encoding == "LINEAR16" and raw.sample_rate == 16000 and raw.bytes_per_second == 32000
    expected = np.floor(audio.astype(np.int64).mean(axis=1)).astype("<i2")
    assert raw.data == expected.tobytes()


@pytest.mark.parametrize("subtype, encoding", [("ULAW", "MULAW"), ("ALAW", "ALAW")])
def test_read_g711_wav_as_is(tmp_path: Path, subtype: str, encoding: str) -> None:
    path = tmp_path / "g711.wav"
    sf.write(path, (np.sin(np.arange(999) / 7) * 9000).astype(np.int16), 8000, format="WAV", subtype=subtype)
    raw = read_raw(str(path))
    assert raw.encoding == encoding and raw.sample_rate == 8000 and len(raw.data) == 999
    assert raw.bytes_per_second == 8000


def test_other_formats_through_soundfile_when_installed(tmp_path: Path) -> None:
    audio = (np.sin(np.arange(1600) / 9) * 7000).astype(np.int16)
    path = tmp_path / "in.flac"
    sf.write(path, np.stack([audio, audio], axis=1), 16000, format="FLAC")
    raw = read_raw(str(path))
    assert (raw.encoding, raw.sample_rate, raw.data) == ("LINEAR16", 16000, audio.astype("<i2").tobytes())
