"""gRPC method handlers built from a service descriptor, with the cross-cutting rules in one place.

Every RPC of a servicer registered with :func:`add_servicer` gets:

* its request bytes parsed here, not by gRPC: bytes that are not the request message answer
  ``INVALID_ARGUMENT`` with one log line (gRPC's own deserializer answers ``UNKNOWN`` and
  logs a traceback per call); in a request stream, a bad message ends the input like any
  other invalid input (what came before is still answered);
* service errors mapped to status codes (:data:`STATUS`), with a retry hint in the trailing
  metadata for ``RESOURCE_EXHAUSTED``; any other exception (a bug, a backend that failed)
  ends that call only, with ``INTERNAL`` and one logged traceback.

Servicer methods take parsed messages and may raise :class:`~voice.core.errors.ServiceError`.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Callable

import grpc
from google.protobuf import message_factory
from google.protobuf.message import DecodeError

from ...core.errors import (
    InvalidArgument,
    ResourceExhausted,
    ServiceError,
    Unavailable,
    Unimplemented,
)

_LOGGER = logging.getLogger(__name__)

STATUS = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Unimplemented: grpc.StatusCode.UNIMPLEMENTED,
}


def status_of(error: ServiceError) -> grpc.StatusCode:
    for kind, code in STATUS.items():
        if isinstance(error, kind):
            return code
    return grpc.StatusCode.INTERNAL


async def abort(context: grpc.aio.ServicerContext, error: ServiceError) -> None:
    if isinstance(error, ResourceExhausted):
        context.set_trailing_metadata((("grpc-retry-pushback-ms", str(int(error.retry_after_s * 1000))),))
    await context.abort(status_of(error), str(error))


async def internal(context: grpc.aio.ServicerContext, error: Exception) -> None:
    if isinstance(error, grpc.aio.AbortError):
        raise error
    _LOGGER.error("internal error; the call ends with INTERNAL", exc_info=error)
    await context.abort(grpc.StatusCode.INTERNAL, f"internal error ({type(error).__name__})")


class _Parser:
    def __init__(self, method: str, message_class):
        self.method = method
        self.message_class = message_class

    def __call__(self, data: bytes):
        try:
            return self.message_class.FromString(data)
        except DecodeError:
            _LOGGER.warning("%s: %d request bytes are not a %s; INVALID_ARGUMENT", self.method, len(data),
                            self.message_class.DESCRIPTOR.full_name)
            raise InvalidArgument("request", f"not a valid {self.message_class.DESCRIPTOR.full_name} message") from None

    async def stream(self, raw: AsyncIterator[bytes]):
        async for data in raw:
            yield self(data)


def _unary_unary(impl: Callable, parse: _Parser):
    async def handler(data: bytes, context):
        try:
            return await impl(parse(data), context)
        except ServiceError as exc:
            await abort(context, exc)
        except Exception as exc:  # a bug or a backend failure: this call only, INTERNAL, one traceback
            await internal(context, exc)
    return handler


def _unary_stream(impl: Callable, parse: _Parser):
    async def handler(data: bytes, context):
        try:
            async for response in impl(parse(data), context):
                yield response
        except ServiceError as exc:
            await abort(context, exc)
        except Exception as exc:  # a bug or a backend failure: this call only, INTERNAL, one traceback
            await internal(context, exc)
    return handler


def _stream_unary(impl: Callable, parse: _Parser):
    async def handler(requests, context):
        try:
            return await impl(parse.stream(requests), context)
        except ServiceError as exc:
            await abort(context, exc)
        except Exception as exc:  # a bug or a backend failure: this call only, INTERNAL, one traceback
            await internal(context, exc)
    return handler


def _stream_stream(impl: Callable, parse: _Parser):
    async def handler(requests, context):
        try:
            async for response in impl(parse.stream(requests), context):
                yield response
        except ServiceError as exc:
            await abort(context, exc)
        except Exception as exc:  # a bug or a backend failure: this call only, INTERNAL, one traceback
            await internal(context, exc)
    return handler


def handlers_for(servicer, service_descriptor) -> grpc.GenericRpcHandler:
    """A generic handler serving every method of ``service_descriptor`` from ``servicer``'s
    methods of the same names."""
    methods = {}
    for method in service_descriptor.methods:
        impl = getattr(servicer, method.name, None)
        if not (inspect.iscoroutinefunction(impl) or inspect.isasyncgenfunction(impl)):
            continue  # not implemented (a generated base's stub): gRPC answers UNIMPLEMENTED
        parse = _Parser(f"/{service_descriptor.full_name}/{method.name}",
                        message_factory.GetMessageClass(method.input_type))
        serialize = message_factory.GetMessageClass(method.output_type).SerializeToString
        if method.client_streaming and method.server_streaming:
            methods[method.name] = grpc.stream_stream_rpc_method_handler(_stream_stream(impl, parse),
                                                                          response_serializer=serialize)
        elif method.client_streaming:
            methods[method.name] = grpc.stream_unary_rpc_method_handler(_stream_unary(impl, parse),
                                                                         response_serializer=serialize)
        elif method.server_streaming:
            methods[method.name] = grpc.unary_stream_rpc_method_handler(_unary_stream(impl, parse),
                                                                         response_serializer=serialize)
        else:
            methods[method.name] = grpc.unary_unary_rpc_method_handler(_unary_unary(impl, parse),
                                                                        response_serializer=serialize)
    return grpc.method_handlers_generic_handler(service_descriptor.full_name, methods)


def add_servicer(server: grpc.aio.Server, servicer, service_descriptor) -> None:
    server.add_generic_rpc_handlers((handlers_for(servicer, service_descriptor),))
