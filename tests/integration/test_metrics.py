"""Prometheus metrics after known traffic: every door of one process (voice.testing.ops.DoorsThread)
on the session's engine, /metrics scraped over HTTP."""

from __future__ import annotations

import threading

import grpc
import numpy as np
import pytest
import soundfile as sf
from voice_api.v1 import audio_pb2, recognizer_pb2_grpc, synthesizer_pb2, synthesizer_pb2_grpc

from voice.core.telemetry import NO_TELEMETRY
from voice.service import types as t
from voice.testing.caller import Caller, Say, Send, Silence, WaitFor, converse
from voice.testing.ops import DoorsThread, sample, scrape
from voice.testing.prompts import SOUNDS
from voice.testing.streams import audio_requests, config_request, finals, silence

PROMPT = SOUNDS / "en" / "queue-callswaiting.wav"  # "Waiting to speak with a representative"
BARGE = SOUNDS / "en" / "vm-reachoper.wav"
LONG_REPLY = ("Thank you for waiting, your call matters to us. An agent will be with you shortly. "
              "While you wait, you can also visit our website to check your balance or order a new card.")


@pytest.fixture(scope="module")
def doors(config, engine):
    cfg = config.replace("server", host="127.0.0.1", port=0)
    running = DoorsThread(cfg, engine)
    yield running
    running.stop()
    engine.set_telemetry(NO_TELEMETRY)


def metrics(doors):
    return scrape(f"http://127.0.0.1:{doors.ports['metrics']}/metrics")


def test_model_state_and_idle_gauges(doors):
    m = metrics(doors)
    assert sample(m, "voice_model_state", state="ready") == 1
    assert sample(m, "voice_model_state", state="loading") == 0
    assert sample(m, "voice_ready") == 1
    for service in ("asr", "tts", "conversation"):
        assert sample(m, "voice_active_calls", service=service) == 0
    assert sample(m, "voice_decode_queue_depth") == 0
    assert sample(m, "voice_decode_workers") == doors.doors.grpc.engine.scheduler.workers


def test_a_stream_counts_as_active_then_as_one_ok_request_with_its_audio_and_finals(doors):
    pcm = np.concatenate([silence(0.3), sf.read(PROMPT, dtype="int16")[0], silence(1.0)])
    before = metrics(doors)
    opened = threading.Event()
    seen_active = []

    def requests():
        yield config_request("en")
        opened.wait(10)
        yield from audio_requests(pcm)

    with grpc.insecure_channel(f"127.0.0.1:{doors.ports['grpc']}") as ch:
        stub = recognizer_pb2_grpc.RecognizerStub(ch)
        call = stub.StreamingRecognize(requests())

        def watch():
            for _ in range(200):
                m = metrics(doors)
                if sample(m, "voice_active_calls", service="asr") >= 1:
                    seen_active.append(m)
                    break
            opened.set()

        watcher = threading.Thread(target=watch)
        watcher.start()
        results = finals(call)
        watcher.join()
    assert seen_active, "the open stream never showed in voice_active_calls"
    assert sample(seen_active[0], "voice_active_requests", door="grpc", service="asr") >= 1
    assert results and "representative" in results[0].alternatives[0].transcript.lower()
    after = metrics(doors)
    ok = ("voice_requests_total", dict(door="grpc", service="asr", code="OK"))
    assert sample(after, ok[0], **ok[1]) - sample(before, ok[0], **ok[1]) == 1
    assert sample(after, "voice_active_calls", service="asr") == 0
    received = sample(after, "voice_audio_seconds_total", kind="recognition") - sample(
        before, "voice_audio_seconds_total", kind="recognition")
    assert received == pytest.approx(pcm.size / 8000, abs=0.01)
    finals_counted = (sample(after, "voice_stage_seconds_count", stage="endpoint_to_final")
                      - sample(before, "voice_stage_seconds_count", stage="endpoint_to_final"))
    assert finals_counted == len(results)
    decoded = sample(after, "voice_decodes_total", priority="final") - sample(before, "voice_decodes_total", priority="final")
    assert decoded >= len(results)
    rtf = sample(after, "voice_realtime_factor_count", priority="final") - sample(
        before, "voice_realtime_factor_count", priority="final")
    assert rtf >= len(results)
    assert sample(after, "voice_realtime_factor_sum", priority="final") > 0
    assert sample(after, "voice_decode_wait_seconds_count", priority="final") >= decoded


def test_synthesis_counts_time_to_first_audio_and_its_audio(doors):
    before = metrics(doors)
    with grpc.insecure_channel(f"127.0.0.1:{doors.ports['grpc']}") as ch:
        stub = synthesizer_pb2_grpc.SynthesizerStub(ch)
        chunks = list(stub.Synthesize(synthesizer_pb2.SynthesizeRequest(
            text="Your card is blocked. A new one is on its way.", encoding=audio_pb2.LINEAR16, sample_rate_hertz=16000)))
        with pytest.raises(grpc.RpcError) as info:
            list(stub.Synthesize(synthesizer_pb2.SynthesizeRequest(text="")))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    seconds = sum(len(c.audio_content) for c in chunks) / 2 / 16000
    after = metrics(doors)
    assert sample(after, "voice_stage_seconds_count", stage="time_to_first_audio") - sample(
        before, "voice_stage_seconds_count", stage="time_to_first_audio") == 1
    synthesized = sample(after, "voice_audio_seconds_total", kind="synthesis") - sample(
        before, "voice_audio_seconds_total", kind="synthesis")
    assert synthesized == pytest.approx(seconds, abs=0.01)
    for code in ("OK", "INVALID_ARGUMENT"):
        assert sample(after, "voice_requests_total", door="grpc", service="tts", code=code) - sample(
            before, "voice_requests_total", door="grpc", service="tts", code=code) == 1


def test_a_conversation_counts_voice_to_voice_and_a_barge_in(doors):
    service = doors.doors.service
    question, _ = sf.read(PROMPT, dtype="float32")
    barge, _ = sf.read(BARGE, dtype="float32")
    before = metrics(doors)
    phone = t.ConversationConfig(input_encoding="LINEAR16", input_sample_rate_hertz=8000, output_encoding="MULAW",
                                 language_code="en", echo_cancellation=False, greeting=False)
    # an intents reply to a caller's turn: voice-to-voice
    replied = doors.call(converse, service, phone, Caller([
        Say(question), WaitFor(lambda e: isinstance(e, t.ReplyEnded), timeout_s=30), Silence(0.2)]))
    assert replied.of(t.ReplyAudio)
    # the caller speaks over a long client reply: a barge-in
    from dataclasses import replace

    barged = doors.call(converse, service, replace(phone, reply_source="client"), Caller([
        Say(question), WaitFor(lambda e: isinstance(e, t.RecognitionResult) and e.is_final),
        Send(t.ReplyTextInput(LONG_REPLY, end_of_reply=True)), WaitFor(lambda e: isinstance(e, t.ReplySpoken)),
        Silence(1.0), Say(barge), Silence(0.5), WaitFor(lambda e: isinstance(e, t.BargeIn), timeout_s=20),
        Silence(0.2)]))
    assert barged.of(t.BargeIn)
    after = metrics(doors)
    v2v = (sample(after, "voice_stage_seconds_count", stage="voice_to_voice")
           - sample(before, "voice_stage_seconds_count", stage="voice_to_voice"))
    assert v2v == 1
    spent = (sample(after, "voice_stage_seconds_sum", stage="voice_to_voice")
             - sample(before, "voice_stage_seconds_sum", stage="voice_to_voice"))
    assert 0 < spent < 10
    assert sample(after, "voice_barge_ins_total") - sample(before, "voice_barge_ins_total") == 1
    assert sample(after, "voice_active_calls", service="conversation") == 0


def test_dropped_interims_are_the_schedulers_count(doors):
    m = metrics(doors)
    assert sample(m, "voice_interims_dropped_total") == doors.doors.grpc.engine.scheduler.dropped_interims


def test_the_metrics_port_also_answers_health(doors):
    import json
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{doors.ports['metrics']}/health", timeout=5) as response:
        assert json.loads(response.read()) == {"status": "SERVING"}
