"""Drives one recognition stream: session events -> decode jobs -> plain results, in order.

Protocol-free; :class:`voice.service.recognition.StreamCall` feeds it input and hands on what
:meth:`StreamDriver.outputs` yields. Policies:

* Finals are decoded in utterance order, at FINAL priority on the shared scheduler. When
  trailing silence begins, a *speculative* final decode starts on exactly the audio the final
  will have; if the endpoint confirms it (no speech resumed), its result is the final, so the
  endpointer's silence wait overlaps the decode.
* Interims re-decode the open utterance at INTERIM priority (a newer one replaces a queued
  one; none is submitted while finals wait; the cadence slows with the scheduler's load).
  :class:`~voice.stability.LocalAgreement` splits each into a committed prefix (never changes;
  later decodes are forced to start with it, finals included) and an unstable tail.
* At most ``MAX_PENDING_UTTERANCES`` finals wait per stream: beyond that :meth:`push` blocks,
  so a client sending faster than real time is slowed by gRPC flow control, not buffered.
* Language (:class:`~voice.core.languages.StreamLanguage`): with candidates, every decode
  prefers the language the stream has been speaking (else the declared one); numeric finals
  ("3, 2, 3, 2.") neither set nor change it and are reported in it; an interim commits its
  utterance's language only when its text carries one.
* Expected answers (:meth:`set_expect`, a control message between utterances): decodes of
  finals not yet submitted are constrained to that kind of answer, and the final carries
  its normalised value (:mod:`voice.core.answers`). Finals are inverse-text-normalised
  (:mod:`voice.core.itn`: spoken numbers as digits) unless the stream asked for verbatim.
* N-best (``alternatives`` > 1): finals carry the beam's next-best distinct transcripts;
  interims never ask for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace

from ..core.answers import Expect
from ..core.audio import SAMPLE_RATE, Encoding
from ..core.intents import NONE_INTENT, IntentResult
from ..core.languages import StreamLanguage, interim_commits_language
from ..core.results import RecognitionResult, WordResult, build_result
from ..core.session import (
    InterimRequest,
    RecognitionSession,
    SpeculativeFinal,
    SpeechEnded,
    SpeechStarted,
    SpeechTimeout,
    StreamOptions,
    Utterance,
)
from ..core.stability import LocalAgreement
from ..core.transcripts import DecodeOptions, Transcript, Word
from ..runtime.engine import SpeechEngine
from ..runtime.scheduler import DecodeScheduler, Priority
from .files import shape_final, understand_or_none
from .types import InterimUpdate, SpeechEvent, SpeechEventKind, StreamOutput

_LOGGER = logging.getLogger(__name__)

MAX_PENDING_UTTERANCES = 4
MAX_PENDING_OUTPUTS = 64
COMMITTED_STABILITY = 0.95
TAIL_STABILITY = 0.1
# trailing silence after which interims stop (a final decode is coming)
INTERIM_SKIP_SILENCE_S = 0.1

_ids = itertools.count()


@dataclass(frozen=True)
class Speculation:
    """A final decode started when trailing silence began, valid while speech has not resumed."""

    index: int  # utterance
    end: float  # stream seconds where its speech ends
    future: asyncio.Future
    expect: Expect = Expect.FREE  # the answer it was decoded for
    length: tuple[int, int] = (0, 0)  # and that answer's expected length


UNFORCED = (Expect.DIGITS, Expect.SPELLING)  # finals not forced to start with the committed prefix


class StreamDriver:
    def __init__(self, engine: SpeechEngine, options: StreamOptions, beam_size: int, hints: tuple[str, ...] = (),
                 candidates: tuple[str, ...] = (), intent_context: Callable[[], dict | None] | None = None,
                 expect: Expect = Expect.FREE, verbatim: bool = False, alternatives: int = 1,
                 length: tuple[int, int] = (0, 0)):
        self.engine = engine
        self.scheduler: DecodeScheduler = engine.scheduler
        self.options = options
        self.session = RecognitionSession(options)
        self.stream_id = next(_ids)
        self._recognizer = engine.recognizer(options.model)
        self._base = DecodeOptions(language=options.language, candidates=candidates, beam_size=beam_size,
                                   word_timestamps=options.word_time_offsets, hints=hints,
                                   alternatives=alternatives)
        self._out: asyncio.Queue = asyncio.Queue(MAX_PENDING_OUTPUTS)
        self._bytes_per_s = options.sample_rate * (2 if options.encoding is Encoding.LINEAR16 else 1)
        self._finals: asyncio.Queue = asyncio.Queue(MAX_PENDING_UTTERANCES)
        self._agreement: LocalAgreement = LocalAgreement()
        self._agreement_index = 0
        self._final_submitted = -1  # highest utterance index whose final decode was submitted
        self._speculation: Speculation | None = None
        self._language: dict[int, str] = {}  # utterance -> language decided by an interim
        self.language = StreamLanguage(options.language, candidates)
        self._expect = expect  # the answer expected from finals submitted from now on
        self._length = length  # and its length ((min, max) characters, 0 = no bound)
        # utterance -> the answer (and its length) its final was decoded for
        self._expects: dict[int, tuple[Expect, tuple[int, int]]] = {}
        self._verbatim = verbatim
        self._tasks: set[asyncio.Task] = set()
        self._decoder = asyncio.create_task(self._decode_finals())
        self.interims_sent = 0
        self._last_intent = ""
        # the context each final is understood in (a conversation's dialogue state), else the
        # stream's previous intent
        self._intent_context = intent_context

    # -- input --------------------------------------------------------------------------
    async def push(self, data: bytes, flush: bool = False) -> None:
        self.engine.telemetry.audio("recognition", len(data) / self._bytes_per_s)
        await self._handle(self.session.push(data) if data else [])
        if flush:
            await self._handle(self.session.flush())

    def set_expect(self, expect: Expect, length: tuple[int, int] = (0, 0)) -> None:
        """The answer (and its length) expected from now on: every final not yet submitted
        (the utterance in progress included) is decoded for it."""
        self._expect = expect
        self._length = length

    async def speculate(self) -> None:
        """Start the open utterance's final decode now, on the audio it would have if the turn
        ended here (used if it does, dropped if speech resumes)."""
        await self._handle(self.session.speculate())

    async def end_turn(self) -> None:
        """End the open utterance where its speech ended (a turn model decided it is over)."""
        await self._handle(self.session.end_turn())

    async def finish(self) -> None:
        """End of input: close the open utterance; outputs() ends after its final."""
        await self._handle(self.session.finish())
        await self._finals.put(None)

    # -- output -------------------------------------------------------------------------
    async def outputs(self) -> AsyncIterator[StreamOutput]:
        while (item := await self._out.get()) is not None:
            yield item
        await self._decoder  # re-raise a decoder failure

    async def close(self) -> None:
        """Free everything: cancel tasks and the stream's waiting jobs (client gone or done)."""
        self.scheduler.forget(self.stream_id)
        for task in [self._decoder, *self._tasks]:
            task.cancel()
        for task in [self._decoder, *self._tasks]:
            with contextlib.suppress(BaseException):
                await task

    # -- internals ----------------------------------------------------------------------
    def _options(self, index: int, interim: bool) -> DecodeOptions:
        opts = self._base
        # a digit string's final is decoded afresh: an interim that missed the first digit
        # must not force the final to start without it
        if (index == self._agreement_index and self._agreement.committed
                and not (self._expect in UNFORCED and not interim)):
            opts = replace(opts, prefix=self._agreement.committed_text())
        if index in self._language:
            opts = replace(opts, language=self._language[index], candidates=())
        elif opts.candidates:
            opts = replace(opts, language=self.language.preferred, language_margin=self.language.margin)
        elif opts.language is None and self.language.spoken:
            # free detection, but the stream has spoken a language: every language is a
            # candidate and that one is preferred (the same rule)
            opts = replace(opts, candidates=tuple(sorted(self._recognizer.languages)),
                           language=self.language.spoken, language_margin=self.language.margin)
        # n-best on finals only: an interim is one greedy reading
        return replace(opts, interim=interim, expect=self._expect.value,
                       alternatives=1 if interim else opts.alternatives,
                       answer_length=(0, 0) if interim else self._length)

    def _submit(self, priority: int, audio, opts: DecodeOptions) -> asyncio.Future:
        rec = self._recognizer
        routed = self.engine.model_for(self.options.model, opts.language)  # [asr.routes] by language
        if routed:
            rec = self.engine.recognizer(routed)
        return self.scheduler.submit(priority, self.stream_id, rec.transcribe, audio, opts,
                                     batch=rec.transcribe_batch, key=rec.batch_key(opts), audio_s=len(audio) / SAMPLE_RATE)

    def _speculation_for(self, index: int) -> bool:
        """Is a still-valid speculative final running for utterance ``index``?"""
        spec = self._speculation
        if spec is None:
            return False
        if self.session.last_speech_end > spec.end + 1e-9:  # speech resumed: stale
            self.scheduler.cancel(spec.future)
            self._speculation = None
            return False
        return spec.index == index

    async def _handle(self, events) -> None:
        self._speculation_for(-1)  # drop a stale speculation
        for event in events:
            if isinstance(event, SpeechStarted):
                await self._out.put(SpeechEvent(SpeechEventKind.STARTED, event.time, event.utterance_index))
            elif isinstance(event, SpeechEnded):
                await self._out.put(SpeechEvent(SpeechEventKind.ENDED, event.time, event.utterance_index))
            elif isinstance(event, SpeechTimeout):
                await self._out.put(SpeechEvent(SpeechEventKind.TIMEOUT, event.time, self.session.utterance_index))
            elif isinstance(event, SpeculativeFinal):
                if self.scheduler.waiting_finals == 0:
                    future = self._submit(Priority.FINAL, event.audio, self._options(event.index, interim=False))
                    self._speculation = Speculation(event.index, event.end, future, self._expect, self._length)
            elif isinstance(event, Utterance):
                spec = self._speculation
                self._final_submitted = event.index
                self._expects[event.index] = (self._expect, self._length)
                if (spec is not None and spec.index == event.index and spec.end == event.end
                        and spec.expect == self._expect and spec.length == self._length):
                    future = spec.future
                else:
                    if spec is not None:
                        self.scheduler.cancel(spec.future)
                    future = self._submit(Priority.FINAL, event.audio, self._options(event.index, interim=False))
                self._speculation = None
                await self._finals.put((event, future))  # blocks when too many wait: backpressure
            elif isinstance(event, InterimRequest):
                # no interim when the speaker may have stopped: the final (speculative) decode
                # is about to start and must not wait behind it on a busy worker
                if (self.scheduler.waiting_finals == 0 and self._final_submitted < event.index
                        and self.session.trailing_silence < INTERIM_SKIP_SILENCE_S
                        and not self._speculation_for(event.index)):
                    future = self._submit(Priority.INTERIM, event.audio, self._options(event.index, interim=True))
                    task = asyncio.create_task(self._interim_done(event, future))
                    self._tasks.add(task)
                    task.add_done_callback(self._interim_finished)

    def _interim_finished(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.error("interim decode failed", exc_info=task.exception())

    async def _interim_done(self, req: InterimRequest, future: asyncio.Future) -> None:
        transcript: Transcript | None = await future
        # stale (replaced), or the final is already on its way: committing now could contradict it
        if transcript is None or self._final_submitted >= req.index or self._speculation_for(req.index):
            return
        if req.index != self._agreement_index:
            self._agreement = LocalAgreement()
            self._agreement_index = req.index
        if self._base.candidates and interim_commits_language(
                transcript.language, transcript.language_probs.get(transcript.language, transcript.language_probability),
                len(req.audio) / SAMPLE_RATE, transcript.text, self.language.preferred):
            self._language.setdefault(req.index, transcript.language)
        words = list(transcript.words) or [Word(w, 0.0, 0.0, transcript.confidence) for w in transcript.text.split()]
        committed, tail = self._agreement.update(words)
        word_offsets = self.options.word_time_offsets
        if not committed and not tail:
            return
        both = build_result(req, transcript, False, word_offsets)
        self.session.set_interim_interval(self.options.interim_interval_s * max(1.0, self.scheduler.load))
        await self._out.put(InterimUpdate(
            committed=_part(both, committed, COMMITTED_STABILITY, req.audio_offset, word_offsets),
            tail=_part(both, tail, TAIL_STABILITY, req.audio_offset, word_offsets),
        ))
        self.interims_sent += 1

    async def _decode_finals(self) -> None:
        try:
            await self._decode_loop()
        except asyncio.CancelledError:
            raise
        except Exception:
            await self._out.put(None)  # wake outputs(), which re-raises this
            raise
        await self._out.put(None)

    async def _decode_loop(self) -> None:
        while (item := await self._finals.get()) is not None:
            utt, future = item
            transcript: Transcript = await future
            committed = self._agreement.committed_text() if self._agreement_index == utt.index else ""
            _LOGGER.debug("stream %d final %d: %.2f s of audio, committed %r, decoded %r", self.stream_id, utt.index,
                          len(utt.audio) / SAMPLE_RATE, committed, transcript.text)
            if transcript.empty and committed:
                # the decode rejected the audio, but words were promised: keep them
                words = tuple(w for w in self._agreement.committed if isinstance(w, Word))
                transcript = Transcript(committed, transcript.language or (self.options.language or ""),
                                        transcript.language_probability, transcript.confidence, words)
            self._language.pop(utt.index, None)
            expect, length = self._expects.pop(utt.index, (Expect.FREE, (0, 0)))
            if not transcript.empty:
                result = self._shape(build_result(utt, transcript, True, self.options.word_time_offsets),
                                     len(utt.audio) / SAMPLE_RATE, expect, length)
                self.engine.telemetry.stage("endpoint_to_final", result.latency)
                if self.options.intent and self.engine.intents is not None:
                    result = replace(result, intent=await self._understand(result))
                await self._out.put(result)

    def _shape(self, result: RecognitionResult, seconds: float, expect: Expect,
               length: tuple[int, int] = (0, 0)) -> RecognitionResult:
        """A final as the caller gets it: the language the stream rule reports, the answer's
        value, spoken numbers written as digits (unless verbatim)."""
        language = self.language.observe(result.language, result.transcript, seconds)
        return shape_final(result, language, expect, self._verbatim, length)

    async def _understand(self, result: RecognitionResult) -> IntentResult | None:
        if self._intent_context is not None:
            context = self._intent_context()
        else:
            context = {"previous_intent": self._last_intent} if self._last_intent else None
        intent = await self.engine.run_nlu(understand_or_none, self.engine.intents, result, context)
        if intent is not None and intent.intent != NONE_INTENT:
            self._last_intent = intent.intent
        return intent


def _part(result: RecognitionResult, words: list, stability: float, offset: float, word_offsets: bool) -> RecognitionResult:
    text = " ".join(w.word if isinstance(w, Word) else str(w) for w in words).strip()
    timed = tuple(
        WordResult(w.word, round(offset + w.start, 3), round(offset + w.end, 3), w.confidence)
        for w in words if isinstance(w, Word) and w.end > 0
    ) if word_offsets else ()
    return replace(result, transcript=text, stability=stability, words=timed)
