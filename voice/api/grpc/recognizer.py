"""voice.v1.Recognizer: maps messages to the recognition service and back, nothing more."""

from __future__ import annotations

from voice_api.v1 import recognizer_pb2

from ...core.errors import InvalidArgument
from ...service import VoiceService
from ...service.types import AudioInput
from . import mapping


class RecognizerServicer:
    def __init__(self, service: VoiceService):
        self.service = service

    async def Recognize(self, request: recognizer_pb2.RecognizeRequest, context) -> recognizer_pb2.RecognizeResponse:
        result = await self.service.recognition.recognize(mapping.file_request_from_pb(request))
        return mapping.file_result_pb(result)

    async def StreamingRecognize(self, requests, context):
        # admitted before the first message is awaited: the stream limit cannot be overshot
        async with self.service.recognition.open_stream() as call:
            first = await anext(requests, None)
            if first is None:
                raise InvalidArgument("streaming_config", "the stream ended before any config")
            if first.WhichOneof("streaming_request") != "streaming_config":
                raise InvalidArgument("streaming_config", "the first request must carry streaming_config, got audio_content")
            config = mapping.streaming_config_from_pb(first.streaming_config)
            async for item in call.run(config, _audio(requests)):
                yield mapping.stream_output_pb(item)


async def _audio(requests):
    async for request in requests:
        kind = request.WhichOneof("streaming_request")
        if kind == "streaming_config":
            raise InvalidArgument("streaming_config", "only the first request may carry a config")
        if kind == "update":
            yield mapping.recognition_update_from_pb(request.update)
            if request.flush:
                yield AudioInput(b"", True)
            continue
        yield AudioInput(request.audio_content, request.flush)
