"""The Wyoming door: one TCP listener, one :class:`WyomingConnection` per client.

A connection reads events without pausing and hands each request to a task, so a client
that goes away is noticed at once (EOF) and everything it held is freed: its recognition
stream (admission slot, decode jobs) and its synthesis. Replies go out in the order the
requests came in (each request's task waits for the one before). Input is bounded: audio
chunks and streamed text wait in small queues, and when a queue is full the connection stops
reading, so TCP flow control slows the sender.

The door's limits (:mod:`voice.api.ops.limits`) apply to each audio stream: no audio-chunk for
``server.idle_timeout_s``, or a stream longer than ``server.max_stream_seconds``, ends its
input; what was sent is still answered (``transcript``, ``transcript-stop``), then an
``error`` (code ``deadline-exceeded``) names the limit, and the stream's later chunks are
dropped until ``audio-stop``.

The listener only accepts connections once the engine is ready (``ready``, e.g. the gRPC
door's model loading), as Wyoming servers do: Home Assistant's ``describe`` then sees every
model, voice and intent, and a client that comes early simply waits for its connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from wyoming.asr import Transcribe, Transcript, TranscriptChunk, TranscriptStart, TranscriptStop
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.intent import Recognize
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped

from ...core.errors import InvalidArgument, ServiceError
from ...core.results import RecognitionResult
from ...service import VoiceService
from ...service.types import AudioInput, InterimUpdate, StreamingConfig, SynthesisRequest
from ..ops.limits import LimitHit, StreamClock, StreamLimits
from . import mapping
from .discovery import Advertiser

_LOGGER = logging.getLogger(__name__)

MAX_QUEUED_CHUNKS = 32  # audio chunks waiting for the recogniser (~2 s of Home Assistant's)
MAX_QUEUED_TEXTS = 256  # synthesize-chunk texts waiting for the synthesiser
SAMPLE_WIDTH = mapping.SAMPLE_WIDTH


class WyomingServer:
    """``port = await server.start()`` ... ``await server.stop()``."""

    def __init__(self, service: VoiceService, host: str, port: int, *, language: str = "",
                 zeroconf: bool = False, zeroconf_name: str = "",
                 ready: Callable[[], Awaitable[None]] | None = None):
        """``language``: the language of ``recognize`` requests that do not say ("" = English
        when the intents speak it, else their first language). ``ready``: awaited before the
        first connection is accepted (None: the service is ready already)."""
        self.service = service
        self.host = host
        self.port = port
        self.language = language
        self._ready = ready
        self._advertiser = Advertiser(0, zeroconf_name, host) if zeroconf else None
        self._server: asyncio.Server | None = None
        self._serving: asyncio.Task | None = None
        self._connections: dict[asyncio.Task, WyomingConnection] = {}
        self._info: Event | None = None

    @property
    def active_connections(self) -> int:
        return len(self._connections)

    async def start(self) -> int:
        """Bind (``port`` 0 = an ephemeral one) and return the port; connections are accepted
        once ``ready`` has returned."""
        self._server = await asyncio.start_server(self._accept, self.host, self.port, start_serving=False)
        self.port = self._server.sockets[0].getsockname()[1]
        self._serving = asyncio.create_task(self._serve())
        _LOGGER.info("Wyoming on %s:%d", self.host, self.port)
        return self.port

    async def _serve(self) -> None:
        if self._ready is not None:
            try:
                await self._ready()
            except Exception:
                _LOGGER.exception("Wyoming on port %d: the engine did not become ready; not serving", self.port)
                raise
        assert self._server is not None
        await self._server.start_serving()
        if self._advertiser is not None:
            self._advertiser.port = self.port
            await self._advertiser.start()

    async def wait_serving(self) -> None:
        """Return once connections are accepted."""
        if self._serving is not None:
            await self._serving

    async def stop(self, grace_s: float = 0.0) -> None:
        """Stop listening, give connections in progress up to ``grace_s`` to end by
        themselves, then close the rest (their streams and synthesis are cancelled)."""
        if self._advertiser is not None:
            await self._advertiser.stop()
        if self._serving is not None and not self._serving.done():
            self._serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._serving
        if self._server is not None:
            self._server.close()
        if self._connections and grace_s > 0:
            await asyncio.wait(list(self._connections), timeout=grace_s)
        while self._connections:
            for task, conn in list(self._connections.items()):
                await conn.stop()
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def info(self) -> Event:
        """The ``info`` event (built once: models, voices and intents do not change)."""
        if self._info is None:
            self._info = _describe(self.service).event()
        return self._info

    def default_language(self) -> str:
        if self.language:
            return self.language
        languages = _intent_languages(self.service)
        return "en" if "en" in languages or not languages else languages[0]

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._server is None or not self._server.is_serving():  # accepted just before stop()
            writer.close()
            return
        conn = WyomingConnection(self, reader, writer)
        task = asyncio.create_task(conn.serve())
        self._connections[task] = conn
        task.add_done_callback(lambda t: self._connections.pop(t, None))


def _describe(service: VoiceService):
    engine = service.engine
    default = engine.recognizer(None)
    names = list(dict.fromkeys([engine.config.asr.model, *engine.model_names]))
    models = [mapping.AsrModelInfo(name, tuple(default.languages) if name == engine.config.asr.model
                                   else ("en",) if name.endswith(".en") else tuple(default.languages))
              for name in names]
    intents = None
    try:
        infos, languages = service.understanding.list_intents()
        intents = (engine.intents.name, infos, languages)
    except ServiceError:  # intents switched off: no intent program
        pass
    return mapping.info(models, service.synthesis.voices(), intents)


def _intent_languages(service: VoiceService) -> tuple[str, ...]:
    try:
        return service.understanding.list_intents()[1]
    except ServiceError:
        return ()


# -- one connection -----------------------------------------------------------------------------

@dataclass
class _Recognition:
    """The open recognition stream: its format and its input queue (audio bytes, an error to
    end with, or None: end of audio)."""

    fmt: mapping.AudioFormat
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(MAX_QUEUED_CHUNKS))
    closed: bool = False
    limits: StreamLimits = StreamLimits()
    limit: LimitHit | None = None  # the limit that ended its input


@dataclass
class _TextStream:
    """The open streaming synthesis: its text queue (pieces, or None: synthesize-stop)."""

    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(MAX_QUEUED_TEXTS))
    closed: bool = False


class WyomingConnection(AsyncEventHandler):
    """One client: maps its events to the service and the results back."""

    def __init__(self, server: WyomingServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        super().__init__(reader, writer)
        self.server = server
        self.service = server.service
        self.peer = _peer(writer)
        self._transcribe: Transcribe | None = None
        self._recognition: _Recognition | None = None
        self._text: _TextStream | None = None
        self._last: asyncio.Task | None = None  # the latest request's task (replies go in order)
        self._tasks: set[asyncio.Task] = set()

    async def serve(self) -> None:
        try:
            await self.run()
        except (ConnectionError, OSError) as exc:
            _LOGGER.debug("Wyoming client %s: connection lost (%s)", self.peer, exc)
        except Exception:
            _LOGGER.exception("Wyoming client %s failed", self.peer)

    async def disconnect(self) -> None:
        """The client went away (or we stop): cancel its stream, synthesis and replies."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        if tasks:
            _LOGGER.debug("Wyoming client %s gone: %d request(s) cancelled", self.peer, len(tasks))

    # -- events ---------------------------------------------------------------------------
    async def handle_event(self, event: Event) -> bool:
        try:
            await self._dispatch(event)
        except InvalidArgument as exc:  # a malformed or out-of-place event: say so, go on
            self._reply(self._error, exc)
        except KeyError as exc:
            self._reply(self._error, InvalidArgument(event.type, f"missing field {exc.args[0]!r}"))
        except (TypeError, ValueError) as exc:
            self._reply(self._error, InvalidArgument(event.type, f"malformed event ({exc})"))
        except ServiceError as exc:
            self._reply(self._error, exc)
        return True

    async def _dispatch(self, event: Event) -> None:
        kind = event.type
        if Describe.is_type(kind):
            self._reply(self._write, self.server.info())
        elif Ping.is_type(kind):  # at once, not behind a reply in progress (satellites ping to keep alive)
            with contextlib.suppress(ConnectionError, OSError):
                await self._write(Pong(text=Ping.from_event(event).text).event())
        # recognition
        elif Transcribe.is_type(kind):
            self._transcribe = Transcribe.from_event(event)
        elif AudioStart.is_type(kind):
            await self._end_audio()
            self._open_recognition(mapping.AudioFormat.of(AudioStart.from_event(event)))
        elif AudioChunk.is_type(kind):
            await self._audio(AudioChunk.from_event(event))
        elif AudioStop.is_type(kind):
            if self._recognition is None:
                raise InvalidArgument("audio-stop", "no audio stream is open (send audio-start first)")
            await self._end_audio()
        # synthesis
        elif Synthesize.is_type(kind):
            if self._text is not None:
                return  # the full text a streaming client also sends for old servers: spoken already
            synth = Synthesize.from_event(event)
            request = self._synthesis_request(synth.voice, synth.text_format, synth.text)
            self._reply(self._synthesize, request)
        elif SynthesizeStart.is_type(kind):
            await self._end_text()
            stream = self._text = _TextStream(closed=True)  # refused until the request checks out:
            start = SynthesizeStart.from_event(event)     # its chunks, full text and stop are dropped
            request = self._synthesis_request(start.voice, start.text_format, "")
            stream.closed = False
            self._reply(self._synthesize_stream, request, stream)
        elif SynthesizeChunk.is_type(kind):
            if self._text is None:
                raise InvalidArgument("synthesize-chunk", "no synthesis stream is open (send synthesize-start first)")
            await _put(self._text, SynthesizeChunk.from_event(event).text)
        elif SynthesizeStop.is_type(kind):
            if self._text is None:
                raise InvalidArgument("synthesize-stop", "no synthesis stream is open (send synthesize-start first)")
            await self._end_text()
        # understanding: `recognize`, or a `transcript` sent to us (Home Assistant's
        # conversation agent sends the user's text that way, with its language)
        elif Recognize.is_type(kind):
            rec = Recognize.from_event(event)
            self._reply(self._understand, mapping.understand_request(
                rec.text, None, rec.context, self.server.default_language()))
        elif Transcript.is_type(kind):
            tr = Transcript.from_event(event)
            self._reply(self._understand, mapping.understand_request(
                tr.text, tr.language, tr.context, self.server.default_language()))
        else:
            _LOGGER.debug("Wyoming client %s: ignoring %s", self.peer, kind)

    # -- recognition ----------------------------------------------------------------------
    def _open_recognition(self, fmt: mapping.AudioFormat) -> None:
        # refused until it checks out and is admitted: then its chunks are dropped (one error
        # for the stream, not one per chunk) until audio-stop
        stream = self._recognition = _Recognition(fmt, closed=True, limits=StreamLimits.of(self.service.limits))
        transcribe, self._transcribe = self._transcribe, None
        fmt.check("audio-start")
        config = mapping.streaming_config(transcribe, fmt)
        call = self.service.recognition.open_stream()  # admitted now (raises when full or not ready)
        stream.closed = False
        # its slot is freed by the reply's `async with call`, or here if the client goes first
        self._reply(self._recognize, call, config, stream, unstarted=lambda: call.__aexit__(None, None, None))

    async def _audio(self, chunk: AudioChunk) -> None:
        if self._recognition is None:  # audio without audio-start: the chunk sets the format
            self._open_recognition(mapping.AudioFormat.of(chunk))
        stream = self._recognition
        if stream.closed:
            return
        try:
            data = mapping.pcm(chunk, stream.fmt)
        except InvalidArgument as exc:  # what came before is finished, then the error goes out
            self._recognition = _Recognition(stream.fmt, closed=True)  # the rest is dropped
            await _put(stream, exc)
            return
        if data:
            await _put(stream, data)

    async def _end_audio(self) -> None:
        stream, self._recognition = self._recognition, None
        if stream is not None:
            await _put(stream, None)

    async def _recognize(self, call, config: StreamingConfig, stream: _Recognition) -> None:
        finals: list[str] = []
        language = ""
        sent: dict[int, int] = {}  # utterance -> words already sent as transcript chunks
        any_sent = False
        try:
            async with call:
                await self._write(TranscriptStart(language=config.config.language_code or None).event())
                async for out in call.run(config, _audio_inputs(stream)):
                    if isinstance(out, InterimUpdate):
                        words, index = out.committed.transcript.split(), out.committed.utterance_index
                    elif isinstance(out, RecognitionResult):
                        words, index = out.transcript.split(), out.utterance_index
                        finals.append(out.transcript.strip())
                        language = language or out.language
                    else:
                        continue
                    done = sent.get(index, 0)
                    if len(words) > done:
                        text = " ".join(words[done:])
                        await self._write(TranscriptChunk(text=f" {text}" if any_sent else text).event())
                        sent[index] = len(words)
                        any_sent = True
        except InvalidArgument as exc:
            raise mapping.recognition_error(exc) from None
        finally:
            _close_queue(stream)
        await self._write(Transcript(text=" ".join(t for t in finals if t), language=language or None).event())
        await self._write(TranscriptStop().event())
        if stream.limit is not None:
            _LOGGER.warning("Wyoming client %s: %s; the audio stream was ended", self.peer, stream.limit)
            await self._write(mapping.limit_error(stream.limit).event())

    # -- synthesis ------------------------------------------------------------------------
    def _synthesis_request(self, voice, text_format, text: str) -> SynthesisRequest:
        speakers: tuple[str, ...] = ()
        if voice is not None and voice.name and voice.speaker:
            speakers = next((v.speakers for v, _ in self.service.synthesis.voices() if v.name == voice.name), ())
        return mapping.synthesis_request(voice, text_format, text, speakers)

    async def _end_text(self) -> None:
        stream, self._text = self._text, None
        if stream is not None:
            await _put(stream, None)

    async def _synthesize(self, request: SynthesisRequest) -> None:
        await self._speak(self.service.synthesis.stream(request))

    async def _synthesize_stream(self, request: SynthesisRequest, stream: _TextStream) -> None:
        try:
            await self._speak(self.service.synthesis.stream_text(request, _texts(stream)))
        finally:
            _close_queue(stream)
        await self._write(SynthesizeStopped().event())

    async def _speak(self, chunks: AsyncIterator) -> None:
        """One reply: ``audio-start`` (the format of the whole reply), its chunks, ``audio-stop``."""
        fmt = None
        try:
            async for chunk in chunks:
                if fmt is None:
                    fmt = dict(rate=chunk.sample_rate_hertz, width=SAMPLE_WIDTH, channels=1)
                    await self._write(AudioStart(**fmt, timestamp=0).event())
                await self._write(AudioChunk(**fmt, audio=chunk.audio, timestamp=round(chunk.offset_s * 1000)).event())
        except InvalidArgument as exc:
            raise mapping.synthesis_error(exc) from None
        finally:
            with contextlib.suppress(Exception):
                await chunks.aclose()
        if fmt is not None:
            await self._write(AudioStop().event())

    # -- understanding --------------------------------------------------------------------
    async def _understand(self, request) -> None:
        try:
            result = await self.service.understanding.understand(request)
        except InvalidArgument as exc:
            raise mapping.understanding_error(exc) from None
        await self._write(mapping.intent_event(result, request.language_code).event())

    # -- replies --------------------------------------------------------------------------
    def _reply(self, work: Callable[..., Awaitable[None]], *args,
               unstarted: Callable[[], Awaitable[None]] | None = None) -> None:
        """Run ``work(*args)`` after the previous request's reply; a service error becomes an
        ``error`` event, a lost connection ends it quietly. ``unstarted`` runs instead when the
        connection ends before ``work`` could start (to free what the request holds)."""
        previous = self._last

        async def run() -> None:
            try:
                if previous is not None:
                    await asyncio.wait((previous,))
            except asyncio.CancelledError:
                if unstarted is not None:
                    await unstarted()
                raise
            try:
                await work(*args)
            except ServiceError as exc:
                _LOGGER.info("Wyoming client %s: %s: %s", self.peer, type(exc).__name__, exc)
                await self._error(exc)
            except (ConnectionError, OSError) as exc:
                _LOGGER.debug("Wyoming client %s: connection lost (%s)", self.peer, exc)
            except Exception as exc:  # a bug: logged with its traceback, the client told
                _LOGGER.exception("Wyoming client %s: request failed", self.peer)
                await self._error(exc)

        task = asyncio.create_task(run())
        self._last = task
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)

    async def _write(self, event: Event) -> None:
        if self.writer.is_closing():
            raise ConnectionResetError("the client closed the connection")
        await self.write_event(event)

    async def _error(self, exc: BaseException) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            await self._write(mapping.error_event(exc).event())


async def _put(stream, item) -> None:
    """Queue ``item`` for a stream's task (waits while the queue is full); dropped once the
    task has ended (it drains its queue then, so a waiting put never hangs)."""
    if not stream.closed:
        await stream.queue.put(item)


def _close_queue(stream) -> None:
    stream.closed = True
    while not stream.queue.empty():
        stream.queue.get_nowait()


async def _audio_inputs(stream: _Recognition) -> AsyncIterator[AudioInput]:
    """The stream's audio until audio-stop, or until a limit (``stream.limit`` says which)."""
    clock = StreamClock(stream.limits)
    while True:
        if (hit := clock.hit()) is not None:
            stream.limit = hit
            _close_queue(stream)  # the client's later chunks are dropped from now on
            return
        try:
            async with asyncio.timeout(clock.wait_s()):
                item = await stream.queue.get()
        except TimeoutError:
            continue  # a limit: the check above says which
        if item is None:
            return
        if isinstance(item, InvalidArgument):
            raise item
        clock.heard()
        yield AudioInput(item)


async def _texts(stream: _TextStream) -> AsyncIterator[str]:
    while (text := await stream.queue.get()) is not None:
        yield text


def _peer(writer: asyncio.StreamWriter) -> str:
    address = writer.get_extra_info("peername")
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)
