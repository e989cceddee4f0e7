"""Conversation.Converse through the real gRPC server: a phone-format call (8 kHz mu-law in
and out) with the greeting, a recorded question, its intent and the spoken reply."""

from __future__ import annotations

import time

import grpc
import numpy as np
import pytest
import soundfile as sf
from voice_api.v1 import audio_pb2, conversation_pb2, conversation_pb2_grpc

import kernels
from voice.testing.prompts import SOUNDS


@pytest.fixture(scope="module")
def stub(channel):
    return conversation_pb2_grpc.ConversationStub(channel)


def _config(**changes):
    config = conversation_pb2.ConversationConfig(
        input_encoding=audio_pb2.MULAW, input_sample_rate_hertz=8000, output_encoding=audio_pb2.MULAW,
        language_code="en")
    for key, value in changes.items():
        setattr(config, key, value)
    return conversation_pb2.ConverseRequest(config=config)


def _call(pcm: np.ndarray, after_s: float):
    """Config, then the caller's audio in 20 ms frames at real-time pace, then silence."""
    yield _config()
    ulaw = kernels.mulaw_encode(pcm).tobytes() + kernels.mulaw_encode(np.zeros(int(after_s * 8000), np.int16)).tobytes()
    for i in range(0, len(ulaw), 160):
        yield conversation_pb2.ConverseRequest(audio=ulaw[i:i + 160])
        time.sleep(0.02)


def test_converse_phone_call(stub):
    pcm, rate = sf.read(SOUNDS / "en" / "queue-callswaiting.wav", dtype="int16")
    silence = np.zeros(4 * 8000, np.int16)  # the greeting plays first
    events = list(stub.Converse(_call(np.concatenate([silence, pcm]), after_s=5.0), timeout=120))
    kinds = [e.WhichOneof("event") for e in events]
    started = [e.reply_started for e in events if e.HasField("reply_started")]
    assert started[0].source == conversation_pb2.INTENTS and started[0].text.startswith("Hello")
    finals = [r for e in events if e.HasField("recognition") for r in e.recognition.results if r.is_final]
    assert finals and finals[0].intent.intent == "talk_to_agent"
    assert len(started) == 2 and started[1].text
    audio = [e.reply_audio for e in events if e.HasField("reply_audio")]
    assert audio and all(a.encoding == audio_pb2.MULAW and a.sample_rate_hertz == 8000 for a in audio)
    ends = [e.reply_ended for e in events if e.HasField("reply_ended")]
    assert [e.interrupted for e in ends] == [False, False] and ends[1].spoken_text == started[1].text
    assert kinds.index("reply_started") < kinds.index("reply_audio") < kinds.index("reply_ended")


@pytest.mark.parametrize("changes, field", [
    ({"input_sample_rate_hertz": 7000}, "config.input_sample_rate_hertz"),
    ({"output_encoding": 7}, "config.output_encoding"),
    ({"reply_source": conversation_pb2.WEBHOOK}, "config.reply_source"),
    ({"turn_detection": "magic"}, "config.turn_detection"),
])
def test_bad_config_names_the_field(stub, changes, field):
    with pytest.raises(grpc.RpcError) as err:
        list(stub.Converse(iter([_config(**changes)]), timeout=30))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and err.value.details().startswith(field + ": ")


def test_the_first_request_must_be_the_config(stub):
    with pytest.raises(grpc.RpcError) as err:
        list(stub.Converse(iter([conversation_pb2.ConverseRequest(audio=b"\xff" * 160)]), timeout=30))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and err.value.details().startswith("config: ")
