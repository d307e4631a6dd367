"""OpenTelemetry traces: off unless the standard ``OTEL_*`` variables ask for them.

A trace follows a request through W3C ``traceparent``: the API's span for the HTTP call is
the parent of the command it produces, the worker's span for handling that command is a
child of the command's ``traceparent``, and the relay's span for publishing an event is a
child of the event's (which carries its command's). Connector calls are spans of the
delivery loop with the request id as an attribute.

Turned on by ``OTEL_TRACES_EXPORTER=otlp`` (or ``console``), or by an OTLP endpoint
(``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``); everything else
(protocol, headers, service name, sampler) is read by the SDK from its own ``OTEL_*``
variables. Off, the API's no-op tracer costs a function call, and a ``traceparent`` passes
through unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()
_TRACER_NAME = "accessflow"
# The provider our spans go to (None: off). Ours rather than OpenTelemetry's global, which
# can be set only once per process; tests install an in-memory one and remove it again.
_provider: TracerProvider | None = None

# Attribute names: OpenTelemetry's messaging conventions where one fits, ours otherwise.
REQUEST_ID = "accessflow.request_id"
COMMAND_TYPE = "accessflow.command_type"
OUTCOME = "accessflow.outcome"


def _exporter_from_environment(environ: Mapping[str, str]) -> SpanExporter | None:
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return None
    chosen = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if chosen == "console":
        return ConsoleSpanExporter()
    if chosen == "otlp" or (chosen == "" and endpoint):
        # Imported only when used: the exporter pulls in protobuf and an HTTP client.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    return None


def configure_tracing(
    service_name: str, environ: Mapping[str, str] | None = None
) -> TracerProvider | None:
    """Install an SDK tracer provider when the environment asks for traces; the caller
    shuts it down (which flushes) at exit. None when tracing stays off."""
    env = os.environ if environ is None else environ
    exporter = _exporter_from_environment(env)
    if exporter is None:
        return None
    resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME", service_name)})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    install(provider)
    return provider


def install(provider: TracerProvider | None) -> None:
    """Send accessflow's spans to ``provider`` (None turns tracing off)."""
    global _provider
    _provider = provider


def tracer() -> trace.Tracer:
    return _provider.get_tracer(_TRACER_NAME) if _provider else trace.NoOpTracer()


def enabled() -> bool:
    """Whether spans are recorded (so callers can skip building their attributes)."""
    return _provider is not None


def context_of(traceparent: str | None) -> Context | None:
    """The parent context a ``traceparent`` names (None: a new trace)."""
    if not traceparent:
        return None
    return _PROPAGATOR.extract({"traceparent": traceparent})


def traceparent_of(span: Span) -> str | None:
    """The W3C ``traceparent`` that makes ``span`` the parent of what carries it."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, trace.set_span_in_context(span))
    return carrier.get("traceparent")


def outgoing_traceparent(incoming: str | None) -> str | None:
    """What a produced message carries: the current span when one is recorded, else the
    caller's own ``traceparent`` unchanged."""
    span = trace.get_current_span()
    if span.is_recording():
        return traceparent_of(span)
    return incoming


@contextmanager
def span(
    name: str,
    *,
    traceparent: str | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, str | int] | None = None,
) -> Iterator[Span]:
    """A span as the current one, child of ``traceparent`` when given (else of the
    current span); an exception escaping it marks it as an error."""
    with tracer().start_as_current_span(
        name, context=context_of(traceparent), kind=kind, attributes=attributes
    ) as current:
        yield current


def record_span(
    name: str,
    *,
    traceparent: str | None,
    start_ns: int,
    end_ns: int,
    attributes: Mapping[str, str | int],
    kind: SpanKind = SpanKind.INTERNAL,
    error: str | None = None,
) -> None:
    """A finished span after the fact (a batch knows each item's outcome only at its end)."""
    recorded = tracer().start_span(
        name,
        context=context_of(traceparent),
        kind=kind,
        attributes=attributes,
        start_time=start_ns,
    )
    if error is not None:
        recorded.set_status(Status(StatusCode.ERROR, error))
    recorded.end(end_time=end_ns)
