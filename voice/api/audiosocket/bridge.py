"""The AudioSocket door: Asterisk connects, one TCP connection is one conversation.

Per connection: read the call UUID (within :data:`UUID_TIMEOUT_S`), open a conversation
(admission is taken there), run it with the phone's format (8 kHz signed linear both ways,
realtime pacing, 20 ms reply frames), map audio and DTMF frames in and reply audio out. The
service paces the reply against the caller's audio, so each reply chunk is written at once;
a barge-in simply stops the chunks.

Every call ends with one log line: INFO when the caller hung up or went away (or the server
stopped: the call gets a hang-up frame), WARNING with the call UUID and the reason for a
protocol error, a service error (``ResourceExhausted`` at the call limit, ``Unavailable``,
``InvalidArgument``) or an error frame from Asterisk. For the first two an error frame
(code: :class:`~voice.api.audiosocket.protocol.ErrorCode`) is sent if the socket is still
writable. A hang-up frame or EOF ends the call at once: leaving ``async with call`` cancels its
recognition, decode jobs and synthesis. Other connections are never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from ...core.errors import InvalidArgument, ResourceExhausted, ServiceError, Unavailable
from ...service import VoiceService
from ...service.types import (
    AudioInput,
    ConversationConfig,
    ConversationInput,
    DtmfInput,
    Pacing,
    ReplyAudio,
)
from ..ops.limits import StreamClock, StreamLimits
from . import protocol
from .protocol import ErrorCode, FrameParser, ProtocolError

_LOGGER = logging.getLogger(__name__)

UUID_TIMEOUT_S = 10.0  # Asterisk sends the UUID right after connecting
READ_BYTES = 16384
CLOSE_TIMEOUT_S = 2.0

_ERROR_CODES = ((ResourceExhausted, ErrorCode.BUSY), (Unavailable, ErrorCode.UNAVAILABLE),
                (InvalidArgument, ErrorCode.INVALID), (ServiceError, ErrorCode.INVALID))


@dataclass(frozen=True)
class _Ended:
    """Why the caller's side ended: a hang-up frame, EOF, a lost connection, an error frame
    from the peer, or a protocol error."""

    reason: str
    error: ProtocolError | None = None
    warn: bool = False


class AudioSocketServer:
    """``port = await server.start()`` ... ``await server.stop()``."""

    def __init__(self, service: VoiceService, host: str, port: int, language: str = "", ssl=None,
                 idle_timeout_s: float = 0.0, max_call_s: float = 0.0):
        """``language``: the calls' language code ("" = detect per utterance; the dialplan
        passes nothing but the UUID); ``ssl``: an ``ssl.SSLContext`` for TLS (behind stunnel or
        a TLS-capable proxy: Asterisk's AudioSocket itself speaks plain TCP)."""
        self.service = service
        self.ssl = ssl
        # no frame for this long / a call this long ends it (0: never)
        self.limits = StreamLimits(idle_timeout_s, max_call_s)
        self.host = host
        self.port = port
        self.language = language
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._active = 0
        self._stopping = False

    @property
    def active_calls(self) -> int:
        """Connections with an open conversation (admitted, not yet ended)."""
        return self._active

    async def start(self) -> int:
        """Listen; returns the bound port (``port`` 0 = an ephemeral one)."""
        self._stopping = False
        self._server = await asyncio.start_server(self._accept, self.host, self.port, ssl=self.ssl)
        self.port = self._server.sockets[0].getsockname()[1]
        _LOGGER.info("AudioSocket on %s:%d", self.host, self.port)
        return self.port

    async def stop(self, grace_s: float = 0.0) -> None:
        """Stop listening (new calls are refused at once), give the calls in progress up to
        ``grace_s`` to end by themselves, then end the rest (each gets a hang-up frame)."""
        if self._server is not None:
            self._server.close()
        if self._tasks and grace_s > 0:
            await asyncio.wait(list(self._tasks), timeout=grace_s)
        self._stopping = True
        while self._tasks:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def config(self, call_id: str) -> ConversationConfig:
        defaults = self.service.conversation.defaults
        return ConversationConfig(
            input_encoding="LINEAR16", input_sample_rate_hertz=protocol.SAMPLE_RATE,
            output_encoding="LINEAR16", output_sample_rate_hertz=protocol.SAMPLE_RATE,
            pacing=Pacing.REALTIME, output_chunk_ms=protocol.FRAME_MS,
            reply_source="webhook" if defaults.reply_webhook else "intents",
            call_id=call_id, language_code=self.language)

    # -- one connection -------------------------------------------------------------------
    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._server is None or not self._server.is_serving():  # accepted just before stop()
            writer.close()
            return
        task = asyncio.create_task(self._connection(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _peer(writer)
        parser = FrameParser()
        started = time.monotonic()
        who = f"connection from {peer}"  # "call <uuid> from <peer>" once the UUID is known
        last: bytes | None = None  # the frame to send before closing, if any
        try:
            try:
                first = await asyncio.wait_for(_first_frame(reader, parser), UUID_TIMEOUT_S)
            except TimeoutError:
                raise ProtocolError(f"no call UUID within {UUID_TIMEOUT_S:.0f} s") from None
            if first is None:
                _LOGGER.debug("%s closed before its UUID", who)
                return
            who = f"call {first.uuid} from {peer}"
            ended = await self._call(reader, writer, parser, str(first.uuid))
            log = _LOGGER.warning if ended.warn else _LOGGER.info
            log("%s ended after %.1f s: %s", who, time.monotonic() - started, ended.reason)
        except ProtocolError as exc:
            _LOGGER.warning("%s: protocol error: %s; closing", who, exc)
            last = protocol.error_frame(ErrorCode.PROTOCOL)
        except ServiceError as exc:
            _LOGGER.warning("%s: %s: %s; closing", who, type(exc).__name__, exc)
            last = protocol.error_frame(next(code for kind, code in _ERROR_CODES if isinstance(exc, kind)))
        except ConnectionError as exc:  # the connection broke while we wrote
            _LOGGER.info("%s ended after %.1f s: connection lost (%s)", who, time.monotonic() - started, exc)
        except asyncio.CancelledError:
            if self._stopping:
                _LOGGER.info("%s ended after %.1f s: server stopping", who, time.monotonic() - started)
                last = protocol.hangup_frame()
            raise
        except Exception:
            _LOGGER.exception("%s failed", who)
            last = protocol.error_frame(ErrorCode.INTERNAL)
        finally:
            await _close(writer, last)

    async def _call(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, parser: FrameParser,
                    call_id: str) -> _Ended:
        config = self.config(call_id)
        ended: asyncio.Future[_Ended] = asyncio.get_running_loop().create_future()
        inputs = _inputs(reader, parser, ended, self.limits)
        try:
            async with self.service.conversation.open() as call:
                self._active += 1
                try:
                    play = asyncio.create_task(_play(call.run(config, inputs), writer, ended))
                    try:
                        await asyncio.wait((play, ended), return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        play.cancel()  # the caller's side ended (or we are stopped): end the call now
                        await asyncio.wait((play,))
                finally:
                    self._active -= 1
        finally:  # the call's tasks are done: nothing drives the inputs any more
            await inputs.aclose()
        outcome = ended.result() if ended.done() else None
        if outcome is not None and outcome.error is not None:
            raise outcome.error
        if not play.cancelled() and play.exception() is not None:
            raise play.exception()
        return outcome or _Ended("the conversation ended")


async def _first_frame(reader: asyncio.StreamReader, parser: FrameParser) -> protocol.CallId | None:
    """The UUID frame (the parser refuses any other first frame); None on EOF before any byte."""
    while (frame := parser.next()) is None:
        data = await reader.read(READ_BYTES)
        if not data:
            if parser.pending:
                parser.end()
            return None
        parser.feed(data)
    assert isinstance(frame, protocol.CallId)
    return frame


async def _inputs(reader: asyncio.StreamReader, parser: FrameParser, ended: asyncio.Future,
                  limits: StreamLimits = StreamLimits()) -> AsyncIterator[ConversationInput]:
    """The caller's frames as conversation inputs; when the caller's side ends (for whatever
    reason, a limit included: no frame for ``limits.idle_timeout_s``, a call longer than
    ``limits.max_stream_seconds``) ``ended`` says why and the inputs end. Never raises."""
    outcome = None
    clock = StreamClock(limits)
    try:
        while outcome is None:
            for frame in parser:
                if isinstance(frame, protocol.Audio):
                    yield AudioInput(frame.pcm)
                elif isinstance(frame, protocol.Dtmf):
                    yield DtmfInput(frame.digit)
                elif isinstance(frame, protocol.Hangup):
                    outcome = _Ended("hang-up")
                    break
                elif isinstance(frame, protocol.PeerError):
                    code = "no code" if frame.code is None else f"code 0x{frame.code:02x}"
                    outcome = _Ended(f"the peer sent an error frame ({code})", warn=True)
                    break
            if outcome is None and (hit := clock.hit()) is not None:
                outcome = _Ended(str(hit), warn=True)
            if outcome is None:
                try:
                    async with asyncio.timeout(clock.wait_s()):
                        data = await reader.read(READ_BYTES)
                except TimeoutError:
                    continue  # a limit: the check above says which
                clock.heard()
                if not data:
                    parser.end()
                    outcome = _Ended("connection closed without hang-up")
                else:
                    parser.feed(data)
    except ProtocolError as exc:
        outcome = _Ended("protocol error", exc)
    except OSError as exc:
        outcome = _Ended(f"connection lost ({exc})")
    finally:
        if not ended.done():
            ended.set_result(outcome or _Ended("input closed"))


async def _play(events, writer: asyncio.StreamWriter, ended: asyncio.Future) -> None:
    """Reply audio out as 320-byte frames, as the service releases it (already paced)."""
    async for event in events:
        if isinstance(event, ReplyAudio):
            if ended.done() or writer.is_closing():  # nothing more goes out once the caller's side ended
                return
            writer.write(protocol.audio_frames(event.chunk.audio))
            await writer.drain()


async def _close(writer: asyncio.StreamWriter, last: bytes | None) -> None:
    try:
        if last is not None and not writer.is_closing():
            with contextlib.suppress(OSError, TimeoutError):
                writer.write(last)
                await asyncio.wait_for(writer.drain(), CLOSE_TIMEOUT_S)
    finally:
        writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT_S)


def _peer(writer: asyncio.StreamWriter) -> str:
    address = writer.get_extra_info("peername")
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)
