"""The Riva door: NVIDIA Riva's speech services on the same gRPC port as ``voice.v1``.

Serves ``nvidia.riva.asr.RivaSpeechRecognition`` (``Recognize``, ``StreamingRecognize``,
``GetRivaSpeechRecognitionConfig``) and ``nvidia.riva.tts.RivaSpeechSynthesis``
(``Synthesize``, ``SynthesizeOnline``, ``GetRivaSynthesisConfig``), so code written against
Riva (``riva.client.ASRService``, ``SpeechSynthesisService``, the ``transcribe_file.py`` and
``talk.py`` scripts) works by changing the server address. See docs/riva.md.

The wire definitions are NVIDIA's: the generated modules that the ``nvidia-riva-client``
package carries in ``riva/client/proto/``, made from the proto files published at
github.com/nvidia-riva/common (``riva/proto/riva_asr.proto``, ``riva_tts.proto``,
``riva_audio.proto``; Copyright (c) 2022 NVIDIA CORPORATION & AFFILIATES, MIT licence). This
package uses them unchanged and imports them only here, in :mod:`.mapping` and the servicers.

Registered by :class:`voice.api.grpc.server.VoiceServer` through its
:mod:`~voice.api.grpc.handlers` (request parsing, service errors -> status codes), like every
``voice.v1`` service.
"""

from __future__ import annotations

from riva.client.proto import riva_asr_pb2, riva_tts_pb2

from ...service import VoiceService
from .asr import RivaRecognitionServicer
from .tts import RivaSynthesisServicer

SERVICES = (
    riva_asr_pb2.DESCRIPTOR.services_by_name["RivaSpeechRecognition"],
    riva_tts_pb2.DESCRIPTOR.services_by_name["RivaSpeechSynthesis"],
)
SERVICE_NAMES = tuple(s.full_name for s in SERVICES)


def servicers(service: VoiceService) -> tuple:
    """The servicers of :data:`SERVICES`, in the same order."""
    return RivaRecognitionServicer(service), RivaSynthesisServicer(service)


__all__ = ["SERVICES", "SERVICE_NAMES", "servicers"]
