"""What the service and runtime tell an observer (metrics, traces): a small interface, no I/O.

The layers below the doors never import a metrics library; they call a :class:`Telemetry`
they were given (the engine's ``telemetry`` attribute, a no-op until a door installs one).
``voice.api.ops.metrics`` implements it with prometheus-client. Every method is cheap and
never raises; calls come from the event loop and from worker threads.

Stages (:meth:`Telemetry.stage`, seconds): ``endpoint_to_final`` (the endpoint was detected ->
the final result is ready), ``time_to_first_audio`` (a synthesis call began -> its first
chunk), ``voice_to_voice`` (a conversation: the caller's speech ended -> the reply's first
audio), ``decode_wait`` (a decode job queued -> a worker took it), ``decode`` (a decode job
ran). Events (:meth:`Telemetry.event`): ``barge_in``, ``interim_dropped``. Audio
(:meth:`Telemetry.audio`): seconds of audio received (``recognition``) or produced
(``synthesis``), charged to whoever the door says is calling.
"""

from __future__ import annotations

STAGES = ("endpoint_to_final", "time_to_first_audio", "voice_to_voice", "decode_wait", "decode")
EVENTS = ("barge_in", "interim_dropped")


class Telemetry:
    """The no-op observer (what runs when nobody watches)."""

    def stage(self, name: str, seconds: float) -> None:
        """One latency of stage ``name`` (one of :data:`STAGES`)."""

    def event(self, name: str, count: int = 1) -> None:
        """``count`` occurrences of ``name`` (one of :data:`EVENTS`)."""

    def decoded(self, priority: str, audio_s: float, wait_s: float, run_s: float) -> None:
        """A decode job (``final`` / ``interim``) of ``audio_s`` seconds of audio waited
        ``wait_s`` in the queue and ran ``run_s`` (real-time factor = run / audio)."""

    def audio(self, kind: str, seconds: float) -> None:
        """``seconds`` of audio received (``recognition``) or synthesized (``synthesis``)."""


NO_TELEMETRY = Telemetry()
