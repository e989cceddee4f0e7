"""The conversation service with the real models and real recorded callers (8 kHz prompts):
every reply source, barge-in, non-interruptible replies, DTMF, cancellation from either
side, and four calls at once. The caller runs at real-time pace (voice.testing.caller)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
from aiohttp import web

from voice.core.errors import InvalidArgument
from voice.service import VoiceService
from voice.service import types as t
from voice.testing.caller import Caller, Echo, Say, Send, Silence, WaitFor, converse
from voice.testing.prompts import SOUNDS, wer

QUESTION = SOUNDS / "en" / "queue-callswaiting.wav"  # "Waiting to speak with a representative"
BARGE = SOUNDS / "en" / "vm-reachoper.wav"  # "press 0 to reach an operator"
LONG_REPLY = ("Thank you for waiting, your call matters to us. An agent will be with you shortly. "
              "While you wait, you can also visit our website to check your balance, order a new card, "
              "or change your address at any time of the day or night.")


def audio(path) -> np.ndarray:
    data, rate = sf.read(path, dtype="float32")
    assert rate == 8000
    return data


def phone(**changes) -> t.ConversationConfig:
    base = t.ConversationConfig(input_encoding="LINEAR16", input_sample_rate_hertz=8000, output_encoding="MULAW",
                                language_code="en", echo_cancellation=False)
    return replace(base, **changes)


def is_final(event) -> bool:
    return isinstance(event, t.RecognitionResult) and event.is_final


def ended(reply_id=None):
    return lambda e: isinstance(e, t.ReplyEnded) and (reply_id is None or e.reply_id == reply_id)


@pytest.fixture(scope="module")
def service(engine):
    svc = VoiceService(engine)
    yield svc
    asyncio.run(svc.close())


def run(service, config, caller):
    return asyncio.run(converse(service, config, caller))


def assert_freed(service, engine):
    """Everything the calls held is free again (a synthesis step already running when a call
    was cut finishes on its own: give it a moment)."""
    pool = engine.synthesizer(engine.catalogue.default)
    for _ in range(250):
        if not (pool.in_use or engine.scheduler.waiting):
            break
        time.sleep(0.02)
    assert service.admission.active("conversation") == 0 and service.admission.active("synthesis") == 0
    assert pool.in_use == 0 and engine.scheduler.waiting == 0


def test_intents_greeting_question_reply(service, engine):
    caller = run(service, phone(), Caller([WaitFor(ended()), Say(audio(QUESTION)), Silence(0.3),
                                           WaitFor(lambda e: isinstance(e, t.ReplyEnded) and e.reply_id == 2),
                                           Silence(0.2)]))
    started = [r.event for r in caller.of(t.ReplyStarted)]
    assert started[0].text == engine.dialogue.greeting["en"] and started[0].source is t.ReplySource.INTENTS
    finals = [r.event for r in caller.events if is_final(r.event)]
    assert len(finals) == 1 and wer(["Waiting to speak with a representative"], [finals[0].transcript]) <= 0.2
    assert finals[0].intent.intent == "talk_to_agent"
    assert started[1].text and started[1].reply_id == 2
    chunks = [r.event.chunk for r in caller.of(t.ReplyAudio)]
    assert {(c.encoding, c.sample_rate_hertz) for c in chunks} == {("MULAW", 8000)}
    endings = [r.event for r in caller.of(t.ReplyEnded)]
    assert [e.interrupted for e in endings] == [False, False]
    assert endings[1].spoken_text == started[1].text
    # voice-to-voice: the reply's first audio comes after the caller's speech ended, once
    speech_end = caller.said[0][1]
    first_audio = next(r.time for r in caller.of(t.ReplyAudio) if r.event.reply_id == 2)
    assert first_audio > speech_end
    assert_freed(service, engine)


def test_client_reply_in_pieces_starts_after_the_first_clause(service, engine):
    script = [Say(audio(QUESTION)), WaitFor(is_final),
              Send(t.ReplyTextInput("Thank you for waiting,")), Silence(1.0),
              Send(t.ReplyTextInput(" an agent will answer shortly.", end_of_reply=True)),
              WaitFor(ended()), Silence(0.2)]
    caller = run(service, phone(reply_source="client", greeting=False), Caller(script))
    second_piece_at = caller.sent[1][0]
    first_audio_at = caller.of(t.ReplyAudio)[0].time
    assert first_audio_at < second_piece_at  # audio started before the reply was complete
    spoken = [r.event.text for r in caller.of(t.ReplySpoken)]
    assert spoken[0].startswith("Thank you for waiting") and "shortly" in spoken[-1]
    assert caller.of(t.ReplyEnded)[0].event.interrupted is False
    assert_freed(service, engine)


def test_no_reply_source_gives_transcripts_and_intents_only(service, engine):
    caller = run(service, phone(reply_source="none"), Caller([Say(audio(QUESTION)), WaitFor(is_final), Silence(0.2)]))
    assert not caller.of(t.ReplyStarted) and not caller.of(t.ReplyAudio)
    assert [r.event for r in caller.events if is_final(r.event)][0].intent.intent == "talk_to_agent"


def test_client_text_without_the_client_source_is_invalid(service):
    with pytest.raises(InvalidArgument, match="^reply_text: "):
        run(service, phone(reply_source="none"), Caller([Send(t.ReplyTextInput("hi", True)), Silence(0.2)]))
    assert service.admission.active("conversation") == 0


def _barge_script(interruptible: bool) -> list:
    return [Say(audio(QUESTION)), WaitFor(is_final),
            Send(t.ReplyTextInput(LONG_REPLY, end_of_reply=True, interruptible=interruptible)),
            WaitFor(lambda e: isinstance(e, t.ReplySpoken)), Silence(1.5),
            Say(audio(BARGE)), Silence(1.0),
            WaitFor(lambda e: is_final(e) and "operator" in e.transcript.lower(), timeout_s=30),
            *([] if interruptible else [WaitFor(ended())]), Silence(0.2)]


@pytest.mark.parametrize("pacing", [t.Pacing.REALTIME, t.Pacing.BUFFERED])
def test_barge_in_stops_the_reply_and_keeps_every_caller_word(service, engine, pacing):
    pool = engine.synthesizer(engine.catalogue.default)
    rendered = pool.rendered
    caller = run(service, phone(reply_source="client", greeting=False, pacing=pacing), Caller(_barge_script(True)))
    (barge,) = [r for r in caller.of(t.BargeIn)]
    onset_said, end_said = caller.said[1]
    # the onset is the caller's, found while they were still speaking
    assert abs(barge.event.time - onset_said) < 0.3 and barge.time < end_said
    # the reply stops: no more of its audio after the barge-in event
    reply_id = barge.event.reply_id
    last_audio = max(r.time for r in caller.of(t.ReplyAudio) if r.event.reply_id == reply_id)
    assert last_audio <= barge.time
    # the caller heard a prefix of the reply, and the event says which words
    heard = barge.event.spoken_text.split()
    assert 0 < len(heard) < len(LONG_REPLY.split()) and LONG_REPLY.split()[: len(heard)] == heard
    assert 0 < barge.event.played_s < sum(r.event.chunk.samples for r in caller.of(t.ReplyAudio)) / 8000 + 0.01
    ended_event = caller.of(t.ReplyEnded)[0].event
    assert ended_event.interrupted and ended_event.spoken_text == barge.event.spoken_text
    # no caller word lost: the barge-in utterance is recognised from its start
    final = [r.event for r in caller.events if is_final(r.event)][-1]
    assert wer(["press 0 to reach an operator"], [final.transcript]) <= 0.25
    # synthesis was cancelled: far fewer pieces than the whole reply, worker and voice free
    assert pool.rendered - rendered <= 4
    assert_freed(service, engine)


def test_an_uninterruptible_reply_plays_to_the_end(service, engine):
    caller = run(service, phone(reply_source="client", greeting=False, pacing=t.Pacing.REALTIME),
                 Caller(_barge_script(False)))
    assert not caller.of(t.BargeIn)
    reply_end = caller.of(t.ReplyEnded)[0].event
    assert not reply_end.interrupted and reply_end.spoken_text == " ".join(LONG_REPLY.split())
    final = [r.event for r in caller.events if is_final(r.event)][-1]
    assert "operator" in final.transcript.lower()


def test_cancel_reply_from_the_client(service, engine):
    script = [Say(audio(QUESTION)), WaitFor(is_final), Send(t.ReplyTextInput(LONG_REPLY, end_of_reply=True)),
              WaitFor(lambda e: isinstance(e, t.ReplyAudio)), Silence(0.5), Send(t.CancelReply()),
              WaitFor(ended()), Silence(0.2)]
    caller = run(service, phone(reply_source="client", greeting=False), Caller(script))
    assert not caller.of(t.BargeIn)
    assert caller.of(t.ReplyEnded)[0].event.interrupted
    assert_freed(service, engine)


def test_caller_hangs_up_mid_reply_frees_everything(service, engine):
    async def main():
        caller = Caller([Say(audio(QUESTION)), WaitFor(is_final), Send(t.ReplyTextInput(LONG_REPLY, True)),
                         WaitFor(lambda e: isinstance(e, t.ReplyAudio)), Silence(0.3), Say(audio(BARGE)[:4000])])
        async with service.conversation.open() as call:
            async for event in call.run(phone(reply_source="client", greeting=False, pacing=t.Pacing.REALTIME),
                                        caller.inputs()):
                caller.hear(event)
                if isinstance(event, t.ReplyAudio) and len(caller.of(t.ReplyAudio)) == 30:
                    break  # the line drops while the reply plays and the caller speaks
        await asyncio.sleep(0.5)  # the synthesis step in flight (if any) finishes

    asyncio.run(main())
    assert_freed(service, engine)


def test_dtmf_digits_are_events_and_pound_ends_the_turn(service, engine):
    script = [Say(audio(QUESTION)[:8000]), Send(t.DtmfInput("4")), Send(t.DtmfInput("#")),
              WaitFor(is_final, timeout_s=5), Silence(0.2)]
    caller = run(service, phone(reply_source="none"), Caller(script))
    assert [r.event.digit for r in caller.of(t.DtmfEvent)] == ["4", "#"]
    # the turn ended on '#', not after the 600 ms of silence the endpointer would wait for
    ended_at = next(r.time for r in caller.of(t.SpeechEvent) if r.event.kind is t.SpeechEventKind.ENDED)
    assert ended_at < caller.sent[1][0] + 0.3
    assert any(is_final(r.event) for r in caller.events)
    with pytest.raises(ValueError, match="^dtmf: "):
        run(service, phone(reply_source="none"), Caller([Send(t.DtmfInput("x"))]))


def test_four_calls_at_once(service, engine):
    async def main():
        callers = [Caller([WaitFor(ended()), Say(audio(QUESTION)), WaitFor(ended(2)), Silence(0.2)]) for _ in range(4)]
        await asyncio.gather(*(converse(service, phone(), c) for c in callers))
        return callers

    for caller in asyncio.run(main()):
        finals = [r.event for r in caller.events if is_final(r.event)]
        assert finals and finals[0].intent.intent == "talk_to_agent"
        assert len(caller.of(t.ReplyEnded)) == 2
    assert_freed(service, engine)


class Webhook:
    """A reply webhook on 127.0.0.1: records turns, answers in two chunks."""

    def __init__(self, status=200):
        self.turns = []
        self.status = status

    async def handle(self, request):
        self.turns.append(await request.json())
        if self.status != 200:
            return web.Response(status=self.status)
        resp = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
        await resp.prepare(request)
        await resp.write(b"Let me find an agent for you, ")
        await asyncio.sleep(0.3)
        await resp.write(b"please stay on the line.")
        await resp.write_eof()
        return resp


@pytest.mark.parametrize("status", [200, 500])
def test_webhook_reply_source(engine, status):
    hook = Webhook(status)

    async def main():
        app = web.Application()
        app.router.add_post("/turn", hook.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        config = engine.config.replace("conversation", reply_webhook=f"http://127.0.0.1:{port}/turn")
        svc = VoiceService(engine, config)
        try:
            return await converse(svc, phone(reply_source="webhook", call_id="call-7"),
                                  Caller([WaitFor(ended()), Say(audio(QUESTION)), WaitFor(ended(2)), Silence(0.2)]))
        finally:
            await svc.close()
            await runner.cleanup()

    caller = asyncio.run(main())
    (turn,) = hook.turns
    assert turn["call_id"] == "call-7" and turn["turn"] == 1 and turn["intent"] == "talk_to_agent"
    assert turn["language"] == "en" and "representative" in turn["transcript"].lower()
    json.dumps(turn)
    spoken = " ".join(r.event.text for r in caller.of(t.ReplySpoken) if r.event.reply_id == 2)
    if status == 200:
        assert spoken == "Let me find an agent for you, please stay on the line."
    else:  # a failing webhook: the domain's fallback, never silence
        assert spoken and spoken in " ".join(engine.dialogue.fallback["en"])


@pytest.mark.parametrize("mode", ["semantic", "silence"])
def test_turn_detection(service, engine, mode):
    """With the turn model, a finished sentence ends the turn before silence alone would
    (1.2 s in this mode; the model is asked 200 ms into the pause); with silence alone, after
    600 ms of it."""
    assert engine.turn is not None, "tools/fetch_smart_turn.py installs the model (make does)"

    async def main():
        caller = Caller([Say(audio(QUESTION)), Silence(0.3), WaitFor(is_final), Silence(0.2)])
        async with service.conversation.open() as call:
            async for event in call.run(phone(reply_source="none", turn_detection=mode), caller.inputs()):
                caller.hear(event)
        return caller, call.turn_scores

    caller, scores = asyncio.run(main())
    ended = next(r for r in caller.of(t.SpeechEvent) if r.event.kind is t.SpeechEventKind.ENDED)
    waited = ended.time - ended.event.time  # silence heard before the turn ended
    if mode == "semantic":
        assert scores and max(scores) >= 0.5 and waited < 1.1
    else:
        assert not scores and waited >= 0.6
    final = next(r.event for r in caller.events if is_final(r.event))
    assert final.intent.intent == "talk_to_agent"


FRENCH = SOUNDS / "fr" / "vm-reachoper.wav"  # another speaker: "tapez 0 pour joindre un opérateur" (fr)


@pytest.mark.parametrize("delay_ms, gain_db", [(40, -6), (120, -10), (250, -15)])
def test_the_reply_echo_never_barges_in_but_a_caller_over_it_does(service, engine, delay_ms, gain_db):
    """A speakerphone / hybrid echo of the reply comes back in the caller's channel: the server
    knows what it played and cancels it, so its own voice is not a barge-in; a real caller
    speaking over the reply (another speaker, with the echo still there) is."""
    echo = Echo(delay_ms=delay_ms, gain_db=gain_db)
    quiet = run(service, phone(echo_cancellation=True), Caller([WaitFor(ended()), Silence(0.5)], echo=echo))
    assert not quiet.of(t.BargeIn) and not quiet.of(t.ReplyEnded)[0].event.interrupted
    assert not [r for r in quiet.events if is_final(r.event)]  # the echo is not transcribed either
    french, _ = sf.read(FRENCH, dtype="float32")
    talker = run(service, phone(echo_cancellation=True, reply_source="client", greeting=False),
                 Caller([Say(audio(QUESTION)), WaitFor(is_final), Send(t.ReplyTextInput(LONG_REPLY, True)),
                         WaitFor(lambda e: isinstance(e, t.ReplyAudio)), Silence(1.5), Say(french), Silence(0.3),
                         WaitFor(ended()), Silence(0.2)], echo=echo))
    (barge,) = talker.of(t.BargeIn)
    assert barge.time < talker.said[1][1]  # while the second speaker was still talking
    assert_freed(service, engine)
