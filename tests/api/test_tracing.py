"""Traces follow a request from the HTTP call to the events its consumers read: the API's
span is a child of the caller's ``traceparent``, the command carries the API's span, the
worker's span for the command is its child, and the events carry the same parent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from api_support import GRAPH_EXAMPLES, NESTOR, REQUESTS, Api, read_topic
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from accessflow import tracing
from accessflow.entrypoints.serve import run_worker

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    try:
        yield exporter
    finally:
        tracing.install(None)
        provider.shutdown()


def _ids(span: ReadableSpan) -> tuple[str, str, str | None]:
    context = span.get_span_context()
    assert context is not None
    parent = f"{span.parent.span_id:016x}" if span.parent is not None else None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}", parent


def _attr(span: ReadableSpan, name: str) -> object:
    return (span.attributes or {}).get(name)


async def test_a_create_is_one_trace_from_the_http_call_to_its_events(
    api: Api, spans: InMemorySpanExporter
) -> None:
    body: dict[str, Any] = json.loads(
        (GRAPH_EXAMPLES / "01-admin-add-user-in-directory.json").read_text()
    )
    response = await api.post(
        REQUESTS,
        body,
        NESTOR,
        admin=True,
        headers={"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"},
    )
    assert response.status_code == 201, response.text
    request_id = response.json()["id"]

    await run_worker(api.settings.model_copy(update={"metrics_port": 0}), burst=True)

    by_name: dict[str, list[ReadableSpan]] = {}
    for span in spans.get_finished_spans():
        by_name.setdefault(span.name, []).append(span)
    [http] = by_name[f"POST {REQUESTS}"]
    trace_id, http_span, http_parent = _ids(http)
    assert (trace_id, http_parent) == (CLIENT_TRACE, CLIENT_SPAN)
    assert http.attributes is not None
    assert http.attributes["http.response.status_code"] == 201
    assert http.attributes[tracing.REQUEST_ID] == request_id

    [handled] = by_name["command.handle"]
    assert _ids(handled)[0] == trace_id
    assert _ids(handled)[2] == http_span
    assert handled.attributes is not None
    assert handled.attributes[tracing.REQUEST_ID] == request_id
    assert handled.attributes[tracing.COMMAND_TYPE] == "accessflow.assignmentRequest.create"
    assert handled.attributes["accessflow.to_state"] == "delivered"

    published = [s for s in by_name["event.publish"] if _attr(s, tracing.REQUEST_ID) == request_id]
    events = await read_topic(api.settings, api.settings.events_topic)
    assert len(published) == len([e for e in events if e["subject"] == request_id]) == 4
    for span in published:
        assert _ids(span)[0] == trace_id
        assert _ids(span)[2] == http_span  # the event's traceparent: its command's
        assert _attr(span, tracing.OUTCOME) == "published"

    [command] = await read_topic(api.settings, api.settings.commands_topic)
    assert command["traceparent"] == f"00-{trace_id}-{http_span}-01"
    states = [e["data"]["state"] for e in events if e["subject"] == request_id]
    assert states[-1] == "delivered"
    assert {e["traceparent"] for e in events if e["subject"] == request_id} == {
        command["traceparent"]
    }


async def test_without_tracing_the_callers_traceparent_passes_through(api: Api) -> None:
    assert not tracing.enabled()
    traceparent = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"
    body = json.loads((GRAPH_EXAMPLES / "01-admin-add-user-in-directory.json").read_text())
    response = await api.post(
        REQUESTS, body, NESTOR, admin=True, headers={"traceparent": traceparent}
    )
    assert response.status_code == 201
    [command] = await read_topic(api.settings, api.settings.commands_topic)
    assert command["traceparent"] == traceparent
