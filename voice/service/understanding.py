"""Understanding as a service: text -> intent, confidence and slots, from the engine's model."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..core.errors import InvalidArgument, Unimplemented
from ..core.intents import IntentInfo, IntentResult
from .types import UnderstandRequest

if TYPE_CHECKING:
    from ..runtime.engine import SpeechEngine


class UnderstandingService:
    def __init__(self, engine: SpeechEngine, ready_check: Callable[[], None]):
        self.engine = engine
        self._check_ready = ready_check

    def _intents(self):
        self._check_ready()
        if self.engine.intents is None:
            raise Unimplemented("intent understanding is disabled on this server")
        return self.engine.intents

    async def understand(self, request: UnderstandRequest) -> IntentResult:
        intents = self._intents()
        context = {"previous_intent": request.previous_intent} if request.previous_intent else None
        return await self.engine.run_nlu(intents.understand, request.text, request.language_code, context)

    def list_intents(self, language_code: str = "") -> tuple[list[IntentInfo], tuple[str, ...]]:
        """The domain's intents (those of ``language_code`` when given) and all its languages."""
        intents = self._intents()
        try:
            return intents.list_intents(language_code or None), intents.languages
        except InvalidArgument:
            raise
        except ValueError as exc:
            raise InvalidArgument.from_message(str(exc)) from None
