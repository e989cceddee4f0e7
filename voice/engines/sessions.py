"""A pool of model sessions (ONNX), shared by the Piper and Kokoro backends.

:class:`SessionPool` holds up to ``size`` sessions made on demand by an ``open`` function and
lends one per inference. Takers are *urgent* (a request needs this audio now: its first
piece, or the piece it is waiting on) or *ahead* (a later piece synthesized speculatively,
:meth:`SessionPool.submit`): a freed session goes to an urgent taker first, so another
request's first piece never queues behind this one's look-ahead.

:func:`session_threads` splits the CPU between the sessions: ``size`` single-piece runs on
``cores / size`` intra-op threads each (on two cores, two one-thread VITS runs of two clauses
beat one two-thread run of each in turn, and the sessions of concurrent requests do not
oversubscribe the cores). :func:`onnx_options` builds the onnxruntime options both backends use.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any


def session_threads(threads: int, size: int, cores: int | None = None) -> int:
    """Intra-op threads per session: ``threads`` when set, else the cores shared by ``size``."""
    if threads:
        return threads
    return max(1, (cores or os.cpu_count() or 1) // max(1, size))


def onnx_options(threads: int):
    """onnxruntime session options: ``threads`` intra-op threads (0: onnxruntime's default),
    one inter-op thread (the voices are sequential graphs), full graph optimisation."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


class SessionPool:
    """Up to ``size`` sessions from ``open()``, created on demand (``first``: one made already).

    :meth:`session` lends one (blocking while all are busy; urgent takers first);
    :meth:`submit` runs speculative work in one of ``size`` background threads.
    """

    def __init__(self, open_session: Callable[[], Any], size: int, first: Any = None, name: str = "session"):
        self.size = max(1, size)
        self._open = open_session
        self._idle: list = [first] if first is not None else []
        self._created = 1 if first is not None else 0
        self._in_use = 0
        self._urgent = 0  # urgent takers waiting
        self._waiting = 0
        self._cond = threading.Condition()
        self._name = name
        self._ahead: ThreadPoolExecutor | None = None

    @property
    def created(self) -> int:
        return self._created

    @property
    def in_use(self) -> int:
        """Sessions lent right now."""
        return self._in_use

    @property
    def waiting(self) -> int:
        """Takers waiting for a session right now."""
        return self._waiting

    @contextmanager
    def session(self, *, urgent: bool = True):
        """Lend a session for one inference; an ahead taker waits while urgent ones do."""
        with self._cond:
            if urgent:
                self._urgent += 1
            self._waiting += 1
            try:
                while (not self._idle and self._created >= self.size) or (not urgent and self._urgent):
                    self._cond.wait()
            finally:
                self._waiting -= 1
                if urgent:
                    self._urgent -= 1
            sess = self._idle.pop() if self._idle else None
            if sess is None:
                self._created += 1
            self._in_use += 1
        try:
            if sess is None:
                try:
                    sess = self._open()
                except BaseException:
                    with self._cond:
                        self._created -= 1
                    raise
            yield sess
        finally:
            with self._cond:
                self._in_use -= 1
                if sess is not None:
                    self._idle.append(sess)
                self._cond.notify_all()

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        """Run ``fn(*args, **kwargs)`` in one of ``size`` background threads (made on first use)."""
        with self._cond:
            if self._ahead is None:
                self._ahead = ThreadPoolExecutor(self.size, thread_name_prefix=f"{self._name}-ahead")
            ahead = self._ahead
        return ahead.submit(fn, *args, **kwargs)
