"""The protocol-free service layer: what every door (gRPC today; Riva, Wyoming, OpenAI and
the telephone bridges next) drives.

:class:`VoiceService` owns the engine's readiness (one check for every call), admission
(concurrent-call limits, taken atomically) and one sub-service per capability:
:attr:`~VoiceService.recognition`, :attr:`~VoiceService.synthesis`,
:attr:`~VoiceService.understanding` and :attr:`~VoiceService.conversation` (recognition,
understanding and synthesis of one call, with barge-in). Requests and
results are the plain dataclasses of :mod:`voice.service.types`; errors are those of
:mod:`voice.core.errors`, which each adapter maps to its protocol's status.
"""

from __future__ import annotations

from ..config import Config
from ..core.errors import Unavailable
from ..runtime.engine import SpeechEngine
from .admission import Admission
from .conversation import ConversationService
from .recognition import RecognitionService
from .synthesis import SynthesisService
from .understanding import UnderstandingService

LOADING_MESSAGE = "models are still loading; watch grpc.health.v1 (or /health)"


class VoiceService:
    def __init__(self, engine: SpeechEngine, config: Config | None = None):
        """``config``: the serving limits (default: the engine's config)."""
        self.engine = engine
        cfg = (config or engine.config).server
        self.limits = cfg  # the serving limits every door applies (server.max_message_bytes, idle_timeout_s, ...)
        self.admission = Admission({"recognition": cfg.max_sessions, "synthesis": cfg.max_sessions,
                                    "conversation": cfg.max_sessions})
        self._draining = False
        self._leaving = False
        self.recognition = RecognitionService(engine, self.admission, self.check_ready)
        self.synthesis = SynthesisService(engine, self.admission, self.check_ready)
        self.recognition.limits = self.synthesis.limits = cfg  # file size and text length limits
        self.understanding = UnderstandingService(engine, self.check_ready)
        self.conversation = ConversationService(engine, self.admission, self.check_ready, self.recognition,
                                                self.synthesis, (config or engine.config).conversation)

    @property
    def ready(self) -> bool:
        """What health checks say: models loaded, and no drain announced or begun."""
        return self.engine.ready.is_set() and not self._draining and not self._leaving

    def announce_drain(self) -> None:
        """Health says not ready from now on; calls are still taken until :meth:`drain`."""
        self._leaving = True

    def check_ready(self) -> None:
        """The one readiness check: raises :class:`Unavailable` while models load or after
        :meth:`drain`."""
        if self._draining:
            raise Unavailable("server is shutting down")
        if not self.engine.ready.is_set():
            raise Unavailable(LOADING_MESSAGE)

    def drain(self) -> None:
        """Refuse new calls from now on (calls in progress go on)."""
        self._draining = True

    async def close(self) -> None:
        """Release what the service holds itself (the webhook's HTTP client)."""
        await self.conversation.close()


__all__ = ["VoiceService"]
