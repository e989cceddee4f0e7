"""OpenAI's audio REST API on the HTTP server's aiohttp app (:func:`add_routes`).

=====================================  ===========================================================
``POST /v1/audio/transcriptions``      multipart ``file`` + ``model``, ``language``, ``prompt``,
                                       ``temperature``, ``response_format``,
                                       ``timestamp_granularities[]``, ``stream``
``POST /v1/audio/translations``        the same, Whisper's translate task (into English)
``POST /v1/audio/speech``              JSON ``input``, ``voice``, ``model``, ``response_format``,
                                       ``speed``, ``stream_format`` (``audio`` or ``sse``)
``GET /v1/models``, ``/v1/models/ID``  the recognition models, ``whisper-1``, ``tts-1``
``GET /v1/audio/voices``               the voices (``{"voices": [...]}``)
=====================================  ===========================================================

Each handler reads the HTTP request into plain values, calls the service
(:meth:`~voice.service.recognition.RecognitionService.recognize` /
:meth:`~voice.service.recognition.RecognitionService.recognize_each`,
:meth:`~voice.service.synthesis.SynthesisService.stream`) and writes what
:mod:`voice.api.openai.formats` makes of the result; a service error becomes OpenAI's error
JSON in one place (:func:`_fail`). Speech goes out as it is synthesized (chunked transfer, or
server-sent events); a client that hangs up closes the synthesis iterator, which stops the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from ...core.errors import InvalidArgument, ServiceError
from ...service import VoiceService
from . import formats

_LOGGER = logging.getLogger(__name__)
PREFIX = "/v1"
SERVICE_KEY: web.AppKey[VoiceService] = web.AppKey("openai_rest_service", VoiceService)


def add_routes(app: web.Application, service: VoiceService) -> None:
    app[SERVICE_KEY] = service
    app.router.add_post(f"{PREFIX}/audio/transcriptions", _transcriptions)
    app.router.add_post(f"{PREFIX}/audio/translations", _translations)
    app.router.add_post(f"{PREFIX}/audio/speech", _speech)
    app.router.add_get(f"{PREFIX}/models", _models)
    app.router.add_get(f"{PREFIX}/models/{{model}}", _model)
    app.router.add_get(f"{PREFIX}/audio/voices", _voices)


def _fail(reply: formats.ErrorReply) -> web.Response:
    return web.json_response(reply.body, status=reply.status, headers=reply.headers)


def _service(request: web.Request) -> VoiceService:
    return request.app[SERVICE_KEY]


# -- transcriptions --------------------------------------------------------------------------------

async def _read_form(request: web.Request) -> tuple[dict[str, list[str]], bytes | None]:
    """The multipart fields (text) and the ``file`` part's bytes, at most MAX_FILE_BYTES."""
    if not request.content_type.startswith("multipart/"):
        raise InvalidArgument("file", f"send multipart/form-data with the audio in 'file', not {request.content_type!r}")
    try:
        return await _read_parts(request)
    except InvalidArgument:
        raise
    except (ValueError, AssertionError, LookupError, HttpProcessingError) as exc:  # a bad boundary, part or end
        raise InvalidArgument("file", f"unreadable multipart body ({exc or type(exc).__name__})") from None


async def _read_parts(request: web.Request) -> tuple[dict[str, list[str]], bytes | None]:
    reader = await request.multipart()
    fields: dict[str, list[str]] = {}
    audio: bytes | None = None
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise InvalidArgument("file", "nested multipart bodies are not supported")
        name = part.name or ""
        if name == "file":
            data = bytearray()
            while chunk := await part.read_chunk(1 << 16):
                data += chunk
                if len(data) > formats.MAX_FILE_BYTES:
                    raise InvalidArgument("file", f"larger than {formats.MAX_FILE_BYTES // (1024 * 1024)} MB")
            audio = bytes(data)
        else:
            text = await part.text()
            if len(text) > 10000:
                raise InvalidArgument(name, "longer than 10000 characters")
            fields.setdefault(name, []).append(text)
    return fields, audio


async def _transcriptions(request: web.Request) -> web.StreamResponse:
    return await _recognize(request, translate=False)


async def _translations(request: web.Request) -> web.StreamResponse:
    return await _recognize(request, translate=True)


async def _recognize(request: web.Request, *, translate: bool) -> web.StreamResponse:
    service = _service(request)
    try:
        fields, audio = await _read_form(request)
        call, options = formats.transcription_request(fields, audio, translate=translate)
        if options.stream:
            return await _recognize_events(request, service, call)
        result = await service.recognition.recognize(call)
    except ServiceError as exc:
        return _fail(formats.recognition_error(exc))
    except ConnectionError:  # the client hung up during the events: the iterator is closed
        _LOGGER.debug("Transcription client went away")
        return web.Response(status=499)
    body, content_type = formats.transcription_body(result, options, call.temperature)
    return web.Response(text=body, content_type=content_type, charset="utf-8")


async def _recognize_events(request: web.Request, service: VoiceService, call) -> web.StreamResponse:
    """``stream=true``: a ``transcript.text.delta`` per utterance as it is decoded, then
    ``transcript.text.done``. Errors before the first event are plain error replies."""
    results = service.recognition.recognize_each(call)
    async with contextlib.aclosing(results):
        first = await anext(results, None)  # validation errors surface here, before any header
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        texts: list[str] = []
        try:
            result = first
            while result is not None:
                await response.write(formats.sse(formats.text_delta(result, not texts)))
                texts.append(result.transcript.strip())
                result = await anext(results, None)
            await response.write(formats.sse(formats.text_done(" ".join(t for t in texts if t))))
        except ServiceError as exc:  # after the headers: as an error event (the SDK raises it)
            await response.write(formats.sse(formats.recognition_error(exc).body))
    await response.write_eof()
    return response


# -- speech ---------------------------------------------------------------------------------------

async def _speech(request: web.Request) -> web.StreamResponse:
    service = _service(request)
    try:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidArgument("", f"the body is not JSON ({exc})") from None
        synthesis, options = formats.speech_request(body)
        encoder = formats.encoder(options.response_format)
        chunks = service.synthesis.stream(synthesis)
    except ServiceError as exc:
        return _fail(formats.speech_error(exc))
    run: Callable[..., Awaitable[bytes]] = _in_thread if encoder.blocking else _inline
    try:
        return await _speak(request, synthesis, options, encoder, chunks, run)
    except ConnectionError:  # the client hung up: the iterator is closed, the job cancelled
        _LOGGER.debug("Speech client went away")
        return web.Response(status=499)


async def _speak(request, synthesis, options, encoder, chunks, run) -> web.StreamResponse:
    sse = options.stream_format == "sse"
    async with contextlib.aclosing(chunks):
        try:
            first = await anext(chunks, None)  # validation and admission errors, before any header
        except ServiceError as exc:
            await run(encoder.finish)
            return _fail(formats.speech_error(exc))
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream" if sse else encoder.content_type, "Cache-Control": "no-cache"})
        await response.prepare(request)

        async def send(data: bytes) -> None:
            if data:
                await response.write(formats.sse(formats.audio_delta(data)) if sse else data)

        try:
            await send(await run(encoder.start))
            chunk = first
            while chunk is not None:
                await send(await run(encoder.encode, chunk.audio))
                chunk = await anext(chunks, None)
            await send(await run(encoder.finish))
            if sse:
                await response.write(formats.sse(formats.audio_done(len(synthesis.text))))
        except ServiceError as exc:  # after the headers: an error event, or a cut-off stream
            _LOGGER.warning("Speech failed after its first audio: %s", exc)
            if sse:
                await response.write(formats.sse(formats.speech_error(exc).body))
            else:
                raise
        finally:
            await run(encoder.finish)  # idempotent: frees libsndfile's handle on every path
    await response.write_eof()
    return response


async def _inline(fn: Callable[..., bytes], *args) -> bytes:
    return fn(*args)


async def _in_thread(fn: Callable[..., bytes], *args) -> bytes:
    return await asyncio.to_thread(fn, *args)


# -- listings -------------------------------------------------------------------------------------

async def _models(request: web.Request) -> web.Response:
    return web.json_response(formats.models_body(_service(request).recognition.models()))


async def _model(request: web.Request) -> web.Response:
    name = request.match_info["model"]
    if name not in formats.model_ids(_service(request).recognition.models()):
        return web.json_response(formats.error_body(f"The model '{name}' does not exist", param="model",
                                                    code="model_not_found"), status=404)
    return web.json_response(formats.model_entry(name))


async def _voices(request: web.Request) -> web.Response:
    return web.json_response(formats.voices_body(_service(request).synthesis.voices(request.query.get("language", ""))))
