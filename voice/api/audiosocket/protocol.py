"""AudioSocket framing (Asterisk ``res_audiosocket``): plain functions and dataclasses, no I/O.

Every frame is a 3-byte header, kind (1 byte) and payload length (uint16, big-endian), then
the payload:

=====  ============  ===========================================================================
kind   name          payload (limits enforced here)
=====  ============  ===========================================================================
0x00   hang-up       none (length must be 0)
0x01   UUID          the call's UUID, 16 bytes binary; must be the first frame, and only once
0x03   DTMF          one ASCII byte (which digits the call accepts is the service's rule)
0x10   audio         signed-linear 16-bit little-endian, 8 kHz mono: an even length from 2 to
                     :data:`MAX_AUDIO_BYTES` (4096 bytes = 256 ms; Asterisk sends 320-byte frames)
0xff   error         an optional application-specific code (first byte), at most
                     :data:`MAX_ERROR_BYTES`
=====  ============  ===========================================================================

Anything else is a :class:`ProtocolError` that names what is wrong: an unknown kind (0x11-0x18,
audio at other rates in newer Asterisk releases, included: this bridge speaks 8 kHz only), a
payload size wrong for its kind, a frame other than the UUID first, a second UUID, or a frame cut
off by the end of the stream. Kind and size are checked as soon as the header has arrived.

:class:`FrameParser` is incremental: :meth:`~FrameParser.feed` bytes as they come,
:meth:`~FrameParser.next` complete frames (None: more bytes needed), :meth:`~FrameParser.end` at
EOF. What we send is built by :func:`audio_frames` (reply audio in exact 320-byte frames),
:func:`error_frame` and :func:`hangup_frame`.
"""

from __future__ import annotations

import enum
import struct
import uuid
from dataclasses import dataclass

HEADER = struct.Struct(">BH")

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_AUDIO = 0x10
KIND_ERROR = 0xFF

KIND_NAMES = {KIND_HANGUP: "hang-up", KIND_UUID: "UUID", KIND_DTMF: "DTMF", KIND_AUDIO: "audio",
              KIND_ERROR: "error"}

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000 * 2  # 320: what Asterisk sends and expects
MAX_AUDIO_BYTES = 4096
MAX_ERROR_BYTES = 256
_OTHER_RATES = range(0x11, 0x19)  # slin at 12-192 kHz in newer Asterisk releases


class ErrorCode(enum.IntEnum):
    """The codes of the error frames this bridge sends (application-specific per the protocol;
    kept clear of Asterisk's own 0x00-0x04)."""

    PROTOCOL = 0x10  # the peer sent something that is not valid AudioSocket (see ProtocolError)
    BUSY = 0x11  # the server is at its call limit (ResourceExhausted)
    UNAVAILABLE = 0x12  # models still loading, or shutting down
    INVALID = 0x13  # the service refused the call's settings or input (InvalidArgument, ...)
    INTERNAL = 0x14  # a bug on our side


class ProtocolError(ValueError):
    """The byte stream is not valid AudioSocket; the message says what is wrong."""


@dataclass(frozen=True)
class Hangup:
    pass


@dataclass(frozen=True)
class CallId:
    uuid: uuid.UUID


@dataclass(frozen=True)
class Dtmf:
    digit: str  # one ASCII character


@dataclass(frozen=True)
class Audio:
    pcm: bytes  # signed-linear 16-bit little-endian, 8 kHz mono


@dataclass(frozen=True)
class PeerError:
    code: int | None  # the first payload byte, None when the frame has none
    payload: bytes = b""


Frame = Hangup | CallId | Dtmf | Audio | PeerError


def kind_name(kind: int) -> str:
    return f"{KIND_NAMES.get(kind, 'unknown')} (0x{kind:02x})"


def check_header(kind: int, length: int, *, have_uuid: bool) -> None:
    """Raise :class:`ProtocolError` if a frame of ``kind`` and ``length`` cannot come now."""
    if kind not in KIND_NAMES:
        hint = (": audio at a rate other than 8 kHz is not supported (send kind 0x10)"
                if kind in _OTHER_RATES else "")
        raise ProtocolError(f"unknown frame kind 0x{kind:02x} (length {length}){hint}")
    if not have_uuid and kind != KIND_UUID:
        raise ProtocolError(f"{kind_name(kind)} frame before the call UUID (the first frame must be kind 0x01)")
    if have_uuid and kind == KIND_UUID:
        raise ProtocolError("a second UUID frame (the UUID comes once, first)")
    if kind == KIND_HANGUP and length != 0:
        raise ProtocolError(f"hang-up frame with a {length}-byte payload (must be empty)")
    elif kind == KIND_UUID and length != 16:
        raise ProtocolError(f"UUID frame of {length} bytes (must be 16)")
    elif kind == KIND_DTMF and length != 1:
        raise ProtocolError(f"DTMF frame of {length} bytes (must be 1)")
    elif kind == KIND_AUDIO and (length == 0 or length % 2 or length > MAX_AUDIO_BYTES):
        raise ProtocolError(f"audio frame of {length} bytes (16-bit samples: an even length from 2 to "
                            f"{MAX_AUDIO_BYTES})")
    elif kind == KIND_ERROR and length > MAX_ERROR_BYTES:
        raise ProtocolError(f"error frame of {length} bytes (at most {MAX_ERROR_BYTES})")


def decode(kind: int, payload: bytes) -> Frame:
    """The frame of a checked header (:func:`check_header`) and its payload."""
    if kind == KIND_AUDIO:
        return Audio(payload)
    if kind == KIND_DTMF:
        if payload[0] > 0x7F:
            raise ProtocolError(f"DTMF byte 0x{payload[0]:02x} is not ASCII")
        return Dtmf(chr(payload[0]))
    if kind == KIND_UUID:
        return CallId(uuid.UUID(bytes=payload))
    if kind == KIND_HANGUP:
        return Hangup()
    return PeerError(payload[0] if payload else None, payload)


class FrameParser:
    """Frames from a byte stream that arrives in arbitrary pieces."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._header: tuple[int, int] | None = None  # of the frame whose payload is awaited
        self.call_id: uuid.UUID | None = None  # once the UUID frame has been parsed
        self.failed = False

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next(self) -> Frame | None:
        """The next complete frame, or None until more bytes are fed; raises ProtocolError (and
        keeps raising it: the stream cannot be resynchronised)."""
        if self.failed:
            raise ProtocolError("the stream already failed")
        try:
            if self._header is None:
                if len(self._buffer) < HEADER.size:
                    return None
                kind, length = HEADER.unpack_from(self._buffer)
                check_header(kind, length, have_uuid=self.call_id is not None)
                del self._buffer[:HEADER.size]
                self._header = kind, length
            kind, length = self._header
            if len(self._buffer) < length:
                return None
            payload = bytes(self._buffer[:length])
            del self._buffer[:length]
            self._header = None
            frame = decode(kind, payload)
        except ProtocolError:
            self.failed = True
            raise
        if isinstance(frame, CallId):
            self.call_id = frame.uuid
        return frame

    def __iter__(self):
        while (frame := self.next()) is not None:
            yield frame

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame held (header included)."""
        return len(self._buffer) + (HEADER.size if self._header is not None else 0)

    def end(self) -> None:
        """The stream ended: raise ProtocolError if it cut a frame off."""
        if self._header is not None:
            kind, length = self._header
            raise ProtocolError(f"truncated {kind_name(kind)} frame at end of stream: "
                                f"{len(self._buffer)} of {length} payload bytes")
        if self._buffer:
            raise ProtocolError(f"truncated frame header at end of stream ({len(self._buffer)} of "
                                f"{HEADER.size} bytes)")


# -- what we send ---------------------------------------------------------------------------

def encode(kind: int, payload: bytes = b"") -> bytes:
    if len(payload) > 0xFFFF:
        raise ValueError(f"payload of {len(payload)} bytes does not fit a frame")
    return HEADER.pack(kind, len(payload)) + payload


def audio_frames(pcm: bytes, frame_bytes: int = FRAME_BYTES) -> bytes:
    """``pcm`` as back-to-back audio frames of exactly ``frame_bytes``; the last is padded with
    zeros (silence)."""
    out = bytearray()
    for i in range(0, len(pcm), frame_bytes):
        piece = pcm[i:i + frame_bytes]
        out += HEADER.pack(KIND_AUDIO, frame_bytes) + piece + bytes(frame_bytes - len(piece))
    return bytes(out)


def error_frame(code: int) -> bytes:
    return encode(KIND_ERROR, bytes([code]))


def hangup_frame() -> bytes:
    return encode(KIND_HANGUP)


def uuid_frame(call_id: uuid.UUID) -> bytes:
    return encode(KIND_UUID, call_id.bytes)


def dtmf_frame(digit: str) -> bytes:
    return encode(KIND_DTMF, digit.encode("ascii"))
