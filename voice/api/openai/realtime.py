"""``GET /v1/realtime``: OpenAI's Realtime WebSocket over the service, beta and GA shapes.

A connection is one session of one of two kinds:

* **conversation** (``?model=...``, ``session.type: "realtime"``): the conversation core
  (:meth:`ConversationService.open`), replies from the client. The service runs no language
  model, so ``response.create`` says what to speak: an assistant message in ``response.input``,
  else ``response.instructions``, else the assistant messages the client added with
  ``conversation.item.create`` since the last response. Caller speech over a reply is a
  barge-in decided on the server (``turn_detection.interrupt_response``): the response ends
  ``cancelled`` (``turn_detected``), its ``status_details`` saying how much played
  (``audio_end_ms``) and what the caller heard (``transcript``); the client's
  ``conversation.item.truncate`` is honoured (an assistant item's transcript is cut to the
  words played up to ``audio_end_ms``; a response still playing stops there).
* **transcription** (``?intent=transcription``, ``session.type: "transcription"``, beta
  ``transcription_session.update``): a recognition stream (:meth:`RecognitionService.open_stream`).

Both: ``input_audio_buffer.append`` (base64 in the session's format), ``.commit`` (end the turn
now), ``.clear`` (the open turn is dropped); server VAD events ``speech_started`` /
``speech_stopped`` / ``committed``; ``conversation.item.input_audio_transcription.delta``
(the stable words as they are confirmed, and, beyond OpenAI's fields, ``interim``: the whole
current hypothesis, and ``language``) and ``.completed`` (with ``languages`` and
``language``). The mapping of names and shapes is :mod:`.realtime_events`.

The session's audio settings are fixed for a running call: a ``session.update`` that changes
them ends the call (its open turn is still finished) and the next audio starts a new one. The
conversation's clock is its input audio: a client that sends no audio for
:data:`IDLE_INPUT_S` while a reply plays is taken to be silent (silence is fed), so its
response still ends. Errors are ``error`` events naming the ``param``; the socket stays open.

The door's limits (:mod:`voice.api.ops.limits`): no ``input_audio_buffer.append`` for
``server.idle_timeout_s``, or a session longer than ``server.max_stream_seconds``, ends the
session: its open turns are finished (their transcripts still go out, for up to
:data:`FINISH_TIMEOUT_S`), then an ``error`` event (``session_idle_timeout`` /
``session_expired``, as OpenAI names its own session limit) and the socket closes with 1008.
A message over ``server.max_message_bytes`` (at most :data:`MAX_MESSAGE_BYTES`) closes it with
1009.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import contextlib
import json
import logging
import secrets
from dataclasses import dataclass, field

from aiohttp import WSCloseCode, WSMsgType, web

from ...core.conversation import SpokenText
from ...core.errors import InvalidArgument, ResourceExhausted, ServiceError, Unavailable, Unimplemented
from ...core.results import RecognitionResult
from ...service import VoiceService
from ...service.synthesis import MAX_TEXT_CHARS
from ...service.types import (
    AudioInput,
    BargeIn,
    CancelReply,
    InterimUpdate,
    PlaybackMark,
    ReplyAudio,
    ReplyEnded,
    ReplySpoken,
    ReplyStarted,
    ReplyTextInput,
    SpeechEvent,
    SpeechEventKind,
)
from ..ops.limits import LimitHit, StreamClock, StreamLimits
from .realtime_events import (
    BETA,
    GA,
    REALTIME,
    TRANSCRIPTION,
    RealtimeError,
    Session,
    conversation_config,
    event_name,
    looks_ga,
    message_text,
    param_for,
    parse_modalities,
    part_type,
    reply_text,
    session_object,
    streaming_config,
    update_session,
)

_LOGGER = logging.getLogger(__name__)

PATH = "/v1/realtime"
MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # OpenAI takes appends of up to 15 MiB (server.max_message_bytes may say less)
HEARTBEAT_S = 30.0  # ping a silent peer; one that does not answer is gone
CLOSE_TIMEOUT_S = 5.0  # for the peer's answer to our close frame
FINISH_TIMEOUT_S = 5.0  # a limit ended the session: its open turns get this long to finish
MAX_REASON_BYTES = 123  # a close frame's reason (RFC 6455)
CONVERSATION_PIECE_S = 0.02  # appended audio goes to the conversation in 20 ms pieces (barge-in timing)
TRANSCRIPTION_PIECE_S = 0.1
INPUT_QUEUE = 64  # pieces waiting for the service; a full queue holds the socket's reader
IDLE_INPUT_S = 1.5  # no audio for this long while a reply plays: the client is silent
FILL_TICK_S = 0.1
MAX_FILL_S = 2.0
MAX_ITEMS = 512  # conversation items kept (oldest dropped)
MAX_OPEN_TURNS = 64
SILENCE_BYTE = {"pcm16": b"\x00\x00", "g711_ulaw": b"\xff", "g711_alaw": b"\xd5"}


def add_routes(app: web.Application, service: VoiceService) -> None:
    """Mount ``GET /v1/realtime``; its sessions are closed (1001) when the app shuts down."""
    door = _Door(service)
    app.router.add_get(PATH, door.handle)
    app.on_shutdown.append(door.shutdown)


class _Door:
    def __init__(self, service: VoiceService):
        self.service = service
        self._connections: set[_Connection] = set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        limits = self.service.limits
        ws = web.WebSocketResponse(protocols=("realtime",), heartbeat=HEARTBEAT_S, timeout=CLOSE_TIMEOUT_S,
                                   max_msg_size=min(MAX_MESSAGE_BYTES, limits.max_message_bytes))
        if not ws.can_prepare(request).ok:
            return web.Response(status=426, headers={"Upgrade": "websocket"},
                                text=f"{PATH} is an OpenAI Realtime WebSocket\n")
        beta = ("realtime=v1" in request.headers.get("OpenAI-Beta", "")
                or "openai-beta.realtime-v1" in request.headers.get("Sec-WebSocket-Protocol", ""))
        kind = TRANSCRIPTION if request.query.get("intent") == "transcription" else REALTIME
        await ws.prepare(request)
        connection = _Connection(ws, self.service, BETA if beta else GA, kind, request.query.get("model", ""),
                                 request.remote or "?")
        self._connections.add(connection)
        try:
            await connection.serve()
        finally:
            self._connections.discard(connection)
        return ws

    async def shutdown(self, app: web.Application) -> None:
        await asyncio.gather(*(c.shutdown() for c in list(self._connections)), return_exceptions=True)


@dataclass(eq=False)
class _Backend:
    """One running service call (a conversation or a recognition stream) and its input."""

    kind: str
    session: Session
    generation: int
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(INPUT_QUEUE))
    position_s: float = 0.0  # input audio handed to the call
    cleared_at_s: float = -1.0  # input_audio_buffer.clear: turns that began before this are dropped
    last_input: float = 0.0  # loop time of the latest client audio
    fed_until: float = 0.0  # loop time up to which input (the client's, or silence) covers the clock
    closed: bool = False
    done: bool = False
    task: asyncio.Task | None = None
    tasks: set = field(default_factory=set)

    async def inputs(self):
        while True:
            item = await self.queue.get()
            if item is None:
                return
            yield item

    def close_input(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:  # the call is behind; the end goes in after what is queued
            task = asyncio.ensure_future(self.queue.put(None))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)


@dataclass(eq=False)
class _Turn:
    item_id: str
    start_s: float
    dropped: bool = False
    committed: bool = False
    stable: str = ""  # the stable words sent as deltas so far


@dataclass(eq=False)
class _Response:
    id: str
    item_id: str
    text: str
    audio: bool
    backend: _Backend | None = None
    reply_id: int | None = None
    transcript: str = ""  # sentences as they started playing
    spoken: SpokenText = field(default_factory=SpokenText)
    audio_s: float = 0.0
    cancel: str = ""  # why it is being stopped: client_cancelled | turn_detected
    played_s: float | None = None  # where it stopped
    heard: str | None = None  # the words played up to there
    ended: bool = False


class _Connection:
    def __init__(self, ws: web.WebSocketResponse, service: VoiceService, shape: str, kind: str, model: str,
                 peer: str):
        self.ws = ws
        self.service = service
        self.shape = shape
        self.peer = peer
        self.session = Session(id="sess_" + secrets.token_hex(12), kind=kind, model=model,
                               modalities=("audio",) if shape == GA else ("text", "audio"))
        self._events = 0
        self._send_lock = asyncio.Lock()
        self._backend: _Backend | None = None
        self._backends: set[_Backend] = set()  # running, the current one and those finishing
        self._generation = 0
        self._turns: dict[tuple[int, int], _Turn] = {}
        self._items: collections.OrderedDict[str, dict] = collections.OrderedDict()
        self._last_item: str | None = None
        self._active: _Response | None = None
        self._unbound: collections.deque[_Response] = collections.deque()  # waiting for ReplyStarted
        self._by_reply: dict[tuple[int, int], _Response] = {}
        self._by_item: collections.OrderedDict[str, _Response] = collections.OrderedDict()
        self._assistant_texts: list[str] = []  # added by the client since the last response
        self._appended = 0  # bytes since the last commit / clear
        self._closing = False
        self._clock = StreamClock(StreamLimits.of(service.limits))  # the session's limits
        self._handlers = {
            "session.update": self._session_update,
            "transcription_session.update": self._transcription_session_update,
            "input_audio_buffer.append": self._append,
            "input_audio_buffer.commit": self._commit,
            "input_audio_buffer.clear": self._clear,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
            "output_audio_buffer.clear": self._output_clear,
            "conversation.item.create": self._item_create,
            "conversation.item.truncate": self._item_truncate,
            "conversation.item.delete": self._item_delete,
            "conversation.item.retrieve": self._item_retrieve,
        }

    def __str__(self) -> str:
        return f"realtime session {self.session.id} from {self.peer}"

    async def shutdown(self) -> None:
        self._closing = True
        await self.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")

    # -- the session ----------------------------------------------------------------------
    async def serve(self) -> None:
        code, reason = WSCloseCode.OK, ""
        try:
            try:
                self.service.check_ready()
            except Unavailable as exc:
                await self._error(RealtimeError(str(exc), None, "server_unavailable", "server_error"))
                code = WSCloseCode.TRY_AGAIN_LATER
                return
            _LOGGER.debug("%s: open (%s shape, %s)", self, self.shape, self.session.kind)
            await self._emit("session.created", session=self._session_object())
            clock = self._clock
            while True:
                if (hit := clock.hit()) is not None:
                    code, reason = WSCloseCode.POLICY_VIOLATION, await self._limit_reached(hit)
                    break
                try:
                    msg = await self.ws.receive(timeout=clock.wait_s())
                except TimeoutError:
                    continue  # a limit: the check above says which
                if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                    break
                if msg.type is WSMsgType.TEXT:
                    await self._dispatch(msg.data)
                elif msg.type is WSMsgType.BINARY:
                    await self._error(RealtimeError("Binary messages are not part of the Realtime protocol; send "
                                                    "JSON events (audio as base64 in input_audio_buffer.append).",
                                                    None, "invalid_json"))
                elif msg.type is WSMsgType.ERROR:
                    _LOGGER.info("%s: bad WebSocket frame: %s", self, msg.data)
                    break
            _LOGGER.debug("%s: closed by the %s", self, "server" if self._closing else "client")
        except ConnectionResetError:
            _LOGGER.info("%s: the WebSocket went away", self)
        except Exception:
            code = WSCloseCode.INTERNAL_ERROR
            _LOGGER.exception("%s: internal error; closing the WebSocket with %d", self, code)
        finally:
            await self._stop_all()
            with contextlib.suppress(Exception):
                await self.ws.close(code=code, message=reason.encode()[:MAX_REASON_BYTES])

    async def _limit_reached(self, hit: LimitHit) -> str:
        """A limit ends the session: the input ends, open turns finish (their events go out),
        then the ``error`` event. Returns the close reason."""
        _LOGGER.warning("%s: %s; closing the WebSocket with %d", self, hit, WSCloseCode.POLICY_VIOLATION)
        self._closing = True
        backends = list(self._backends)
        for backend in backends:
            backend.close_input()
        tasks = [b.task for b in backends if b.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=FINISH_TIMEOUT_S)
        if hit.idle:
            error = RealtimeError(f"No audio for {hit.seconds:g} seconds ({hit.key}); the session was closed.",
                                  None, "session_idle_timeout")
        else:
            error = RealtimeError(f"Your session hit the maximum duration of {hit.seconds:g} seconds ({hit.key}).",
                                  None, "session_expired")
        with contextlib.suppress(ConnectionResetError):
            await self._error(error)
        return str(hit)

    async def _stop_all(self) -> None:
        """The client is gone: every call it held ends now (recognition, synthesis, tickets)."""
        backends = list(self._backends)
        for backend in backends:
            backend.closed = True
            for task in [backend.task, *backend.tasks]:
                if task is not None:
                    task.cancel()
        for backend in backends:
            for task in [backend.task, *backend.tasks]:
                if task is not None:
                    with contextlib.suppress(BaseException):
                        await task

    def _session_object(self) -> dict:
        engine = self.service.engine
        voice = engine.catalogue.default.name if self.session.kind == REALTIME else ""
        return session_object(self.session, self.shape, engine.config.endpointing.trailing_silence_ms, voice)

    # -- out ------------------------------------------------------------------------------
    async def _emit(self, beta_name: str, **fields) -> None:
        self._events += 1
        message = {"type": event_name(self.shape, beta_name), "event_id": f"event_{self._events:06d}", **fields}
        data = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
        async with self._send_lock:
            await self.ws.send_str(data)

    async def _error(self, exc: RealtimeError, event_id: str | None = None) -> None:
        _LOGGER.debug("%s: error %s (%s): %s", self, exc.code, exc.param, exc.message)
        await self._emit("error", error={"type": exc.type, "code": exc.code, "message": exc.message,
                                         "param": exc.param, "event_id": event_id})

    def _service_error(self, exc: ServiceError) -> RealtimeError:
        if isinstance(exc, InvalidArgument):
            param = param_for(exc.field, self.shape)
            return RealtimeError(f"Invalid '{param}': {exc.reason}", param)
        if isinstance(exc, ResourceExhausted):
            return RealtimeError(str(exc), None, "rate_limit_exceeded", "server_error")
        if isinstance(exc, Unimplemented):
            return RealtimeError(str(exc), None, "unsupported", "invalid_request_error")
        return RealtimeError(str(exc), None, "server_unavailable", "server_error")

    # -- in -------------------------------------------------------------------------------
    async def _dispatch(self, data: str) -> None:
        try:
            event = json.loads(data)
        except ValueError:
            await self._error(RealtimeError(f"The event is not valid JSON ({len(data)} characters).", None,
                                            "invalid_json"))
            return
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            await self._error(RealtimeError("Missing required parameter: 'type'.", "type",
                                            "missing_required_parameter"))
            return
        event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        handler = self._handlers.get(event["type"])
        try:
            if handler is None:
                raise RealtimeError(f"Invalid value: '{event['type'][:60]}'. Supported values are: "
                                    + ", ".join(f"'{name}'" for name in self._handlers) + ".", "type")
            await handler(event)
        except RealtimeError as exc:
            await self._error(exc, event_id)
        except ServiceError as exc:
            await self._error(self._service_error(exc), event_id)

    async def _session_update(self, event: dict, transcription: bool = False) -> None:
        payload = event.get("session")
        if payload is None:
            raise RealtimeError("Missing required parameter: 'session'.", "session", "missing_required_parameter")
        if transcription:
            self.shape = BETA
        elif isinstance(payload, dict) and (ga := looks_ga(payload)) is not None:
            self.shape = GA if ga else BETA
        new = update_session(self.session, payload, self.shape, transcription)
        self._validate(new)
        backend = self._backend
        if backend is not None and not backend.closed and self._call_config(backend.session) != self._call_config(new):
            if self._active is not None:
                raise RealtimeError("The session's audio settings cannot change while a response is in progress; "
                                    "cancel it or wait for response.done.", "session",
                                    "conversation_already_has_active_response")
            _LOGGER.debug("%s: audio settings changed; the next audio starts a new call", self)
            backend.close_input()
            self._backend = None
        self.session = new
        await self._emit("transcription_session.updated" if transcription else "session.updated",
                         session=self._session_object())

    async def _transcription_session_update(self, event: dict) -> None:
        await self._session_update(event, transcription=True)

    def _call_config(self, session: Session):
        if session.kind == REALTIME:
            return conversation_config(session, session.id)
        return streaming_config(session)

    def _validate(self, session: Session) -> None:
        """The service's own checks, now (an error names the session param)."""
        if session.kind == REALTIME:
            self.service.conversation.prepare(conversation_config(session, session.id))
        else:
            self.service.recognition.prepare(streaming_config(session).config, interim_results=True)

    async def _append(self, event: dict) -> None:
        audio = event.get("audio")
        if not isinstance(audio, str):
            raise RealtimeError("Missing required parameter: 'audio'." if audio is None else
                                "Invalid type for 'audio': expected a base64 string.", "audio",
                                "missing_required_parameter" if audio is None else "invalid_type")
        try:
            data = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            raise RealtimeError(f"Invalid 'audio': not base64 ({len(audio)} characters).", "audio") from None
        fmt = self.session.input_format
        if fmt == "pcm16" and len(data) % 2:
            raise RealtimeError(f"Invalid 'audio': {len(data)} bytes is not a whole number of 16-bit samples.",
                                "audio")
        if not data:
            return
        self._clock.heard()
        backend = self._ensure_backend()
        piece_s = CONVERSATION_PIECE_S if backend.kind == REALTIME else TRANSCRIPTION_PIECE_S
        bytes_per_s = backend.session.input_bytes_per_second
        step = max(2, int(bytes_per_s * piece_s) // 2 * 2)
        for i in range(0, len(data), step):
            await backend.queue.put(AudioInput(data[i:i + step]))
        backend.position_s += len(data) / bytes_per_s
        backend.last_input = backend.fed_until = asyncio.get_running_loop().time()
        self._appended += len(data)

    async def _commit(self, event: dict) -> None:
        backend = self._backend
        if backend is None or not self._appended:
            raise RealtimeError("Error committing input audio buffer: buffer too small. Expected at least 100ms of "
                                "audio, but buffer only has 0.00ms of audio.", None, "input_audio_buffer_commit_empty")
        self._appended = 0
        await backend.queue.put(AudioInput(flush=True))

    async def _clear(self, event: dict) -> None:
        backend = self._backend
        if backend is not None:  # the open turn ends now, and what it said is dropped
            backend.cleared_at_s = backend.position_s
            for (generation, _), turn in self._turns.items():
                if generation == backend.generation and not turn.committed:
                    turn.dropped = True
            await backend.queue.put(AudioInput(flush=True))
        self._appended = 0
        await self._emit("input_audio_buffer.cleared")

    def _ensure_backend(self) -> _Backend:
        """The running call for the session's settings; opened now if there is none (admission:
        raises Unavailable / ResourceExhausted)."""
        backend = self._backend
        if backend is not None and not backend.closed and not backend.done:
            return backend
        session = self.session
        self._generation += 1
        backend = _Backend(session.kind, session, self._generation)
        backend.last_input = backend.fed_until = asyncio.get_running_loop().time()
        if session.kind == REALTIME:
            call = self.service.conversation.open()
            run = call.run(conversation_config(session, session.id), backend.inputs())
        else:
            call = self.service.recognition.open_stream()
            run = call.run(streaming_config(session), backend.inputs())
        backend.task = asyncio.create_task(self._run(backend, call, run))
        if session.kind == REALTIME:
            filler = asyncio.create_task(self._keep_clock(backend))
            backend.tasks.add(filler)
            filler.add_done_callback(backend.tasks.discard)
        self._backend = backend
        self._backends.add(backend)
        _LOGGER.debug("%s: call %d open (%s, %s in, %s out)", self, backend.generation, session.kind,
                      session.input_format, session.output_format)
        return backend

    async def _run(self, backend: _Backend, call, run) -> None:
        try:
            async with call:
                async with contextlib.aclosing(run) as events:
                    async for event in events:
                        await self._on_event(backend, event)
        except ServiceError as exc:
            _LOGGER.info("%s: call %d: %s: %s", self, backend.generation, type(exc).__name__, exc)
            with contextlib.suppress(ConnectionResetError):
                await self._error(self._service_error(exc))
        except ConnectionResetError:
            pass
        except Exception:
            _LOGGER.exception("%s: call %d failed", self, backend.generation)
            with contextlib.suppress(ConnectionResetError):
                await self._error(RealtimeError("internal error", None, "server_error", "server_error"))
        finally:
            backend.done = backend.closed = True
            self._backends.discard(backend)
            if self._backend is backend:
                self._backend = None
            for task in list(backend.tasks):
                task.cancel()
            for response in [r for r in (self._active, *self._unbound) if r is not None and r.backend is backend]:
                with contextlib.suppress(ConnectionResetError):
                    await self._end_response(response, "failed")

    async def _keep_clock(self, backend: _Backend) -> None:
        """While a reply plays and the client sends no audio, feed silence in real time: the
        conversation's clock is its input, and a reply ends when the clock says it has played."""
        loop = asyncio.get_running_loop()
        silence = SILENCE_BYTE[backend.session.input_format]
        bytes_per_s = backend.session.input_bytes_per_second
        step = max(2, int(bytes_per_s * CONVERSATION_PIECE_S) // 2 * 2)
        while not backend.closed:
            await asyncio.sleep(FILL_TICK_S)
            active, now = self._active, loop.time()
            if active is None or active.backend is not backend or now - backend.last_input < IDLE_INPUT_S:
                continue
            seconds = min(now - backend.fed_until, MAX_FILL_S)
            data = silence * (int(bytes_per_s * seconds) // len(silence))
            for i in range(0, len(data), step):
                if backend.closed:
                    return
                await backend.queue.put(AudioInput(data[i:i + step]))
            backend.position_s += len(data) / bytes_per_s
            backend.fed_until += len(data) / bytes_per_s

    # -- the service's events -------------------------------------------------------------
    async def _on_event(self, backend: _Backend, event) -> None:
        if isinstance(event, SpeechEvent):
            await self._speech(backend, event)
        elif isinstance(event, InterimUpdate):
            await self._interim(backend, event)
        elif isinstance(event, RecognitionResult):
            if event.is_final:
                await self._final(backend, event)
        elif isinstance(event, ReplyStarted):
            await self._reply_started(backend, event)
        elif isinstance(event, ReplySpoken):
            response = self._by_reply.get((backend.generation, event.reply_id))
            if response is not None and not response.ended:
                delta = (" " if response.transcript else "") + event.text
                response.transcript += delta
                await self._emit("response.audio_transcript.delta", response_id=response.id,
                                 item_id=response.item_id, output_index=0, content_index=0, delta=delta)
        elif isinstance(event, ReplyAudio):
            response = self._by_reply.get((backend.generation, event.reply_id))
            if response is not None and not response.ended:
                chunk = event.chunk
                seconds = chunk.samples / chunk.sample_rate_hertz
                if chunk.text:
                    response.spoken.add(chunk.text, chunk.offset_s)
                response.spoken.extend(seconds)
                response.audio_s += seconds
                await self._emit("response.audio.delta", response_id=response.id, item_id=response.item_id,
                                 output_index=0, content_index=0,
                                 delta=base64.b64encode(chunk.audio).decode("ascii"))
        elif isinstance(event, BargeIn):
            response = self._by_reply.get((backend.generation, event.reply_id))
            if response is not None:
                response.cancel = "turn_detected"
                _LOGGER.debug("%s: barge-in after %.2f s of %s", self, event.played_s, response.id)
        elif isinstance(event, ReplyEnded):
            response = self._by_reply.pop((backend.generation, event.reply_id), None)
            if response is not None and not response.ended:
                if event.interrupted:
                    if response.played_s is None:
                        response.played_s = event.played_s
                        response.heard = event.spoken_text
                    await self._end_response(response, "cancelled")
                else:
                    response.spoken.complete = True
                    await self._end_response(response, "completed")

    def _turn(self, backend: _Backend, index: int, start_s: float) -> _Turn:
        key = (backend.generation, index)
        turn = self._turns.get(key)
        if turn is None:
            turn = self._turns[key] = _Turn("item_" + secrets.token_hex(10), start_s)
            turn.dropped = start_s < backend.cleared_at_s
            while len(self._turns) > MAX_OPEN_TURNS:  # turns that never got a final (the reply's echo)
                del self._turns[next(iter(self._turns))]
        return turn

    async def _speech(self, backend: _Backend, event: SpeechEvent) -> None:
        vad = backend.session.turn is not None
        if event.kind is SpeechEventKind.STARTED:
            turn = self._turn(backend, event.utterance_index, event.time)
            if vad and not turn.dropped:
                await self._emit("input_audio_buffer.speech_started", audio_start_ms=int(event.time * 1000),
                                 item_id=turn.item_id)
        elif event.kind is SpeechEventKind.ENDED:
            turn = self._turn(backend, event.utterance_index, event.time)
            if turn.dropped:
                return
            if vad:
                await self._emit("input_audio_buffer.speech_stopped", audio_end_ms=int(event.time * 1000),
                                 item_id=turn.item_id)
            await self._committed(turn)
        elif event.kind is SpeechEventKind.TIMEOUT and vad:
            end_ms = int(event.time * 1000)
            await self._emit("input_audio_buffer.timeout_triggered",
                             audio_start_ms=max(0, end_ms - (backend.session.turn.idle_timeout_ms or 0)),
                             audio_end_ms=end_ms, item_id="item_" + secrets.token_hex(10))

    async def _committed(self, turn: _Turn) -> None:
        if turn.committed:
            return
        turn.committed = True
        previous = self._last_item
        await self._emit("input_audio_buffer.committed", previous_item_id=previous, item_id=turn.item_id)
        item = {"id": turn.item_id, "object": "realtime.item", "type": "message", "status": "completed",
                "role": "user", "content": [{"type": "input_audio", "transcript": None}]}
        await self._add_item(item, previous)

    async def _add_item(self, item: dict, previous: str | None, done: bool = True) -> None:
        self._items[item["id"]] = item
        while len(self._items) > MAX_ITEMS:
            self._items.popitem(last=False)
        self._last_item = item["id"]
        await self._emit("conversation.item.created", previous_item_id=previous, item=item)
        if done and self.shape == GA:
            await self._emit("conversation.item.done", previous_item_id=previous, item=item)

    async def _interim(self, backend: _Backend, event: InterimUpdate) -> None:
        committed, tail = event.committed, event.tail
        turn = self._turn(backend, committed.utterance_index, committed.start)
        if turn.dropped or not self._transcribes(backend):
            return
        stable = committed.transcript.strip()
        delta = ""
        if stable.startswith(turn.stable) and len(stable) > len(turn.stable):  # committed words never change
            delta = stable[len(turn.stable):] if turn.stable else stable
            turn.stable = stable
        interim = " ".join(t for t in (stable, tail.transcript.strip()) if t)
        language = tail.language or committed.language
        await self._emit("conversation.item.input_audio_transcription.delta", item_id=turn.item_id, content_index=0,
                         delta=delta, interim=interim, language=language)

    @staticmethod
    def _transcribes(backend: _Backend) -> bool:
        """A conversation whose session has ``input_audio_transcription: null`` gets no transcripts."""
        return backend.kind != REALTIME or backend.session.transcription

    async def _final(self, backend: _Backend, result: RecognitionResult) -> None:
        turn = self._turn(backend, result.utterance_index, result.start)
        self._turns.pop((backend.generation, result.utterance_index), None)
        if turn.dropped:
            return
        await self._committed(turn)
        transcript = result.transcript.strip()
        item = self._items.get(turn.item_id)
        if item is not None:
            item["content"][0]["transcript"] = transcript
        if not self._transcribes(backend):
            return
        languages = [{"code": result.language}] if result.language else []
        await self._emit("conversation.item.input_audio_transcription.completed", item_id=turn.item_id,
                         content_index=0, transcript=transcript,
                         usage={"type": "duration", "seconds": round(max(0.0, result.end - result.start), 3)},
                         languages=languages, language=result.language,
                         audio_start_ms=int(result.start * 1000), audio_end_ms=int(result.end * 1000),
                         latency_ms=int(result.latency * 1000))

    # -- responses ------------------------------------------------------------------------
    async def _response_create(self, event: dict) -> None:
        if self.session.kind != REALTIME:
            raise RealtimeError("This is a transcription session: it makes no responses.", "type")
        response = event.get("response") or {}
        if not isinstance(response, dict):
            raise RealtimeError("Invalid type for 'response': expected an object.", "response", "invalid_type")
        if self._active is not None:
            raise RealtimeError(f"Conversation already has an active response in progress: {self._active.id}. Wait "
                                "until the response is finished before creating a new one.", None,
                                "conversation_already_has_active_response")
        text = reply_text(response, self.shape) or " ".join(self._assistant_texts)
        if len(text) > MAX_TEXT_CHARS:
            raise RealtimeError(f"Invalid 'response.instructions': a reply holds at most {MAX_TEXT_CHARS} characters, "
                                f"got {len(text)}.", "response.instructions", "string_above_max_length")
        if not text.strip():
            raise RealtimeError("This server runs no language model: say what to speak in response.instructions, "
                                "or in an assistant message in response.input (or add one with "
                                "conversation.item.create first).", "response.instructions",
                                "missing_required_parameter")
        key = "output_modalities" if "output_modalities" in response else "modalities"
        wanted = self.session.modalities
        if response.get(key) is not None:
            wanted = parse_modalities(response[key], f"response.{key}")
        self._check_response_audio(response)
        audio = "audio" in wanted
        backend = self._ensure_backend() if audio else None
        self._assistant_texts.clear()
        r = _Response("resp_" + secrets.token_hex(10), "item_" + secrets.token_hex(10), text.strip(), audio, backend)
        self._active = r
        self._by_item[r.item_id] = r
        while len(self._by_item) > MAX_ITEMS:
            self._by_item.popitem(last=False)
        await self._emit("response.created", response=self._response_object(r, "in_progress"))
        item = self._assistant_item(r, "in_progress")
        await self._emit("response.output_item.added", response_id=r.id, output_index=0, item=item)
        await self._add_item(item, self._last_item, done=False)
        await self._emit("response.content_part.added", response_id=r.id, item_id=r.item_id, output_index=0,
                         content_index=0, part=self._part(r))
        if not audio:
            await self._emit("response.text.delta", response_id=r.id, item_id=r.item_id, output_index=0,
                             content_index=0, delta=r.text)
            r.transcript = r.text
            await self._end_response(r, "completed")
            return
        self._unbound.append(r)
        await backend.queue.put(ReplyTextInput(r.text, end_of_reply=True))

    def _check_response_audio(self, response: dict) -> None:
        """Per-response voice or format: only the session's (they are fixed for a running call)."""
        if self.shape == GA:
            audio = response.get("audio")
            out = audio.get("output") if isinstance(audio, dict) else None
            out = out if isinstance(out, dict) else {}
            fmt, voice = out.get("format"), out.get("voice")
            fmt_param, voice_param = "response.audio.output.format", "response.audio.output.voice"
        else:
            fmt, voice = response.get("output_audio_format"), response.get("voice")
            fmt_param, voice_param = "response.output_audio_format", "response.voice"
        if fmt is not None:
            probe = update_session(self.session, {"audio": {"output": {"format": fmt}}} if self.shape == GA
                                   else {"output_audio_format": fmt}, self.shape)
            if probe.output_format != self.session.output_format:
                raise RealtimeError("A response speaks in the session's output format; change it with "
                                    "session.update.", fmt_param)
        if voice is not None:
            probe = update_session(self.session, {"audio": {"output": {"voice": voice}}} if self.shape == GA
                                   else {"voice": voice}, self.shape)
            if probe.voice != self.session.voice:
                raise RealtimeError("A response speaks with the session's voice; change it with session.update.",
                                    voice_param)

    async def _reply_started(self, backend: _Backend, event: ReplyStarted) -> None:
        response = next((r for r in self._unbound if r.backend is backend), None)
        if response is None:
            return
        self._unbound.remove(response)
        response.reply_id = event.reply_id
        self._by_reply[(backend.generation, event.reply_id)] = response
        if response.cancel and not backend.closed:  # cancelled before it started
            await backend.queue.put(CancelReply())

    async def _stop(self, response: _Response, why: str, played_s: float | None = None) -> None:
        response.cancel = why
        backend = response.backend
        if response.reply_id is None or backend is None or backend.closed:
            if response.reply_id is None and backend is not None and not backend.closed:
                return  # stopped as soon as it starts (_reply_started)
            await self._end_response(response, "cancelled")
            return
        if played_s is not None:
            await backend.queue.put(PlaybackMark(played_s))
        await backend.queue.put(CancelReply())

    async def _response_cancel(self, event: dict) -> None:
        response = self._active
        if response is None or response.ended:
            raise RealtimeError("Cancellation failed: no active response found.", None, "response_cancel_not_active")
        wanted = event.get("response_id")
        if wanted is not None and wanted != response.id:
            raise RealtimeError(f"Cancellation failed: response {str(wanted)[:60]!r} is not active.", "response_id",
                                "response_cancel_not_active")
        await self._stop(response, "client_cancelled")

    async def _output_clear(self, event: dict) -> None:
        response = self._active
        if response is not None and not response.ended:
            await self._stop(response, "client_cancelled")
        await self._emit("output_audio_buffer.cleared", response_id=response.id if response else None)

    async def _end_response(self, r: _Response, status: str) -> None:
        if r.ended:
            return
        r.ended = True
        if self._active is r:
            self._active = None
        with contextlib.suppress(ValueError):
            self._unbound.remove(r)
        if r.heard is not None:
            self._set_transcript(r, r.heard)
        if r.audio:
            await self._emit("response.audio.done", response_id=r.id, item_id=r.item_id, output_index=0,
                             content_index=0)
            await self._emit("response.audio_transcript.done", response_id=r.id, item_id=r.item_id, output_index=0,
                             content_index=0, transcript=r.transcript)
        else:
            await self._emit("response.text.done", response_id=r.id, item_id=r.item_id, output_index=0,
                             content_index=0, text=r.transcript)
        item_status = "completed" if status == "completed" else "incomplete"
        item = self._assistant_item(r, item_status)
        if r.item_id in self._items:
            self._items[r.item_id] = item
        await self._emit("response.content_part.done", response_id=r.id, item_id=r.item_id, output_index=0,
                         content_index=0, part=self._part(r))
        await self._emit("response.output_item.done", response_id=r.id, output_index=0, item=item)
        if self.shape == GA:
            await self._emit("conversation.item.done", previous_item_id=None, item=item)
        await self._emit("response.done", response=self._response_object(r, status))

    def _set_transcript(self, r: _Response, text: str) -> None:
        r.heard = text
        item = self._items.get(r.item_id)
        if item is not None:
            item["content"][0]["transcript"] = text

    def _part(self, r: _Response) -> dict:
        if r.audio:
            transcript = r.heard if r.heard is not None else r.transcript
            return {"type": part_type(self.shape, "audio"), "transcript": transcript}
        return {"type": part_type(self.shape, "text"), "text": r.transcript}

    def _assistant_item(self, r: _Response, status: str) -> dict:
        return {"id": r.item_id, "object": "realtime.item", "type": "message", "status": status,
                "role": "assistant", "content": [self._part(r)]}

    def _response_object(self, r: _Response, status: str) -> dict:
        details = None
        if status == "cancelled":
            details = {"type": "cancelled", "reason": r.cancel or "client_cancelled"}
            if r.played_s is not None:  # beyond OpenAI's fields: what the caller heard
                details.update(audio_end_ms=int(round(r.played_s * 1000)), transcript=r.heard or "")
        elif status == "failed":
            details = {"type": "failed", "error": {"type": "server_error", "code": "call_ended",
                                                    "message": "the conversation call ended"}}
        modalities = ["audio"] if r.audio else ["text"]
        out = {"object": "realtime.response", "id": r.id, "status": status, "status_details": details,
               "output": [] if status == "in_progress" else [self._assistant_item(
                   r, "completed" if status == "completed" else "incomplete")],
               "conversation_id": None, "usage": None, "metadata": None}
        if self.shape == GA:
            out["output_modalities"] = modalities
        else:
            out["modalities"] = ["text", "audio"] if r.audio else ["text"]
        return out

    # -- items ------------------------------------------------------------------------------
    async def _item_create(self, event: dict) -> None:
        item = event.get("item")
        if item is None:
            raise RealtimeError("Missing required parameter: 'item'.", "item", "missing_required_parameter")
        role, text = message_text(item, "item")
        item_id = item.get("id") or "item_" + secrets.token_hex(10)
        if not isinstance(item_id, str) or len(item_id) > 64:
            raise RealtimeError("Invalid 'item.id': a string of at most 64 characters.", "item.id")
        if item_id in self._items:
            raise RealtimeError(f"Item with item_id '{item_id}' already exists.", "item.id", "item_already_exists")
        previous = event.get("previous_item_id", self._last_item)
        stored = {"id": item_id, "object": "realtime.item", "type": "message", "status": "completed", "role": role,
                  "content": item.get("content", [])}
        await self._add_item(stored, previous)
        if role == "assistant" and text:
            self._assistant_texts.append(text)

    async def _item_truncate(self, event: dict) -> None:
        item_id = event.get("item_id")
        if not isinstance(item_id, str):
            raise RealtimeError("Missing required parameter: 'item_id'.", "item_id", "missing_required_parameter")
        content_index = event.get("content_index", 0)
        if content_index != 0:
            raise RealtimeError("Invalid 'content_index': an assistant message has one audio part (0).",
                                "content_index")
        end_ms = event.get("audio_end_ms")
        if isinstance(end_ms, bool) or not isinstance(end_ms, int) or end_ms < 0:
            raise RealtimeError("Invalid 'audio_end_ms': expected a non-negative integer.", "audio_end_ms",
                                "invalid_type" if not isinstance(end_ms, int) else "invalid_value")
        r = self._by_item.get(item_id)
        if r is None:
            if item_id in self._items:
                raise RealtimeError(f"Only assistant messages with audio can be truncated; '{item_id}' is not one.",
                                    "item_id")
            raise RealtimeError(f"Item with item_id '{item_id[:64]}' not found.", "item_id", "item_not_found")
        if not r.audio:
            raise RealtimeError(f"Item '{item_id}' has no audio to truncate.", "item_id")
        audio_ms = int(round(r.audio_s * 1000))
        if end_ms > audio_ms and (r.ended or r.reply_id is None):
            raise RealtimeError(f"Audio content of {audio_ms}ms is already shorter than {end_ms}ms", "audio_end_ms")
        played = min(end_ms / 1000, r.audio_s)
        r.played_s = played
        heard = r.spoken.heard(played)
        self._set_transcript(r, heard)
        if not r.ended:
            await self._stop(r, r.cancel or "client_cancelled", played)
        await self._emit("conversation.item.truncated", item_id=item_id, content_index=0, audio_end_ms=end_ms,
                         transcript=heard)

    async def _item_delete(self, event: dict) -> None:
        item_id = event.get("item_id")
        if not isinstance(item_id, str) or item_id not in self._items:
            raise RealtimeError(f"Item with item_id '{str(item_id)[:64]}' not found.", "item_id", "item_not_found")
        del self._items[item_id]
        self._by_item.pop(item_id, None)
        await self._emit("conversation.item.deleted", item_id=item_id)

    async def _item_retrieve(self, event: dict) -> None:
        item_id = event.get("item_id")
        if not isinstance(item_id, str) or item_id not in self._items:
            raise RealtimeError(f"Item with item_id '{str(item_id)[:64]}' not found.", "item_id", "item_not_found")
        await self._emit("conversation.item.retrieved", item=self._items[item_id])


__all__ = ["PATH", "add_routes"]
