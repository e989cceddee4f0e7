"""A full-duplex conversation: the caller's audio in, transcripts, intents and spoken replies
out, with barge-in decided on the server. Every door (gRPC ``Conversation.Converse``, the
telephone bridges, later WebSockets) drives :meth:`ConversationCall.run`.

Per call:

* the caller's audio is decoded to 16 kHz, cleaned of the reply's own echo
  (:class:`kernels.EchoCanceller`, with what was playing as the reference,
  :class:`~voice.core.conversation.ReferenceTrack`) and recognised by a
  :class:`~voice.service.stream.StreamDriver` that never stops, so a caller who barges in is
  heard from the first syllable (pre-roll kept);
* each final goes to the reply source (:mod:`voice.service.replies`), whose text is spoken
  as it arrives (:meth:`~voice.service.synthesis.SynthesisService.stream_text`);
* time is the input stream's (:mod:`voice.core.conversation`): a :class:`PlayoutClock` knows
  what the caller has heard; with ``Pacing.REALTIME`` (phone bridges) reply audio is handed
  out in 20 ms frames only as fast as it plays, so stopping it is immediate;
* caller speech that lasts ``min_speech`` over an interruptible reply is a barge-in: the reply
  stops within one frame, its synthesis is cancelled, and the event says how much played and
  which words the caller heard.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..config import ConversationConfigDefaults
from ..core.audio import SAMPLE_RATE, Encoding, check_rate
from ..core.errors import InvalidArgument
from .call import ConversationCall
from .recognition import PreparedRecognition, parse_encoding
from .types import (
    ConversationConfig,
    Pacing,
    RecognitionConfig,
    ReplySource,
    SynthesisRequest,
)

if TYPE_CHECKING:
    from ..runtime.engine import SpeechEngine
    from .admission import Admission
    from .recognition import RecognitionService
    from .synthesis import SynthesisService

REALTIME_FRAME_MS = 20
# with semantic turns, silence alone ends a turn only after this long (a pause mid-sentence)
HOLD_SILENCE_MS = 1200
# with semantic turns, the silence after speech that a final decodes (streams: TAIL_MS); the
# speculative final starts once it has passed (voice.service.call.SPECULATE_AFTER_S)
SEMANTIC_TAIL_MS = 120


@dataclass(frozen=True)
class PreparedConversation:
    recognition: PreparedRecognition
    input_encoding: Encoding
    input_rate: int
    reply: SynthesisRequest  # voice and output format (text empty)
    source: ReplySource
    min_speech_s: float
    frame_ms: int
    pacing: Pacing
    semantic_turns: bool  # the turn model ends turns (see voice.service.call: turn checks)


class ConversationService:
    def __init__(self, engine: SpeechEngine, admission: Admission, ready_check: Callable[[], None],
                 recognition: RecognitionService, synthesis: SynthesisService,
                 defaults: ConversationConfigDefaults | None = None):
        self.engine = engine
        self._admission = admission
        self._check_ready = ready_check
        self.recognition = recognition
        self.synthesis = synthesis
        self.defaults = defaults or engine.config.conversation
        self._http = None  # aiohttp.ClientSession for the reply webhook, made on first use

    def prepare(self, config: ConversationConfig) -> PreparedConversation:
        """Check ``config``; errors name ``config.<field>``."""
        encoding = parse_encoding(config.input_encoding, "config.input_encoding")
        rate = check_rate(config.input_sample_rate_hertz, "config.input_sample_rate_hertz")
        turns = config.turn_detection or self.defaults.turn_detection
        if turns not in ("", "semantic", "silence"):
            raise InvalidArgument("config.turn_detection", f"must be semantic or silence, got {turns!r}")
        if turns == "semantic" and self.engine.turn is None:
            raise InvalidArgument("config.turn_detection", "this server has no turn model (tools/fetch_smart_turn.py)")
        semantic = turns != "silence" and self.engine.turn is not None
        endpointing = config.endpointing
        if semantic and endpointing.trailing_silence_ms is None:  # the model ends turns; silence holds pauses
            endpointing = replace(endpointing, trailing_silence_ms=HOLD_SILENCE_MS)
        recognition = self.recognition.prepare(RecognitionConfig(
            encoding=Encoding.LINEAR16.value, sample_rate_hertz=SAMPLE_RATE, language_code=config.language_code,
            alternative_language_codes=config.alternative_language_codes, endpointing=endpointing,
            model=config.model, phrase_hints=config.phrase_hints,
            enable_intent=config.enable_intent and self.engine.intents is not None,
        ), interim_results=config.interim_results)
        if semantic:
            recognition = replace(recognition, options=replace(recognition.options, tail_ms=SEMANTIC_TAIL_MS))
        try:
            source = ReplySource(config.reply_source or ReplySource.INTENTS.value)
        except ValueError:
            raise InvalidArgument("config.reply_source", f"unknown reply source {config.reply_source!r} "
                                  f"({', '.join(s.value for s in ReplySource)})") from None
        if source is ReplySource.WEBHOOK and not self.defaults.reply_webhook:
            raise InvalidArgument("config.reply_source", "no reply webhook is configured on this server "
                                  "(--reply-webhook / conversation.reply_webhook)")
        if source is ReplySource.INTENTS and self.engine.intents is None:
            raise InvalidArgument("config.reply_source", "intent understanding is disabled on this server")
        frame_ms = config.output_chunk_ms or (REALTIME_FRAME_MS if config.pacing is Pacing.REALTIME else 0)
        reply = SynthesisRequest(text="", voice=config.voice, language_code=config.language_code,
                                 encoding=config.output_encoding, sample_rate_hertz=config.output_sample_rate_hertz or rate,
                                 chunk_duration_ms=frame_ms)
        try:  # the output format, checked now rather than at the first reply
            self.synthesis.prepare(replace(reply, text="x"), streaming=True)
        except InvalidArgument as exc:
            raise exc.within("config").renamed(_OUTPUT_FIELDS) from None
        min_speech_ms = config.barge_in.min_speech_ms or self.defaults.barge_in_min_speech_ms
        if not 20 <= min_speech_ms <= 3000:
            raise InvalidArgument("config.barge_in.min_speech_ms", f"must be between 20 and 3000, got {min_speech_ms}")
        return PreparedConversation(recognition, encoding, rate, reply, source, min_speech_ms / 1000, frame_ms,
                                    config.pacing, semantic)

    def open(self) -> ConversationCall:
        """Admit a call now, before its config is awaited (see ``open_stream``)."""
        self._check_ready()
        return ConversationCall(self, self._admission.admit("conversation"))

    def http(self):
        if self._http is None:
            import aiohttp

            self._http = aiohttp.ClientSession()
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None


_OUTPUT_FIELDS = {"config.encoding": "config.output_encoding",
                  "config.sample_rate_hertz": "config.output_sample_rate_hertz",
                  "config.chunk_duration_ms": "config.output_chunk_ms"}

