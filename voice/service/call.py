"""One admitted conversation (see :mod:`voice.service.conversation`): three tasks and the
state they share.

* the reader takes the caller's input: audio (decoded, echo-cancelled, recognised; it also
  advances the call's clock and checks for barge-in), reply text, cancel, playback marks, DTMF;
* the recogniser forwards speech events and transcripts and hands each final to the reply
  source;
* one reply at a time is spoken (a later one waits for the current one to end); with realtime
  pacing its audio is released frame by frame as the clock advances.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Self

import kernels

from ..core.audio import SAMPLE_RATE, AudioDecoder, Encoding
from ..core.conversation import (
    BargeInDetector,
    EchoGate,
    PlayoutClock,
    ReferenceTrack,
    SpokenText,
)
from ..core.dialogue import DialoguePolicy
from ..core.errors import InvalidArgument
from ..core.results import RecognitionResult
from .admission import Ticket
from .replies import ClientReply, Dialogue, Turn, once, webhook
from .stream import StreamDriver
from .synthesis import MAX_TEXT_CHARS
from .types import (
    AudioInput,
    BargeIn,
    CancelReply,
    ConversationConfig,
    ConversationEvent,
    ConversationInput,
    DtmfEvent,
    DtmfInput,
    InterimUpdate,
    Pacing,
    PlaybackMark,
    ReplyAudio,
    ReplyEnded,
    ReplySource,
    ReplySpoken,
    ReplyStarted,
    ReplyTextInput,
    SpeechEvent,
    SpeechEventKind,
)

if TYPE_CHECKING:
    from .conversation import ConversationService

_LOGGER = logging.getLogger(__name__)

REALTIME_LEAD_S = 0.04  # reply audio handed out ahead of playback with realtime pacing
# semantic turns: the turn model is asked at these points of a pause (seconds of silence), and
# the turn ends when its probability that the caller has finished reaches the bar for that
# point: sure early, less sure later (a pause mid-sentence rarely lasts long); silence alone
# ends the turn at HOLD_SILENCE_MS (voice.service.conversation)
TURN_CHECKS = ((0.2, 0.85), (0.45, 0.7), (0.75, 0.5))
# the final's decode starts this far into a pause (once its tail audio is there: see
# voice.service.conversation.SEMANTIC_TAIL_MS), ahead of the first check, so that a turn the
# model ends there has its final nearly ready; dropped if speech resumes
SPECULATE_AFTER_S = 0.12
ECHO_UTTERANCE_SHARE = 0.7  # an utterance this much echo is the reply's voice: not transcribed
MAX_OUTPUTS = 256
DTMF_DIGITS = frozenset("0123456789*#ABCD")
END_OF_TURN_DIGIT = "#"
_END = object()


@dataclass(eq=False)
class _Reply:
    id: int
    interruptible: bool
    clock: PlayoutClock = field(default_factory=PlayoutClock)
    spoken: SpokenText = field(default_factory=SpokenText)
    task: asyncio.Task | None = None
    client: ClientReply | None = None
    turn_end: float | None = None  # stream seconds where the caller's turn it answers ended


class ConversationCall:
    """Use as ``async with service.open() as call: async for event in call.run(config, inputs)``."""

    def __init__(self, service: ConversationService, ticket: Ticket):
        self._service = service
        self._ticket = ticket
        self._tasks: set[asyncio.Task] = set()
        self._failures: set[asyncio.Future] = set()  # keeps the futures reporting task failures
        self._reply: _Reply | None = None
        self._client_reply: ClientReply | None = None
        self._ids = 0
        self.driver: StreamDriver | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc) -> None:
        try:
            for task in list(self._tasks):
                task.cancel()
            for task in list(self._tasks):
                with contextlib.suppress(BaseException):
                    await task
            if self.driver is not None:
                await self.driver.close()
        finally:
            self._ticket.release()

    # -- the call ---------------------------------------------------------------------------
    async def run(self, config: ConversationConfig, inputs: AsyncIterator[ConversationInput]
                  ) -> AsyncIterator[ConversationEvent]:
        service = self._service
        self._p = p = service.prepare(config)
        self._config = config
        engine = service.engine
        tables = getattr(engine, "dialogue", None)
        self._dialogue = Dialogue(DialoguePolicy(tables) if tables is not None else None)
        self.driver = StreamDriver(engine, p.recognition.options, engine.config.asr.beam_size, p.recognition.hints,
                                   p.recognition.candidates, intent_context=self._dialogue.context)
        self._decoder = AudioDecoder(p.input_encoding, p.input_rate)
        self._aec = kernels.EchoCanceller(SAMPLE_RATE) if config.echo_cancellation else None
        self._reference = ReferenceTrack()
        self._gate = EchoGate(SAMPLE_RATE)
        self._echo_share: dict[int, list[int]] = {}  # utterance -> [echo frames, frames]
        self._barge = BargeInDetector(p.min_speech_s, config.barge_in.enabled)
        self._position = 0  # input samples (16 kHz) received: the call's clock
        self._tick = asyncio.Event()
        self._input_done = False
        self._speaking = asyncio.Lock()
        self._replies: set[asyncio.Task] = set()
        self._turns = 0
        self._turn_asked: dict[tuple[int, float], int] = {}
        self.turn_scores: list[float] = []  # the turn model's answers (benchmarks read them)
        self._dtmf = ""
        self._out: asyncio.Queue = asyncio.Queue(MAX_OUTPUTS)
        self._error: InvalidArgument | None = None
        if config.greeting and p.source in (ReplySource.INTENTS, ReplySource.WEBHOOK):
            greeting = self._dialogue.greeting(config.language_code or self._dialogue_language())
            if greeting is not None:
                self._start_reply(once(greeting.text), config.language_code or self._dialogue_language(),
                                  p.source, text=greeting.text)
        self._spawn(self._read(inputs))
        self._spawn(self._recognise())
        while (item := await self._out.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
        if self._error is not None:
            raise self._error

    @property
    def now(self) -> float:
        return self._position / SAMPLE_RATE

    def _dialogue_language(self) -> str:
        """The greeting's language when the call's is not known: the intents file's first."""
        tables = self._service.engine.dialogue
        if tables is not None and tables.greeting:
            return next(iter(tables.greeting))
        intents = self._service.engine.intents
        return intents.languages[0] if intents is not None and intents.languages else "en"

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        self._replies.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._failures.add(asyncio.ensure_future(self._out.put(task.exception())))

    async def _emit(self, event) -> None:
        await self._out.put(event)

    def _advance(self) -> None:
        """Wake whoever waits for the clock (realtime pacing, play-out)."""
        self._tick.set()
        self._tick = asyncio.Event()

    async def _until(self, ready: Callable[[], bool]) -> None:
        while not ready() and not self._input_done:
            await self._tick.wait()

    # -- input ------------------------------------------------------------------------------
    async def _read(self, inputs: AsyncIterator[ConversationInput]) -> None:
        try:
            async for item in inputs:
                if isinstance(item, AudioInput):
                    if item.audio:
                        await self._audio(item.audio)
                    if item.flush:
                        await self.driver.push(b"", flush=True)
                elif isinstance(item, ReplyTextInput):
                    self._client_text(item)
                elif isinstance(item, CancelReply):
                    await self._stop_reply(None)
                elif isinstance(item, PlaybackMark):
                    if self._reply is not None:
                        self._reply.clock.mark(item.played_s, self.now)
                elif isinstance(item, DtmfInput):
                    await self._digit(item.digit)
        except InvalidArgument as exc:
            self._error = exc  # what was accepted is still finished, then the call fails
        self._input_done = True
        self._advance()
        if self._p.pacing is Pacing.REALTIME:  # no clock any more: nothing more can play
            await self._stop_reply(None)
        await self.driver.finish()

    async def _audio(self, data: bytes) -> None:
        audio = self._decoder.decode(data).audio
        reference = self._reference.read(self._position, audio.size)
        echo = self._gate.push(audio, reference)
        if self._aec is not None:
            audio = self._aec.process(audio, reference)
        self._barge.frame(echo)
        session = self.driver.session
        if session.in_utterance:  # how much of each utterance was only the reply's echo
            counts = self._echo_share.setdefault(session.utterance_index, [0, 0])
            counts[0] += echo
            counts[1] += 1
        self._position += audio.size
        await self.driver.push(kernels.float32_to_int16(audio).tobytes())
        self._advance()
        await self._check_barge()
        if self._p.semantic_turns:
            await self._check_turn()

    async def _check_turn(self) -> None:
        """Ask the turn model whether the caller has finished, at a few points of a pause."""
        session = self.driver.session
        if not session.in_utterance:
            return
        key = (session.utterance_index, session.last_speech_end)
        if session.trailing_silence >= SPECULATE_AFTER_S:
            await self.driver.speculate()  # once per pause (the session offers it once)
        asked = self._turn_asked.get(key, 0)
        if asked >= len(TURN_CHECKS) or session.trailing_silence < TURN_CHECKS[asked][0]:
            return
        self._turn_asked = {key: asked + 1}
        engine = self._service.engine
        complete = await engine.run_nlu(engine.turn.predict, session.open_audio())
        self.turn_scores.append(complete)
        if complete >= TURN_CHECKS[asked][1] and session.in_utterance and (session.utterance_index, session.last_speech_end) == key:
            await self.driver.end_turn()

    async def _digit(self, digit: str) -> None:
        if len(digit) != 1 or digit.upper() not in DTMF_DIGITS:
            raise InvalidArgument("dtmf", f"{digit!r} is not a DTMF digit (0-9 * # A-D)")
        await self._emit(DtmfEvent(digit.upper(), self.now))
        self._dtmf += digit.upper()
        if digit == END_OF_TURN_DIGIT:
            await self.driver.push(b"", flush=True)

    def _client_text(self, item: ReplyTextInput) -> None:
        if self._p.source is not ReplySource.CLIENT:
            raise InvalidArgument("reply_text", f"this conversation's replies come from {self._p.source.value}, "
                                  "not the client (config.reply_source)")
        reply = self._client_reply
        if reply is None or reply.ended:
            reply = self._client_reply = ClientReply(item.interruptible, MAX_TEXT_CHARS)
            self._start_reply(reply.texts(), self._config.language_code, ReplySource.CLIENT,
                              interruptible=item.interruptible, client=reply)
        reply.put(item.text, item.end_of_reply)

    # -- turns ------------------------------------------------------------------------------
    async def _recognise(self) -> None:
        async for item in self.driver.outputs():
            if isinstance(item, (RecognitionResult, InterimUpdate)) and self._only_echo(item):
                continue  # the reply's own voice, not the caller's: never a turn
            if isinstance(item, SpeechEvent):
                if item.kind is SpeechEventKind.STARTED:
                    self._barge.speech_started(item.time)
                elif item.kind is SpeechEventKind.ENDED:
                    self._barge.speech_ended()
            await self._emit(item)
            if isinstance(item, RecognitionResult) and item.is_final:
                self._turn(item)
        if self._replies:
            await asyncio.gather(*list(self._replies), return_exceptions=True)
        await self._emit(_END)

    def _only_echo(self, item) -> bool:
        index = item.utterance_index if isinstance(item, RecognitionResult) else item.committed.utterance_index
        echo, frames = self._echo_share.get(index, (0, 0))
        if isinstance(item, RecognitionResult) and item.is_final:
            self._echo_share.pop(index, None)
        return frames > 0 and echo / frames > ECHO_UTTERANCE_SHARE

    def _turn(self, result: RecognitionResult) -> None:
        self._turns += 1
        dtmf, self._dtmf = self._dtmf, ""
        source = self._p.source
        if source is ReplySource.INTENTS:
            reply = self._dialogue.reply(result)
            if reply is not None and reply.text:
                self._start_reply(once(reply.text), result.language, source, text=reply.text, turn_end=result.end)
        elif source is ReplySource.WEBHOOK:
            service = self._service
            turn = Turn(self._config.call_id, self._turns, result, dtmf)
            texts = webhook(service.http(), service.defaults.reply_webhook, turn, service.defaults.webhook_timeout_s,
                            self._dialogue.fallback(result.language))
            self._start_reply(texts, result.language, source, turn_end=result.end)

    # -- replies ----------------------------------------------------------------------------
    def _start_reply(self, texts: AsyncIterator[str], language: str, source: ReplySource, *,
                     interruptible: bool = True, text: str = "", client: ClientReply | None = None,
                     turn_end: float | None = None) -> None:
        self._ids += 1
        reply = _Reply(self._ids, interruptible, client=client, turn_end=turn_end)
        reply.task = self._spawn(self._speak(reply, texts, language, source, text))
        self._replies.add(reply.task)

    async def _speak(self, reply: _Reply, texts: AsyncIterator[str], language: str, source: ReplySource,
                     text: str) -> None:
        p = self._p
        async with self._speaking:
            self._reply = reply
            try:
                await self._emit(ReplyStarted(reply.id, source, reply.interruptible, text))
                request = replace(p.reply, language_code=p.reply.language_code or language)
                echo = AudioDecoder(Encoding(request.encoding or Encoding.LINEAR16.value), p.reply.sample_rate_hertz)
                clock = reply.clock
                async for chunk in self._service.synthesis.stream_text(request, texts):
                    if p.pacing is Pacing.REALTIME:
                        await self._until(lambda: clock.buffered_s(self.now) <= REALTIME_LEAD_S)
                        if self._input_done:
                            return
                    seconds = chunk.samples / chunk.sample_rate_hertz
                    first_audio = not clock.started
                    start = clock.send(seconds, self.now)
                    if first_audio and reply.turn_end is not None:
                        self._service.engine.telemetry.stage("voice_to_voice", max(0.0, start - reply.turn_end))
                    self._reference.write(echo.decode(chunk.audio).audio, int(round(start * SAMPLE_RATE)))
                    if chunk.text:
                        reply.spoken.add(chunk.text, chunk.offset_s)
                        await self._emit(ReplySpoken(reply.id, chunk.text))
                    reply.spoken.extend(seconds)
                    await self._emit(ReplyAudio(reply.id, chunk))
                reply.spoken.complete = True
                await self._until(lambda: clock.done(self.now))  # barge-in stays possible while it plays
                await self._emit(ReplyEnded(reply.id, False, clock.sent_s, reply.spoken.heard(clock.sent_s)))
            finally:
                if self._reply is reply:
                    self._reply = None

    async def _check_barge(self) -> None:
        reply = self._reply
        if reply is None:
            return
        onset = self._barge.check(self.now, True, reply.interruptible)
        if onset is not None:
            await self._stop_reply(onset)

    async def _stop_reply(self, onset: float | None) -> None:
        """Cut the playing reply now: by barge-in (``onset`` given) or on request."""
        reply = self._reply
        if reply is None or reply.task is None:
            return
        played = reply.clock.played_s(self.now)
        heard = reply.spoken.heard(played)
        self._reply = None
        reply.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reply.task
        self._reference.clear()
        if reply.client is not None:
            reply.client.stop()  # what the client still sends of this reply is dropped
        if onset is not None:
            self._service.engine.telemetry.event("barge_in")
            await self._emit(BargeIn(reply.id, played, heard, onset))
        await self._emit(ReplyEnded(reply.id, True, played, heard))
