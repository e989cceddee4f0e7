"""``GET /twilio/media``: one Twilio Media Streams WebSocket, one conversation. Mapping only:
JSON messages <-> :mod:`voice.service.types`, errors -> a close code and one log line.

In: ``connected`` (ignored), ``start`` (opens the conversation: 8 kHz mu-law both ways,
realtime pacing in 20 ms frames, ``callSid`` as the call id, ``customParameters.language``),
``media`` (inbound track: base64 mu-law -> :class:`AudioInput`), ``dtmf`` ->
:class:`DtmfInput`, ``mark`` (a mark we sent has played: logged), ``stop`` (end of input; the
call finishes and the socket closes with 1000).

Out: :class:`ReplyAudio` -> ``media``, :class:`BargeIn` -> ``clear`` (the far end drops the
audio it still holds), :class:`ReplyEnded` -> ``mark`` named ``reply-<id>-end``; other events
are logged at debug.

A message that breaks the protocol (not JSON, an unknown event, media before start, a payload
that is not base64 mu-law, ...) ends that call: one warning naming the call and the reason,
the socket closed with 1007 (bad data) or 1008 (protocol); service errors likewise (1008 for
an invalid argument, 1013 at the call limit or while not serving). The door's limits
(:mod:`voice.api.ops.limits`; Twilio has no error message, so a warning names the limit): no
inbound media for ``server.idle_timeout_s`` or a stream longer than
``server.max_stream_seconds`` ends the call and closes with 1008; a message over
``server.max_message_bytes`` (at most :data:`MAX_MESSAGE_BYTES`) closes with 1009. A socket
that goes away ends its call at once: leaving ``async with call`` cancels recognition and
synthesis.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging

from aiohttp import WSCloseCode, WSMsgType, web

from ...core.errors import InvalidArgument, ResourceExhausted, ServiceError, Unavailable
from ...service import VoiceService
from ...service.types import (
    AudioInput,
    BargeIn,
    ConversationConfig,
    ConversationEvent,
    DtmfInput,
    Pacing,
    ReplyAudio,
    ReplyEnded,
    ReplySource,
)
from ..ops.limits import MIN_WAIT_S, StreamClock, StreamLimits

_LOGGER = logging.getLogger(__name__)

PATH = "/twilio/media"
SAMPLE_RATE = 8000  # Media Streams audio is 8 kHz mu-law, both ways
FRAME_MS = 20
MAX_MEDIA_BYTES = SAMPLE_RATE  # at most 1 s of mu-law in one media message (Twilio sends 20 ms)
MAX_MESSAGE_BYTES = 64 * 1024  # the most a message may be (server.max_message_bytes may say less)
START_TIMEOUT_S = 10.0  # from the upgrade to the start event
CLOSE_TIMEOUT_S = 5.0  # for the peer's answer to our close frame
INBOUND_TRACKS = frozenset({"inbound", "inbound_track"})
MEDIA_FORMAT = ("audio/x-mulaw", "8000", "1")
MAX_REASON_BYTES = 123  # a close frame's reason (RFC 6455)

# the config fields a stream sets, by their names here
_FIELDS = {"config.language_code": "customParameters.language"}

BAD_DATA = WSCloseCode.INVALID_TEXT  # 1007: the message does not parse or a field is wrong
BAD_PROTOCOL = WSCloseCode.POLICY_VIOLATION  # 1008: a message that does not belong here, or a limit


def add_routes(app: web.Application, service: VoiceService) -> None:
    """Mount ``GET /twilio/media`` on ``app``; its calls are closed (1001) when the app shuts down."""
    bridge = _Bridge(service)
    app.router.add_get(PATH, bridge.handle)
    app.on_shutdown.append(bridge.shutdown)


class _Refused(Exception):
    """The peer broke the protocol: the call ends and the socket closes with ``code``."""

    def __init__(self, code: WSCloseCode, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


class _Gone(Exception):
    """The socket closed before ``stop`` (the peer vanished, or the server is stopping)."""


class _Bridge:
    def __init__(self, service: VoiceService):
        self.service = service
        self._connections: set[_Connection] = set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        limits = self.service.limits
        ws = web.WebSocketResponse(max_msg_size=min(MAX_MESSAGE_BYTES, limits.max_message_bytes),
                                   timeout=CLOSE_TIMEOUT_S)
        if not ws.can_prepare(request).ok:
            return web.Response(status=426, headers={"Upgrade": "websocket"},
                                text=f"{PATH} is a Twilio Media Streams WebSocket\n")
        await ws.prepare(request)
        connection = _Connection(ws, request.remote or "?", StreamLimits.of(limits))
        self._connections.add(connection)
        try:
            await connection.serve(self.service)
        finally:
            self._connections.discard(connection)
        return ws

    async def shutdown(self, app: web.Application) -> None:
        await asyncio.gather(*(c.shutdown() for c in list(self._connections)), return_exceptions=True)


class _Connection:
    def __init__(self, ws: web.WebSocketResponse, peer: str, limits: StreamLimits = StreamLimits()):
        self.ws = ws
        self.peer = peer
        self.limits = limits  # from the start event on
        self.stream_sid = ""
        self.call_sid = ""
        self._seen_sid = ""  # a streamSid named before start (for the log)
        self._stopped = False
        self._shutting_down = False
        self._other_tracks: set[str] = set()

    def __str__(self) -> str:
        if self.stream_sid:
            return f"twilio call {self.call_sid or '?'} (stream {self.stream_sid})"
        if self._seen_sid:
            return f"twilio stream {self._seen_sid} from {self.peer} (before start)"
        return f"twilio connection from {self.peer} (before start)"

    async def shutdown(self) -> None:
        self._shutting_down = True
        await self.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")

    # -- the call ---------------------------------------------------------------------------
    async def serve(self, service: VoiceService) -> None:
        code, reason = WSCloseCode.OK, ""
        try:
            language = await self._start()
            if language is None:
                return
            config = self._config(service, language)
            async with service.conversation.open() as call:
                _LOGGER.debug("%s: conversation open (replies from %s, language %r)", self, config.reply_source,
                              config.language_code)
                async with contextlib.aclosing(call.run(config, self._inputs())) as events:
                    async for event in events:
                        await self._send(event)
            _LOGGER.debug("%s: ended", self)
        except _Refused as exc:
            code, reason = exc.code, exc.reason
            _LOGGER.warning("%s: %s; closing the WebSocket with %d", self, reason, code)
        except (_Gone, ConnectionResetError) as exc:
            why = "the server is shutting down" if self._shutting_down else f"the WebSocket went away ({exc})"
            _LOGGER.info("%s: %s; call ended", self, why)
        except ServiceError as exc:
            if isinstance(exc, InvalidArgument):
                exc = exc.renamed(_FIELDS)
            code, reason = _close_code(exc), str(exc)
            _LOGGER.warning("%s: %s: %s; closing the WebSocket with %d", self, type(exc).__name__, exc, code)
        except Exception:
            code, reason = WSCloseCode.INTERNAL_ERROR, "internal error"
            _LOGGER.exception("%s: internal error; closing the WebSocket with %d", self, code)
        finally:
            with contextlib.suppress(Exception):  # a no-op when it is closed already
                await self.ws.close(code=code, message=_reason(reason))

    def _config(self, service: VoiceService, language: str) -> ConversationConfig:
        defaults = service.conversation.defaults
        source = ReplySource.WEBHOOK if defaults.reply_webhook else ReplySource.INTENTS
        return ConversationConfig(input_encoding="MULAW", input_sample_rate_hertz=SAMPLE_RATE,
                                  output_encoding="MULAW", output_sample_rate_hertz=SAMPLE_RATE,
                                  pacing=Pacing.REALTIME, output_chunk_ms=FRAME_MS, reply_source=source.value,
                                  call_id=self.call_sid, language_code=language or defaults.language)

    # -- in ---------------------------------------------------------------------------------
    async def _message(self, timeout: float | None) -> dict:
        """The next message (raises TimeoutError after ``timeout`` s; None: no limit)."""
        msg = await self.ws.receive(timeout=None if timeout is None else max(timeout, MIN_WAIT_S))
        if msg.type is WSMsgType.TEXT:
            try:
                message = json.loads(msg.data)
            except ValueError:
                raise _Refused(BAD_DATA, f"a text message that is not JSON ({len(msg.data)} characters)") from None
            if not isinstance(message, dict) or not isinstance(message.get("event"), str):
                raise _Refused(BAD_DATA, "a JSON message without an event name")
            if not self.stream_sid and isinstance(message.get("streamSid"), str):
                self._seen_sid = message["streamSid"][:64]
            return message
        if msg.type is WSMsgType.BINARY:
            raise _Refused(BAD_PROTOCOL, f"a binary message ({len(msg.data)} bytes); Media Streams messages are JSON text")
        if msg.type is WSMsgType.ERROR:  # aiohttp has closed the socket with the error's code already
            code = getattr(msg.data, "code", None) or WSCloseCode.PROTOCOL_ERROR
            raise _Refused(code, f"a bad WebSocket frame: {msg.data}")
        raise _Gone(f"closed with {self.ws.close_code}" if self.ws.close_code is not None else msg.type.name.lower())

    async def _start(self) -> str | None:
        """Wait for ``start``; its language (None: the stream stopped before it started)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_S
        while True:
            try:
                message = await self._message(deadline - loop.time())
            except TimeoutError:
                raise _Refused(BAD_PROTOCOL, f"no start event for {START_TIMEOUT_S:g} s") from None
            event = message["event"]
            if event == "start":
                return self._parse_start(message)
            if event == "connected":
                continue
            if event == "stop":
                _LOGGER.debug("%s: stopped before it started", self)
                return None
            if event in ("media", "dtmf", "mark"):
                raise _Refused(BAD_PROTOCOL, f"{event} before start")
            raise _Refused(BAD_PROTOCOL, f"unknown event {event[:40]!r}")

    def _parse_start(self, message: dict) -> str:
        start = message.get("start")
        if not isinstance(start, dict):
            raise _Refused(BAD_DATA, "a start event without a start object")
        sid = message.get("streamSid") or start.get("streamSid")
        call_sid = start.get("callSid", "")
        if not isinstance(sid, str) or not sid:
            raise _Refused(BAD_DATA, "a start event without a streamSid")
        if not isinstance(call_sid, str):
            raise _Refused(BAD_DATA, "start.callSid is not a string")
        self.stream_sid, self.call_sid = sid[:64], call_sid[:64]
        tracks = start.get("tracks", ["inbound"])
        if not isinstance(tracks, list) or not INBOUND_TRACKS.intersection(t for t in tracks if isinstance(t, str)):
            raise _Refused(BAD_PROTOCOL, f"start.tracks {tracks!r} carry no inbound audio")
        media_format = start.get("mediaFormat", {})
        if not isinstance(media_format, dict):
            raise _Refused(BAD_DATA, "start.mediaFormat is not an object")
        spoken = (str(media_format.get("encoding", MEDIA_FORMAT[0])).lower(),
                  str(media_format.get("sampleRate", MEDIA_FORMAT[1])), str(media_format.get("channels", MEDIA_FORMAT[2])))
        if spoken != MEDIA_FORMAT:
            raise _Refused(BAD_PROTOCOL, f"start.mediaFormat {media_format!r}: only audio/x-mulaw, 8000 Hz, 1 channel")
        parameters = start.get("customParameters") or {}
        if not isinstance(parameters, dict):
            raise _Refused(BAD_DATA, "start.customParameters is not an object")
        language = parameters.get("language", "")
        if not isinstance(language, str):
            raise _Refused(BAD_DATA, "customParameters.language is not a string")
        return language

    async def _inputs(self):
        clock = StreamClock(self.limits)
        while True:
            if (hit := clock.hit()) is not None:
                raise _Refused(BAD_PROTOCOL, str(hit))
            try:
                message = await self._message(clock.wait_s())
            except TimeoutError:
                continue  # a limit: the check above says which
            event = message["event"]
            if event == "media":
                audio = self._media(message)
                if audio is not None:
                    clock.heard()
                    yield AudioInput(audio)
            elif event == "dtmf":
                dtmf = message.get("dtmf")
                digit = dtmf.get("digit") if isinstance(dtmf, dict) else None
                if not isinstance(digit, str):
                    raise _Refused(BAD_DATA, "a dtmf event without a digit")
                yield DtmfInput(digit)
            elif event == "mark":
                mark = message.get("mark")
                _LOGGER.debug("%s: mark %r played", self, mark.get("name") if isinstance(mark, dict) else mark)
            elif event == "stop":
                self._stopped = True
                _LOGGER.debug("%s: stop", self)
                return
            elif event == "connected":
                continue
            elif event == "start":
                raise _Refused(BAD_PROTOCOL, "a second start event")
            else:
                raise _Refused(BAD_PROTOCOL, f"unknown event {event[:40]!r}")

    def _media(self, message: dict) -> bytes | None:
        media = message.get("media")
        if not isinstance(media, dict):
            raise _Refused(BAD_DATA, "a media event without a media object")
        track = media.get("track", "inbound")
        if track not in INBOUND_TRACKS:
            if str(track) not in self._other_tracks:
                self._other_tracks.add(str(track))
                _LOGGER.debug("%s: ignoring media of track %r", self, track)
            return None
        payload = media.get("payload")
        if not isinstance(payload, str):
            raise _Refused(BAD_DATA, "a media event without a payload string")
        try:
            audio = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise _Refused(BAD_DATA, f"a media payload that is not base64 ({len(payload)} characters)") from None
        if not 0 < len(audio) <= MAX_MEDIA_BYTES:
            raise _Refused(BAD_DATA, f"a media payload of {len(audio)} bytes (8 kHz mu-law: 1 to "
                                     f"{MAX_MEDIA_BYTES} bytes a message)")
        return audio

    # -- out --------------------------------------------------------------------------------
    async def _send(self, event: ConversationEvent) -> None:
        if self._stopped:  # the far end has hung up: nothing more goes out
            _LOGGER.debug("%s: after stop: %r", self, event)
            return
        if isinstance(event, ReplyAudio):
            message = {"event": "media", "streamSid": self.stream_sid,
                       "media": {"payload": base64.b64encode(event.chunk.audio).decode("ascii")}}
        elif isinstance(event, BargeIn):
            _LOGGER.debug("%s: barge-in after %.2f s of reply %d", self, event.played_s, event.reply_id)
            message = {"event": "clear", "streamSid": self.stream_sid}
        elif isinstance(event, ReplyEnded):
            message = {"event": "mark", "streamSid": self.stream_sid, "mark": {"name": f"reply-{event.reply_id}-end"}}
        else:
            _LOGGER.debug("%s: %r", self, event)
            return
        await self.ws.send_str(json.dumps(message, separators=(",", ":")))


def _close_code(error: ServiceError) -> WSCloseCode:
    """1013 at a limit or while not serving (try again later); 1008 for an invalid argument or
    a feature switched off (Unimplemented)."""
    if isinstance(error, (ResourceExhausted, Unavailable)):
        return WSCloseCode.TRY_AGAIN_LATER
    return WSCloseCode.POLICY_VIOLATION


def _reason(text: str) -> bytes:
    return text.encode()[:MAX_REASON_BYTES].decode(errors="ignore").encode()
