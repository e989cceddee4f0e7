"""Where a conversation's replies come from: the intents file, the client, or a webhook.

Each source gives a reply as an async iterator of text pieces, which the synthesis service
speaks as they arrive (:meth:`~voice.service.synthesis.SynthesisService.stream_text`).

* intents: :class:`~voice.core.dialogue.DialoguePolicy` over the domain's response
  templates (slot substitution, a prompt for a missing required slot, a fallback);
* client: pieces the client streams in, until its end-of-reply marker;
* webhook: each caller turn POSTed as JSON to the operator's URL; the response body
  (``text/plain``, chunked or not) is spoken as it arrives. A failing webhook is logged in one
  line and the domain's fallback is spoken instead, so a caller is never left in silence.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from ..core.dialogue import DialoguePolicy, DialogueState, Reply
from ..core.errors import InvalidArgument
from ..core.results import RecognitionResult

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class Turn:
    """One caller turn, as the webhook receives it."""

    call_id: str
    index: int
    result: RecognitionResult
    dtmf: str = ""

    def payload(self) -> dict:
        intent = self.result.intent
        return {
            "event": "turn",
            "call_id": self.call_id,
            "turn": self.index,
            "transcript": self.result.transcript,
            "language": self.result.language,
            "intent": intent.intent if intent is not None else None,
            "confidence": round(float(intent.confidence), 4) if intent is not None else None,
            "slots": {s.name: s.value for s in intent.slots} if intent is not None else {},
            "dtmf": self.dtmf,
        }


async def once(text: str) -> AsyncIterator[str]:
    """A whole reply as one piece."""
    if text:
        yield text


class ClientReply:
    """Pieces of a reply the client streams in, at most ``max_chars`` in all.

    After a barge-in the reply is ``cut``: what the client still sends of it (its LLM may not
    have heard yet) is dropped until its end-of-reply marker.
    """

    def __init__(self, interruptible: bool, max_chars: int):
        self.interruptible = interruptible
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._chars = 0
        self._max = max_chars
        self.ended = False  # the client sent end_of_reply
        self.cut = False  # stopped by the server (barge-in, cancel)

    def put(self, text: str, end: bool) -> None:
        self._chars += len(text)
        if self._chars > self._max:
            raise InvalidArgument("reply_text.text", f"a reply holds at most {self._max} characters")
        if text and not self.cut:
            self._queue.put_nowait(text)
        if end:
            self.ended = True
            self._queue.put_nowait(None)

    def stop(self) -> None:
        if not self.cut:
            self.cut = True
            self._queue.put_nowait(None)

    async def texts(self) -> AsyncIterator[str]:
        while (text := await self._queue.get()) is not None:
            yield text


class Dialogue:
    """The intents reply source of one conversation: its policy and its state."""

    def __init__(self, policy: DialoguePolicy | None):
        self.policy = policy
        self.state = DialogueState()

    def greeting(self, language: str) -> Reply | None:
        return self.policy.greeting(language) if self.policy is not None else None

    def context(self) -> dict | None:
        return self.policy.context(self.state) if self.policy is not None else None

    def reply(self, result: RecognitionResult) -> Reply | None:
        if self.policy is None:
            return None
        return self.policy.reply(result.intent, result.language, self.state)

    def fallback(self, language: str) -> str:
        if self.policy is None:
            return ""
        reply = self.policy.reply(None, language, DialogueState())
        return reply.text if reply is not None else ""


async def webhook(session, url: str, turn: Turn, timeout_s: float, fallback: str) -> AsyncIterator[str]:
    """POST ``turn`` to ``url``; yield the response body's text as it arrives."""
    import aiohttp

    spoke = False
    try:
        async with session.post(url, json=turn.payload(), timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
            if resp.status >= 300:
                raise RuntimeError(f"HTTP {resp.status}")
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            async for data in resp.content.iter_any():
                text = decoder.decode(data)
                if text:
                    spoke = True
                    yield text
            tail = decoder.decode(b"", final=True)
            if tail:
                spoke = True
                yield tail
    except (TimeoutError, aiohttp.ClientError, RuntimeError) as exc:
        _LOGGER.warning("call %s turn %d: reply webhook failed (%s); speaking the fallback",
                        turn.call_id, turn.index, exc or type(exc).__name__)
        if not spoke and fallback:
            yield fallback
