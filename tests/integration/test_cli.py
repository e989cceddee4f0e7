"""The programs, as a user runs them: voice-client against a real server, voice locally."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf
from voice_client.wavio import read_raw, write_wav

import kernels
from voice.testing.paths import ROOT
from voice.testing.programs import run
from voice.testing.prompts import pick_prompts, wer


@pytest.fixture(scope="module")
def mulaw_two_prompts(tmp_path_factory):
    """An 8 kHz mu-law telephone WAV with two prompts separated by a pause."""
    a, b = pick_prompts("en", 2)
    pa, _ = sf.read(a.path, dtype="int16")
    pb, _ = sf.read(b.path, dtype="int16")
    pcm = np.concatenate([pa, np.zeros(16000, np.int16), pb, np.zeros(8000, np.int16)])
    path = tmp_path_factory.mktemp("audio") / "call.wav"
    write_wav(str(path), kernels.mulaw_encode(pcm).tobytes(), 8000, "MULAW")
    return path, [a.text, b.text]


def test_wavio_reads_mulaw_as_is(mulaw_two_prompts):
    path, _ = mulaw_two_prompts
    raw = read_raw(str(path))
    assert raw.encoding == "MULAW" and raw.sample_rate == 8000
    audio, rate = sf.read(path, dtype="int16")  # libsndfile agrees on the container
    assert rate == 8000 and audio.size == len(raw.data)


def test_client_transcribe_json_mulaw(server, mulaw_two_prompts):
    path, texts = mulaw_two_prompts
    out = run("voice-client", "transcribe", str(path), "--server", server.address, "--language", "en",
              "--json", "--chunk-ms", "20", "--words").stdout
    lines = [json.loads(line) for line in out.splitlines()]
    finals = [r for line in lines for r in line["results"] if r["is_final"]]
    assert [f["utterance_index"] for f in finals] == [0, 1]
    for f, text in zip(finals, texts):
        assert wer([text], [f["alternatives"][0]["transcript"]]) <= 0.2
        assert f["language_code"] == "en" and f["alternatives"][0]["words"]
    events = [line["speech_event_type"] for line in lines if line["speech_event_type"] != "SPEECH_EVENT_UNSPECIFIED"]
    assert events == ["SPEECH_STARTED", "SPEECH_ENDED"] * 2


def test_client_transcribe_realtime_plain_output(server):
    p = pick_prompts("en", 1)[0]
    proc = run("voice-client", "transcribe", str(p.path), "--server", server.address, "--realtime", "--chunk-ms", "100",
               "--interim")
    finals = [line for line in proc.stdout.splitlines() if line.startswith("[final")]
    assert len(finals) == 1 and wer([p.text], [finals[0].split("] ", 1)[1]]) <= 0.2
    for line in proc.stdout.splitlines():  # interim lines, if the machine was fast enough: "committed | tail"
        assert line.startswith(("[final #0 en] ", "[interim #0 en] ", "(speech_started", "(speech_ended")), line


def test_client_transcribe_alternatives(server):
    p = pick_prompts("en", 1)[0]
    lines = run("voice-client", "transcribe", str(p.path), "--server", server.address, "--language", "en",
                "--alternatives", "3").stdout.splitlines()
    (i,) = [n for n, line in enumerate(lines) if line.startswith("[final")]
    others = [line for line in lines[i + 1:] if line.startswith("    or (")]
    assert 1 <= len(others) <= 2 and wer([p.text], [lines[i].split("] ", 1)[1]]) <= 0.2
    proc = run("voice-client", "transcribe", str(p.path), "--server", server.address, "--alternatives", "-1",
               check=False)
    assert proc.returncode == 1 and "INVALID_ARGUMENT" in proc.stderr and "max_alternatives" in proc.stderr


def test_client_say_voices_health(server, tmp_path):
    out = tmp_path / "hello.wav"
    info = json.loads(run("voice-client", "say", "Hello. How can I help you today?", "--server", server.address,
                          "-o", str(out), "--json").stdout)
    assert info["chunks"] >= 2 and info["sample_rate_hertz"] == 22050 and info["audio_seconds"] > 1
    audio, rate = sf.read(out)
    assert rate == 22050 and abs(audio.size / rate - info["audio_seconds"]) < 0.01
    phone = tmp_path / "phone.wav"
    run("voice-client", "say", "Your call is important to us.", "--server", server.address, "-o", str(phone),
        "--encoding", "mulaw", "--rate", "8000")
    raw = read_raw(str(phone))
    assert raw.encoding == "MULAW" and raw.sample_rate == 8000 and len(raw.data) > 8000
    voices = [json.loads(line) for line in run("voice-client", "voices", "--server", server.address, "--json").stdout.splitlines()]
    assert voices[0]["name"] == "en_US-joe-medium"
    assert run("voice-client", "health", "--server", server.address).stdout.strip() == "SERVING"


def test_client_transcribe_candidates_hotwords_json(server, tmp_path):
    """--language-candidates, --hotwords and --interim; JSON lines carry what scripts need."""
    parts = []
    for lang in ("fr", "en"):
        audio, _ = sf.read(pick_prompts(lang, 1, min_words=6)[0].path, dtype="int16")
        parts += [audio, np.zeros(12000, np.int16)]
    path = tmp_path / "mixed.wav"
    sf.write(path, np.concatenate(parts), 8000, subtype="PCM_16")
    out = run("voice-client", "transcribe", str(path), "--server", server.address, "--json", "--interim",
              "--language-candidates", "en,fr,es", "--hotwords", "agent,pound key").stdout
    lines = [json.loads(line) for line in out.splitlines()]
    finals = [r for line in lines for r in line["results"] if r["is_final"]]
    assert [f["language_code"] for f in finals] == ["fr", "en"]
    for f in finals:
        assert f["stability"] == 1.0 and "processing_latency" in f and f["alternatives"][0]["transcript"]
    interims = [r for line in lines for r in line["results"] if not r["is_final"]]
    assert all(0 < r["stability"] < 1 for r in interims)


def test_client_errors(server, tmp_path):
    proc = run("voice-client", "say", "", "--server", server.address, "-o", str(tmp_path / "x.wav"), check=False)
    assert proc.returncode == 1 and "INVALID_ARGUMENT" in proc.stderr and "text" in proc.stderr
    proc = run("voice-client", "transcribe", "/no/such.wav", "--server", server.address, check=False)
    assert proc.returncode == 2 and "cannot read" in proc.stderr
    proc = run("voice-client", "health", "--server", "127.0.0.1:1", "--timeout", "1", check=False)
    assert proc.returncode == 1


def test_local_say_then_transcribe(tmp_path):
    """voice say -> voice transcribe, locally: the words come back."""
    text = "Your appointment with the bank is confirmed for Monday morning."
    wav = tmp_path / "say.wav"
    run("voice", "say", text, "-o", str(wav))
    out = run("voice", "transcribe", str(wav), "--language", "en", "--json").stdout
    results = [json.loads(line) for line in out.splitlines()]
    assert results and wer([text], [" ".join(r["transcript"] for r in results)]) <= 0.2
    proc = run("voice", "transcribe", str(wav), "--language", "zz", check=False)
    assert proc.returncode == 2 and "language_code" in proc.stderr
    proc = run("voice", "say", "hi", "--voice", "nobody", "-o", str(tmp_path / "n.wav"), check=False)
    assert proc.returncode == 2 and "nobody" in proc.stderr


def test_compose_file_is_valid():
    assert shutil.which("docker-compose") or shutil.which("docker"), "run tools/install_test_deps.py"
    cmd = ["docker-compose", "config", "-q"] if shutil.which("docker-compose") else ["docker", "compose", "config", "-q"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
