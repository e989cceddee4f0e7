"""Optional OpenTelemetry tracing (``server.tracing = true`` / ``--tracing``; the ``tracing``
extra): one span per call (gRPC method or HTTP path) with its request id and status.

Spans go to the OTLP exporter when ``opentelemetry-exporter-otlp`` is installed and
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, else to stderr as JSON (``ConsoleSpanExporter``).
Off by default: nothing is imported then.
"""

from __future__ import annotations

import logging
import os
import sys

_LOGGER = logging.getLogger(__name__)


def make_tracer(enabled: bool, service_name: str = "voice", exporter=None):
    """A tracer, or None when tracing is off (or the SDK is not installed: logged);
    ``exporter``: where spans go (default: OTLP or stderr, see above)."""
    if not enabled:
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
    except ImportError:
        _LOGGER.error("tracing is on but opentelemetry-sdk is not installed (pip install 'voice-service[tracing]')")
        return None
    given = exporter is not None  # a given exporter (tests) gets each span at once
    if exporter is None and os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
        except ImportError:
            _LOGGER.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but opentelemetry-exporter-otlp is not installed; "
                            "spans go to stderr")
    if exporter is None:
        exporter = ConsoleSpanExporter(out=sys.stderr)
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(SimpleSpanProcessor(exporter) if given else BatchSpanProcessor(exporter))
    return provider.get_tracer("voice")
