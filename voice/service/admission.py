"""Admission: how many calls of each kind may run at once, taken atomically.

A slot is taken *before* the call waits for anything (a stream's first message, a voice to
load), with the check and the increment in one step, so a burst of callers can never
overshoot the limit; the slot is given back when the call ends, however it ends.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Self

from ..core.errors import ResourceExhausted


class Admission:
    def __init__(self, limits: dict[str, int]):
        self._limits = dict(limits)
        self._active: Counter[str] = Counter()
        self._lock = threading.Lock()  # calls are admitted from the event loop and from threads

    def active(self, kind: str) -> int:
        return self._active[kind]

    def limit(self, kind: str) -> int:
        return self._limits[kind]

    def admit(self, kind: str) -> Ticket:
        """Take a slot of ``kind`` now or raise :class:`ResourceExhausted`."""
        with self._lock:
            limit = self._limits[kind]
            if self._active[kind] >= limit:
                raise ResourceExhausted(f"server is at its limit of {limit} concurrent {kind} calls", retry_after_s=1.0)
            self._active[kind] += 1
        return Ticket(self, kind)

    def _release(self, kind: str) -> None:
        with self._lock:
            self._active[kind] -= 1


class Ticket:
    """One admitted call; :meth:`release` (or leaving the ``with`` block) frees it, once."""

    def __init__(self, admission: Admission, kind: str):
        self._admission = admission
        self.kind = kind
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._admission._release(self.kind)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
