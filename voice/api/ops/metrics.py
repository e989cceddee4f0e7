"""Prometheus metrics: the service's :class:`~voice.core.telemetry.Telemetry` made into
prometheus-client series, plus gauges read at scrape time from what the service and engine
already count, served as ``GET /metrics`` on ``--metrics-port``.

Series (all prefixed ``voice_``):

* ``active_calls{service}`` (asr, tts, conversation: streams and calls admitted now, every
  door), ``active_requests{door,service}`` (RPCs and HTTP requests in flight);
* ``requests_total{door,service,code}`` (gRPC status name or HTTP status);
* ``decode_queue_depth``, ``decode_workers_busy``, ``decodes_total{priority}``,
  ``interims_dropped_total``, ``decode_wait_seconds``, ``realtime_factor{priority}``;
* ``stage_seconds{stage}``: endpoint_to_final, time_to_first_audio, voice_to_voice, decode;
* ``barge_ins_total``, ``audio_seconds_total{kind}``;
* ``model_state{state}`` (1 for the current one of loading, ready, failed, draining),
  ``ready`` (1 when serving).

Each server has its own registry (tests run several in one process).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from ...core.telemetry import Telemetry
from ..site import Listener
from .keys import LEASE

if TYPE_CHECKING:
    import ssl

    from ...service import VoiceService

_LOGGER = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
RTF_BUCKETS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0)
ADMISSION_SERVICES = {"recognition": "asr", "synthesis": "tts", "conversation": "conversation"}
MODEL_STATES = ("loading", "ready", "failed", "draining")


class Metrics(Telemetry):
    """The telemetry of one server. ``model_state()`` says loading / ready / failed / draining."""

    def __init__(self, service: VoiceService, model_state: Callable[[], str]):
        self.service = service
        self.model_state = model_state
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("voice_requests", "Calls finished, by door, service and status code",
                                ("door", "service", "code"), registry=r)
        self.in_flight = Gauge("voice_active_requests", "RPCs and HTTP requests in flight",
                               ("door", "service"), registry=r)
        self.stages = Histogram("voice_stage_seconds", "Latency of each stage", ("stage",),
                                buckets=LATENCY_BUCKETS, registry=r)
        self.wait = Histogram("voice_decode_wait_seconds", "Time decode jobs wait in the queue", ("priority",),
                              buckets=LATENCY_BUCKETS, registry=r)
        self.rtf = Histogram("voice_realtime_factor", "Decode time / audio time of each decode job", ("priority",),
                             buckets=RTF_BUCKETS, registry=r)
        self.barge_ins = Counter("voice_barge_ins", "Replies stopped by the caller speaking", registry=r)
        self.audio_s = Counter("voice_audio_seconds", "Audio received (recognition) and synthesized (synthesis)",
                               ("kind",), registry=r)
        for stage in ("endpoint_to_final", "time_to_first_audio", "voice_to_voice", "decode"):
            self.stages.labels(stage)
        for kind in ("recognition", "synthesis"):
            self.audio_s.labels(kind)
        r.register(_ServiceCollector(self))

    # -- Telemetry --------------------------------------------------------------------
    def stage(self, name: str, seconds: float) -> None:
        self.stages.labels(name).observe(seconds)

    def event(self, name: str, count: int = 1) -> None:
        if name == "barge_in":
            self.barge_ins.inc(count)

    def decoded(self, priority: str, audio_s: float, wait_s: float, run_s: float) -> None:
        self.wait.labels(priority).observe(wait_s)
        self.stages.labels("decode").observe(run_s)
        if audio_s > 0:
            self.rtf.labels(priority).observe(run_s / audio_s)

    def audio(self, kind: str, seconds: float) -> None:
        self.audio_s.labels(kind).inc(seconds)
        lease = LEASE.get()
        if lease is not None:
            lease.charge(seconds)

    # -- doors ------------------------------------------------------------------------
    def request(self, door: str, service: str, code: str) -> None:
        self.requests.labels(door, service, code).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _ServiceCollector:
    """Gauges and counters read from the service and the engine at scrape time."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def describe(self):
        return []

    def collect(self):
        service = self.metrics.service
        active = GaugeMetricFamily("voice_active_calls", "Streams and calls admitted now (every door)",
                                   labels=("service",))
        for kind, name in ADMISSION_SERVICES.items():
            active.add_metric((name,), service.admission.active(kind))
        yield active
        sched = service.engine.scheduler
        yield GaugeMetricFamily("voice_decode_queue_depth", "Decode jobs waiting for a worker", value=sched.waiting)
        yield GaugeMetricFamily("voice_decode_workers_busy", "Decode workers running a job", value=sched.busy)
        yield GaugeMetricFamily("voice_decode_workers", "Decode workers", value=sched.workers)
        decodes = CounterMetricFamily("voice_decodes", "Decode jobs completed", labels=("priority",))
        for priority, count in sched.completed.items():
            decodes.add_metric((priority.name.lower(),), count)
        yield decodes
        yield CounterMetricFamily("voice_interims_dropped", "Interim decodes replaced by a newer one before they ran",
                                  value=sched.dropped_interims)
        state = self.metrics.model_state()
        states = GaugeMetricFamily("voice_model_state", "1 for the model state the server is in", labels=("state",))
        for name in MODEL_STATES:
            states.add_metric((name,), 1.0 if name == state else 0.0)
        yield states
        yield GaugeMetricFamily("voice_ready", "1 while the server takes new calls", value=1.0 if service.ready else 0.0)


class MetricsServer:
    """``GET /metrics`` (and ``GET /health``) on its own port; ``guard``: aiohttp middlewares
    (API keys when metrics are not public)."""

    def __init__(self, metrics: Metrics, host: str, port: int, ssl_context: ssl.SSLContext | None = None,
                 middlewares: tuple = ()):
        self.metrics = metrics
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.app = web.Application(middlewares=list(middlewares))
        self.app.router.add_get("/metrics", self._metrics)
        self.app.router.add_get("/health", self._health)
        self._listener = Listener(self.app, host, port, ssl_context=ssl_context)

    async def _metrics(self, request: web.Request) -> web.Response:
        body = self.metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _health(self, request: web.Request) -> web.Response:
        if self.metrics.service.ready:
            return web.json_response({"status": "SERVING"})
        return web.json_response({"status": "NOT_SERVING", "state": self.metrics.model_state()}, status=503)

    async def start(self) -> int:
        self.port = await self._listener.start()
        _LOGGER.info("Metrics on %s:%d/metrics", self.host, self.port)
        return self.port

    async def stop(self, grace_s: float = 0.0) -> None:
        await self._listener.close()
