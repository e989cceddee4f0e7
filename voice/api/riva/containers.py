"""Riva's container encodings in a stream (FLAC, Ogg Opus) as the raw PCM the service takes.

Riva clients may stream a FLAC or Ogg Opus file (``AudioChunkFileIterator`` sends any file's
bytes as they are) or a live Opus encoder's Ogg pages. :class:`ContainerStream` decodes such a
byte stream as it arrives: PyAV's demuxer and decoder (FFmpeg, already installed with
faster-whisper) run in one worker thread per stream, reading from a bounded input and writing
to a bounded output, so neither a fast sender nor a slow reader grows memory and the event
loop never decodes. Output is mono 16-bit PCM at the stream's own rate (48 kHz for Opus).
:meth:`ContainerStream.aclose` ends the thread whatever state it is in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import AsyncIterator

from ...core.errors import InvalidArgument

_LOGGER = logging.getLogger(__name__)

FORMATS = {b"fLaC": ("flac", "FLAC"), b"OggS": ("ogg", "OGGOPUS")}  # magic -> (demuxer, Riva's name)
IN_CHUNKS = 8  # input chunks waiting for the decoder thread
OUT_BLOCKS = 8  # decoded blocks waiting for the recogniser
BLOCK_S = 0.1  # decoded audio is handed out in blocks of about this length
_END = object()


def container_of(data: bytes) -> tuple[str, str] | None:
    """(PyAV demuxer, Riva encoding name) when ``data`` starts a FLAC or Ogg stream."""
    return FORMATS.get(data[:4])


class ContainerStream:
    """Decode one FLAC / Ogg Opus byte stream: :meth:`feed` it, read :meth:`blocks`."""

    def __init__(self, demuxer: str, name: str, field: str = "audio_content"):
        self.name = name
        self._field = field
        self._loop = asyncio.get_running_loop()
        self._in: queue.Queue = queue.Queue()
        self._room = asyncio.Semaphore(IN_CHUNKS)  # input the thread has not taken yet
        self._out: asyncio.Queue = asyncio.Queue()
        self._slots = threading.Semaphore(OUT_BLOCKS)  # output the reader has not taken yet
        self._cancelled = threading.Event()
        self._done = asyncio.Event()
        self._pending = b""
        self._eof = False
        self._thread = threading.Thread(target=self._run, args=(demuxer,), name=f"riva-{demuxer}", daemon=True)
        self._thread.start()

    # -- the event loop's side ------------------------------------------------------------
    async def feed(self, data: bytes) -> None:
        """Hand bytes to the decoder (waits while IN_CHUNKS chunks are still untaken)."""
        await self._room.acquire()
        self._in.put(data)

    def end(self) -> None:
        """No more input: the decoder finishes what it has."""
        self._in.put(None)

    async def blocks(self) -> AsyncIterator[tuple[int, bytes]]:
        """(sample rate, mono int16 bytes) blocks as they are decoded; raises
        :class:`InvalidArgument` naming the field when the bytes are not a readable stream."""
        while True:
            item = await self._out.get()
            self._slots.release()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise InvalidArgument(self._field, f"not a readable {self.name} stream ({item})")
            yield item

    async def aclose(self) -> None:
        """Stop the decoder thread (at the end, or when the call is cancelled) and wait for it."""
        self._cancelled.set()
        self._in.put(None)  # a thread waiting for input wakes up
        for _ in range(OUT_BLOCKS + 1):
            self._slots.release()  # a thread blocked on a full output goes on, and sees the cancel
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(self._done.wait())

    # -- the decoder thread ---------------------------------------------------------------
    def read(self, size: int) -> bytes:
        """PyAV's file-like input: blocks until bytes (or the end) arrive."""
        while not self._pending:
            if self._eof or self._cancelled.is_set():
                return b""
            item = self._in.get()
            if item is None:
                self._eof = True
                return b""
            self._call(self._room.release)
            self._pending = item
        out, self._pending = self._pending[:size], self._pending[size:]
        return out

    def _call(self, fn, *args) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is already closed: nobody is waiting
            self._loop.call_soon_threadsafe(fn, *args)

    def _put(self, item) -> None:
        self._slots.acquire()
        if item is _END or isinstance(item, BaseException) or not self._cancelled.is_set():
            self._call(self._out.put_nowait, item)

    def _run(self, demuxer: str) -> None:
        try:
            self._decode(demuxer)
            self._put(_END)
        except Exception as exc:  # FFmpeg's errors for bytes that are not this container
            _LOGGER.debug("%s stream failed: %s", self.name, exc)
            self._put(exc)
        finally:
            self._call(self._done.set)

    def _decode(self, demuxer: str) -> None:
        import av

        with av.open(self, format=demuxer, mode="r") as container:
            stream = container.streams.audio[0]
            rate = stream.rate
            to_mono = av.AudioResampler(format="s16", layout="mono", rate=rate)
            block = int(rate * BLOCK_S) * 2
            buf = bytearray()
            for frame in container.decode(stream):
                if self._cancelled.is_set():
                    return
                for out in to_mono.resample(frame):
                    buf += out.to_ndarray().tobytes()
                if len(buf) >= block:
                    self._put((rate, bytes(buf)))
                    buf.clear()
            for out in to_mono.resample(None):
                buf += out.to_ndarray().tobytes()
            if buf:
                self._put((rate, bytes(buf)))
