"""The Asterisk AudioSocket door with the real models: one whole call over TCP on 127.0.0.1,
driven by the protocol-level peer :class:`voice.testing.audiosocket_peer.Peer` (a phone line
sending 20 ms frames at real-time pace, recording every frame it receives with its arrival
time): greeting, question and reply, barge-in, DTMF, hang-up. Malformed frames, limits and
vanished callers: tests/integration/test_audiosocket_errors.py."""

from __future__ import annotations

import asyncio
import itertools
import logging

from voice.api.audiosocket import AudioSocketServer
from voice.service import VoiceService
from voice.service import types as t
from voice.testing.audiosocket_peer import (
    FRAME_BYTES,
    LOGGER,
    Peer,
    assert_no_traceback,
    bridge_records,
    frame,
    pcm,
    poll_freed,
)
from voice.testing.prompts import SOUNDS

QUESTION = SOUNDS / "en" / "queue-callswaiting.wav"  # "Waiting to speak with a representative"
BARGE = SOUNDS / "en" / "vm-reachoper.wav"  # "press 0 to reach an operator"


def spy_events(service: VoiceService) -> list[tuple[float, object]]:
    """Record every conversation event the door gets from the service (with the loop time)."""
    events: list[tuple[float, object]] = []
    open_call = service.conversation.open

    def opened():
        call = open_call()
        run = call.run

        async def recorded(config, inputs):
            events.append((asyncio.get_running_loop().time(), config))
            async for event in run(config, inputs):
                events.append((asyncio.get_running_loop().time(), event))
                yield event

        call.run = recorded
        return call

    service.conversation.open = opened
    return events


def test_call_greeting_question_reply_barge_in_dtmf_hang_up(engine, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    question, barge = pcm(QUESTION), pcm(BARGE)

    async def main():
        service = VoiceService(engine)
        events = spy_events(service)
        server = AudioSocketServer(service, "127.0.0.1", 0)
        port = await server.start()
        peer = Peer(port)
        loop = asyncio.get_running_loop()
        try:
            t0 = loop.time()
            await peer.start_call()
            # the greeting plays: 320-byte frames, about 50 a second, mostly voiced
            greeting_end = await peer.quiet(0.5)
            greeting = peer.audio()
            assert server.active_calls == 1
            first_greeting = greeting[0][0] - t0
            rate = (len(greeting) - 1) / (greeting[-1][0] - greeting[0][0])
            voiced_share = len(peer.voiced()) / len(greeting)
            assert {len(p) for _, p in greeting} == {FRAME_BYTES}
            assert 40 <= rate <= 60, rate
            assert voiced_share > 0.5, voiced_share
            # the question; the reply (talk_to_agent) comes after it
            _, q_end = await peer.say(question)
            reply_first = await peer.voiced_after(q_end)
            await asyncio.sleep(1.2)  # the reply plays (into its second sentence)...
            b_start, b_end = await peer.say(barge)  # ...and the caller speaks over it
            await asyncio.sleep(1.5)
            peer.send(frame(0x03, b"5"))
            await asyncio.sleep(0.3)
            hang_up_at = loop.time()
            await peer.hang_up()
            await asyncio.wait_for(peer.closed.wait(), 5)
            closed_after = loop.time() - hang_up_at
            await poll_freed(service, engine, server)
        finally:
            await peer.close()
            await server.stop()
            await service.close()
        return peer, events, {"first_greeting": first_greeting, "rate": rate, "voiced_share": voiced_share,
                              "greeting_end": greeting_end, "q_end": q_end, "reply_first": reply_first,
                              "b_start": b_start, "b_end": b_end, "hang_up_at": hang_up_at,
                              "closed_after": closed_after}

    peer, events, m = asyncio.run(main())
    # every audio frame from the server is exactly 20 ms; the server ended with nothing else
    assert {len(p) for _, p in peer.audio()} == {FRAME_BYTES}
    assert set(peer.kinds()) == {0x10} and not peer.truncated
    # the door ran the phone's config
    (config,) = [e for _, e in events if isinstance(e, t.ConversationConfig)]
    assert config.call_id == str(peer.call_id) and config.pacing is t.Pacing.REALTIME
    assert (config.input_encoding, config.input_sample_rate_hertz) == ("LINEAR16", 8000)
    assert (config.output_encoding, config.output_sample_rate_hertz, config.output_chunk_ms) == ("LINEAR16", 8000, 20)
    assert config.reply_source == "intents" and config.language_code == ""
    # the service's view: the question's intent, its reply, the barge-in on it, the digit
    finals = [e for _, e in events if isinstance(e, t.RecognitionResult) and e.is_final]
    assert finals[0].intent.intent == "talk_to_agent"
    started = {e.reply_id: e for _, e in events if isinstance(e, t.ReplyStarted)}
    # language "" (the default): the service picks the greeting's language itself
    assert started[1].text in engine.dialogue.greeting.values()
    assert started[2].text in engine.dialogue.intents["talk_to_agent"].responses["en"]
    (barge_event,) = [(at, e) for at, e in events if isinstance(e, t.BargeIn)]
    assert barge_event[1].reply_id == 2
    assert not [at for at, e in events if isinstance(e, t.ReplyAudio) and e.reply_id == 2 and at > barge_event[0]]
    assert [e.digit for _, e in events if isinstance(e, t.DtmfEvent)] == ["5"]
    # the reply came after the question
    assert m["reply_first"] > m["q_end"]
    # the wire's view: after the barge-in speech began, the reply's frames stop, and a gap of
    # at least 600 ms without voiced audio follows before any later reply
    voiced = peer.voiced(m["b_start"]) + [m["hang_up_at"]]
    times = [m["b_start"]] + voiced
    gaps = [(b - a, a) for a, b in itertools.pairwise(times)]
    gap, stopped_at = next((g, a) for g, a in gaps if g >= 0.6)
    assert stopped_at < m["b_end"]  # the reply stopped while the caller was still speaking
    sent_after = [at for at, _ in peer.audio(m["b_start"])]  # any frame, voiced or not
    last_frame = max((at for at in sent_after if at < stopped_at + gap), default=m["b_start"])
    print(f"\nfirst greeting frame {m['first_greeting'] * 1000:.0f} ms after connect; "
          f"{m['rate']:.1f} frames/s, {m['voiced_share']:.0%} voiced")
    print(f"question end -> first reply frame: {(m['reply_first'] - m['q_end']) * 1000:.0f} ms")
    print(f"barge-in speech began -> last voiced reply frame {(stopped_at - m['b_start']) * 1000:.0f} ms, "
          f"last reply frame {(last_frame - m['b_start']) * 1000:.0f} ms "
          f"(service BargeIn event after {(barge_event[0] - m['b_start']) * 1000:.0f} ms, "
          f"played {barge_event[1].played_s:.2f} s, heard {barge_event[1].spoken_text!r}); "
          f"then {gap * 1000:.0f} ms without reply audio")
    print(f"hang-up -> connection closed: {m['closed_after'] * 1000:.0f} ms")
    records = bridge_records(caplog)
    ends = [r for r in records if "ended" in r.getMessage()]
    assert len(ends) == 1 and ends[0].levelno == logging.INFO and "hang-up" in ends[0].getMessage()
    assert str(peer.call_id) in ends[0].getMessage()
    assert_no_traceback(caplog)
