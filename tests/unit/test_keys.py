"""API keys and quotas (voice.api.ops.keys): the pure policy, each rule on a fake clock."""

from __future__ import annotations

import subprocess
import sys

import pytest

from voice.api.ops.keys import (
    DAY_S,
    KeyFileError,
    KeyPolicy,
    PermissionDenied,
    Unauthenticated,
    bearer,
    hash_key,
    key_entry,
    load_keys,
    new_secret,
    parse_keys,
    service_of,
)
from voice.core.errors import ResourceExhausted


class Clock:
    def __init__(self, now: float = 10 * DAY_S + 3600):
        self.now = now

    def __call__(self) -> float:
        return self.now


def policy(clock: Clock | None = None, **limits) -> tuple[KeyPolicy, str]:
    secret = new_secret()
    keys = parse_keys(key_entry("crm", secret, limits.pop("services", ["*"]), **limits))
    return KeyPolicy(keys, clock or Clock()), secret


def test_the_file_holds_only_the_hash():
    secret = new_secret()
    text = key_entry("crm", secret, ["asr", "tts"], max_streams=2)
    assert secret not in text and hash_key(secret) in text
    [key] = parse_keys(text)
    assert key.name == "crm" and key.services == {"asr", "tts"} and key.max_streams == 2


def test_missing_and_wrong_keys_are_unauthenticated():
    p, secret = policy()
    with pytest.raises(Unauthenticated, match="required"):
        p.admit(None, "asr")
    with pytest.raises(Unauthenticated, match="not valid") as info:
        p.admit(secret + "x", "asr")
    assert secret not in str(info.value)
    p.admit(secret, "asr").release()


def test_services_outside_the_key_are_denied():
    p, secret = policy(services=["asr"])
    p.admit(secret, "asr").release()
    p.admit(secret, None).release()  # health, reflection: no service rule
    with pytest.raises(PermissionDenied, match="may not use tts"):
        p.admit(secret, "tts")


def test_concurrent_streams_are_limited_until_one_is_released():
    p, secret = policy(max_streams=2)
    a = p.admit(secret, "asr", stream=True)
    p.admit(secret, "asr", stream=True)
    p.admit(secret, "intents").release()  # a unary call holds no stream slot
    with pytest.raises(ResourceExhausted, match="2 concurrent streams") as info:
        p.admit(secret, "asr", stream=True)
    assert info.value.retry_after_s > 0
    a.release()
    a.release()  # once only
    p.admit(secret, "asr", stream=True)
    assert p.usage("crm")["streams"] == 2


def test_requests_per_minute_with_a_retry_hint_and_a_sliding_window():
    clock = Clock()
    p, secret = policy(clock, requests_per_minute=3)
    for i in range(3):
        p.admit(secret, "tts").release()
        clock.now += 10
    with pytest.raises(ResourceExhausted, match="3 requests per minute") as info:
        p.admit(secret, "tts")
    assert info.value.retry_after_s == pytest.approx(30)  # the first call leaves the window at +60 s
    clock.now += 30.5
    p.admit(secret, "tts").release()


def test_audio_minutes_per_day_until_utc_midnight():
    clock = Clock()
    p, secret = policy(clock, audio_minutes_per_day=1)
    lease = p.admit(secret, "asr", stream=True)
    lease.charge(45)
    assert not lease.exhausted
    lease.charge(15)
    assert lease.exhausted
    lease.release()
    with pytest.raises(ResourceExhausted, match="audio minutes") as info:
        p.admit(secret, "asr")
    assert info.value.retry_after_s == pytest.approx(DAY_S - 3600)
    clock.now += DAY_S - 3600  # the next UTC day
    assert not p.admit(secret, "asr").exhausted


def test_malformed_files_name_the_entry_and_field(tmp_path):
    with pytest.raises(KeyFileError, match=r"keys\[0\]\.sha256"):
        parse_keys('[[keys]]\nname = "a"\nsha256 = "abc"\n')
    good = hash_key("x")
    with pytest.raises(KeyFileError, match=r"keys\[0\]\.services: unknown fax"):
        parse_keys(f'[[keys]]\nsha256 = "{good}"\nservices = ["fax"]\n')
    with pytest.raises(KeyFileError, match=r"keys\[0\]\.max_streams"):
        parse_keys(f'[[keys]]\nsha256 = "{good}"\nmax_streams = -1\n')
    with pytest.raises(KeyFileError, match="twice"):
        parse_keys(f'[[keys]]\nsha256 = "{good}"\n[[keys]]\nsha256 = "{good}"\n')
    with pytest.raises(KeyFileError, match="cannot read"):
        load_keys(tmp_path / "none.toml")


def test_headers_and_service_names():
    assert bearer("Bearer abc") == "abc" and bearer("bearer  abc ") == "abc" and bearer("abc") == "abc"
    assert bearer("Basic abc") is None and bearer(None) is None
    assert service_of("/voice.v1.Recognizer/StreamingRecognize") == "asr"
    assert service_of("/nvidia.riva.asr.RivaSpeechRecognition/Recognize") == "asr"
    assert service_of("/voice.v1.Synthesizer/ListVoices") == "tts"
    assert service_of("/nvidia.riva.tts.RivaSpeechSynthesis/SynthesizeOnline") == "tts"
    assert service_of("/voice.v1.Understander/Understand") == "intents"
    assert service_of("/voice.v1.Conversation/Converse") == "conversation"
    assert service_of("/v1/audio/transcriptions") == "asr" and service_of("/v1/audio/speech") == "tts"
    assert service_of("/v1/realtime") == "conversation" and service_of("/twilio/media") == "conversation"
    assert service_of("/grpc.health.v1.Health/Check") is None and service_of("/health") is None


def test_voice_keys_add_and_hash(tmp_path):
    path = tmp_path / "keys.toml"
    cmd = [sys.executable, "-m", "voice.cli", "keys", "add", str(path), "--name", "crm", "--services", "asr,tts",
           "--max-streams", "3", "--requests-per-minute", "60", "--audio-minutes-per-day", "90"]
    first = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    second = subprocess.run([*cmd[:6], "--name", "other"], capture_output=True, text=True, check=True).stdout.strip()
    text = path.read_text()
    assert first not in text and second not in text
    keys = {k.name: k for k in load_keys(path)}
    assert keys["crm"].services == {"asr", "tts"} and keys["crm"].max_streams == 3
    assert keys["crm"].requests_per_minute == 60 and keys["crm"].audio_minutes_per_day == 90
    assert keys["other"].services == {"asr", "tts", "intents", "conversation"}
    assert path.stat().st_mode & 0o077 == 0
    hashed = subprocess.run([sys.executable, "-m", "voice.cli", "keys", "hash", first], capture_output=True,
                            text=True, check=True).stdout
    assert hash_key(first) in hashed and keys["crm"].digest in hashed
    bad = subprocess.run([*cmd[:6], "--name", "x", "--services", "fax"], capture_output=True, text=True)
    assert bad.returncode == 2 and "fax" in bad.stderr
