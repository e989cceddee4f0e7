"""Intent understanding through the server (Understander, intents on finals) and the CLIs."""

from __future__ import annotations

import json

import grpc
import numpy as np
import pytest
from voice_api.v1 import (
    audio_pb2,
    recognizer_pb2,
    recognizer_pb2_grpc,
    understander_pb2,
    understander_pb2_grpc,
)

from voice.core.planning import plan_pieces
from voice.core.synthesis import SynthesisJob, SynthesisOptions
from voice.testing.programs import run


@pytest.fixture(scope="module")
def nlu(channel):
    return understander_pb2_grpc.UnderstanderStub(channel)


@pytest.mark.parametrize("text, language, intent", [
    ("I lost my credit card", "en", "report_lost_card"),
    ("what is the balance of my savings account", "en-US", "check_balance"),
    ("ich möchte mit einem mitarbeiter sprechen", "de", "talk_to_agent"),
    ("je voudrais parler à un conseiller", "fr", "talk_to_agent"),
    ("what's the weather like on mars tomorrow", "en", "none"),
])
def test_understand(nlu, text, language, intent):
    r = nlu.Understand(understander_pb2.UnderstandRequest(text=text, language_code=language))
    assert r.intent == intent
    assert 0 <= r.confidence <= 1 and all(a.intent != r.intent for a in r.alternatives)


def test_understand_slots_and_context(nlu):
    text = "I lost my credit card"
    r = nlu.Understand(understander_pb2.UnderstandRequest(text=text, language_code="en"))
    (slot,) = [s for s in r.slots if s.name == "card_type"]
    assert slot.value == "credit" and text[slot.start:slot.end] == "credit"
    follow = nlu.Understand(understander_pb2.UnderstandRequest(text="the savings one", language_code="en",
                                                                previous_intent="check_balance"))
    assert follow.intent == "check_balance"


@pytest.mark.parametrize("kwargs, field", [
    ({"text": "", "language_code": "en"}, "text"),
    ({"text": "hello", "language_code": "sv"}, "language_code"),  # neither in the file nor served by the encoder
    ({"text": "hello", "language_code": ""}, "language_code"),
])
def test_understand_bad_input(nlu, kwargs, field):
    with pytest.raises(grpc.RpcError) as err:
        nlu.Understand(understander_pb2.UnderstandRequest(**kwargs))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and err.value.details().startswith(field)


def test_list_intents(nlu):
    r = nlu.ListIntents(understander_pb2.ListIntentsRequest())
    names = {i.name for i in r.intents}
    assert {"check_balance", "report_lost_card", "talk_to_agent"} <= names
    assert {"en", "de", "fr", "es", "it"} <= set(r.language_codes)
    lost = [i for i in r.intents if i.name == "report_lost_card"][0]
    assert "card_type" in lost.slots and "en" in lost.language_codes


def test_streaming_finals_carry_the_intent(channel, engine):
    voice = engine.catalogue.default
    pcm = b"".join(c.audio for c in SynthesisJob(engine.synthesizer(voice), plan_pieces(
        "I have lost my debit card.", "en"), SynthesisOptions(deterministic=True)).run())
    pcm = np.concatenate([np.frombuffer(pcm, "<i2"), np.zeros(voice.sample_rate, np.int16)]).tobytes()
    stub = recognizer_pb2_grpc.RecognizerStub(channel)
    cfg = recognizer_pb2.RecognitionConfig(encoding=audio_pb2.LINEAR16, sample_rate_hertz=voice.sample_rate,
                                           language_code="en", enable_intent=True)

    def requests():
        yield recognizer_pb2.StreamingRecognizeRequest(streaming_config=recognizer_pb2.StreamingRecognitionConfig(config=cfg))
        step = voice.sample_rate // 10 * 2
        for i in range(0, len(pcm), step):
            yield recognizer_pb2.StreamingRecognizeRequest(audio_content=pcm[i:i + step])

    finals = [r for resp in stub.StreamingRecognize(requests()) for r in resp.results if r.is_final]
    assert len(finals) == 1
    assert finals[0].intent.intent == "report_lost_card"
    assert [s.value for s in finals[0].intent.slots if s.name == "card_type"] == ["debit"]
    unary = stub.Recognize(recognizer_pb2.RecognizeRequest(config=cfg, audio_content=pcm))
    assert unary.results[0].intent.intent == "report_lost_card"
    plain = stub.Recognize(recognizer_pb2.RecognizeRequest(config=recognizer_pb2.RecognitionConfig(
        encoding=audio_pb2.LINEAR16, sample_rate_hertz=voice.sample_rate, language_code="en"), audio_content=pcm))
    assert not plain.results[0].HasField("intent")


def test_understand_clis(server, tmp_path):
    out = json.loads(run("voice-client", "understand", "I want to talk to an agent", "--language", "en",
                         "--server", server.address, "--json").stdout)
    assert out["intent"] == "talk_to_agent" and set(out) == {"intent", "confidence", "slots", "alternatives"}
    proc = run("voice-client", "understand", "hi", "--language", "xx", "--server", server.address, check=False)
    assert proc.returncode == 1 and "INVALID_ARGUMENT" in proc.stderr
    intents = tmp_path / "shop.yaml"
    intents.write_text(
        "intents:\n"
        "  order_pizza:\n"
        "    sentences:\n"
        "      en: ['i (want|would like) [to order] a {size} pizza', 'order a {size} pizza [please]']\n"
        "  cancel_order:\n"
        "    sentences:\n"
        "      en: ['cancel my order', 'i (want|would like) to cancel [the|my] order']\n"
        "lists:\n"
        "  size:\n"
        "    values:\n"
        "      en: [small, medium, large]\n"
    )
    local = json.loads(run("voice", "understand", "i would like a large pizza", "--language", "en",
                           "--intents", str(intents), "--json").stdout)
    assert local["intent"] == "order_pizza" and local["slots"][0]["value"] == "large"
    proc = run("voice", "understand", "hello", "--language", "en", "--intents", str(tmp_path / "missing.yaml"),
               check=False)
    assert proc.returncode == 2 and "intents_file" in proc.stderr
