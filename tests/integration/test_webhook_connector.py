"""The webhook connector against a real HTTP receiver (uvicorn on 127.0.0.1, same event loop).

Each test scripts the receiver's answers per endpoint and reads back what it received: the
raw body and headers of every call, and when it arrived.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from receiver import Receiver, Step, receiving

from accessflow import tracing
from accessflow.adapters.connectors_config import ConnectorsConfig, WebhookConnectorConfig
from accessflow.adapters.webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookConnector,
    connectors_from_config,
    parse_retry_after,
    verify_signature,
)
from accessflow.service.connectors import CallOutcome, GrantRequest

SECRET = "s3cret-s3cret-s3cret"


@pytest_asyncio.fixture(scope="module")
async def server() -> AsyncIterator[Receiver]:
    async with receiving() as receiver:
        yield receiver


@pytest.fixture
def receiver(server: Receiver) -> Receiver:
    server.script.clear()
    server.calls.clear()
    return server


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def endpoint(url: str, **overrides: Any) -> WebhookConnectorConfig:
    values: dict[str, Any] = {
        "originSystem": "SaasApp",
        "type": "webhook",
        "url": url,
        "secret": SECRET,
        "timeoutSeconds": 2,
        "maxAttempts": 4,
        "maxElapsedSeconds": 10,
        "backoffInitialSeconds": 0.02,
        "backoffMaxSeconds": 0.1,
    }
    values.update(overrides)
    return WebhookConnectorConfig.model_validate(values)


def grant_request(origin_system: str = "SaasApp", scope: str = "scope-1") -> GrantRequest:
    return GrantRequest(
        request_id=uuid.uuid4(),
        assignment_id=uuid.uuid4(),
        target_id="user-1",
        access_package_id="pkg-1",
        resource_scope_id=scope,
        origin_system=origin_system,
        origin_id="app-42",
        role_origin_id="Reader",
    )


async def test_503_twice_then_200_succeeds_after_three_attempts(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    url = receiver.answer("flaky", Step(503), Step(503), Step(200))
    result = await WebhookConnector(endpoint(url), client).grant(grant_request())
    assert result.outcome is CallOutcome.SUCCEEDED
    assert result.attempts == 3
    assert len(receiver.calls["flaky"]) == 3


async def test_retry_after_seconds_is_waited_before_the_next_attempt(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    url = receiver.answer("busy", Step(429, headers={"Retry-After": "1"}), Step(200))
    result = await WebhookConnector(endpoint(url), client).grant(grant_request())
    first, second = receiver.calls["busy"]
    assert result.outcome is CallOutcome.SUCCEEDED
    assert second.at - first.at >= 0.95  # well above the 0.1 s backoff cap


async def test_retry_after_beyond_the_budget_is_handed_back_without_waiting(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    """A server asking for 120 s gets its wait from the durable timer, not from this call."""
    url = receiver.answer("later", Step(503, headers={"Retry-After": "120"}))
    started = time.monotonic()
    result = await WebhookConnector(endpoint(url), client).grant(grant_request())
    assert time.monotonic() - started < 1
    assert (result.outcome, result.status, result.retry_after) == (CallOutcome.RETRY, 503, 120)
    assert result.attempts == 1


async def test_400_fails_at_once_with_status_and_detail(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    url = receiver.answer("refuses", Step(400), Step(200))
    result = await WebhookConnector(endpoint(url), client).grant(grant_request())
    assert (result.outcome, result.status, result.attempts) == (CallOutcome.FAILED, 400, 1)
    assert result.detail == "HTTP 400: status 400"
    assert len(receiver.calls["refuses"]) == 1


async def test_timeouts_are_retried_then_handed_back_as_retry(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    url = receiver.answer("slow", Step(delay=1), Step(delay=1))
    config = endpoint(url, timeoutSeconds=0.2, maxAttempts=2)
    result = await WebhookConnector(config, client).grant(grant_request())
    assert (result.outcome, result.attempts) == (CallOutcome.RETRY, 2)
    assert result.detail == "no answer within 0.2 s"
    assert len(receiver.calls["slow"]) == 2


async def test_connection_refused_is_transient(client: httpx.AsyncClient) -> None:
    config = endpoint("http://127.0.0.1:9/hook", maxAttempts=2)  # discard port: nobody home
    result = await WebhookConnector(config, client).grant(grant_request())
    assert (result.outcome, result.attempts) == (CallOutcome.RETRY, 2)
    assert str(result.detail).startswith("connection error")


async def test_signature_verifies_and_fails_for_a_tampered_body_or_an_old_timestamp(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    url = receiver.answer("signed")
    grant = grant_request()
    await WebhookConnector(endpoint(url), client).grant(grant)
    (call,) = receiver.calls["signed"]
    timestamp, signature = (
        call.headers[TIMESTAMP_HEADER.lower()],
        call.headers[SIGNATURE_HEADER.lower()],
    )
    assert call.headers["content-type"] == "application/json"
    assert verify_signature(SECRET, timestamp, call.body, signature)
    assert not verify_signature("another-secret-entirely", timestamp, call.body, signature)
    tampered = call.body.replace(b"user-1", b"user-2")
    assert not verify_signature(SECRET, timestamp, tampered, signature)
    assert not verify_signature(SECRET, timestamp, call.body, signature, now=int(timestamp) + 301)
    body = json.loads(call.body)
    assert body["operation"] == "grant"
    assert body["timestamp"] == int(timestamp)
    assert body["assignmentId"] == str(grant.assignment_id)
    assert (body["originSystem"], body["originId"], body["roleOriginId"]) == (
        "SaasApp",
        "app-42",
        "Reader",
    )


async def test_idempotency_key_is_stable_across_retries_and_differs_for_revoke(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    url = receiver.answer("keys", Step(503), Step(200))
    connector = WebhookConnector(endpoint(url), client)
    grant = grant_request()
    await connector.grant(grant)
    await connector.revoke(grant)
    keys = [c.headers[IDEMPOTENCY_HEADER.lower()] for c in receiver.calls["keys"]]
    assert keys[0] == keys[1] != keys[2]
    assert [json.loads(c.body)["operation"] for c in receiver.calls["keys"]] == [
        "grant",
        "grant",
        "revoke",
    ]


async def test_unknown_origin_system_fails_permanently_in_the_registry(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    config = ConnectorsConfig.model_validate({"connectors": [endpoint(receiver.url("known"))]})
    registry = connectors_from_config(config, client)
    result = await registry.grant(grant_request(origin_system="Mainframe"))
    assert result.outcome is CallOutcome.FAILED
    assert result.detail == "no connector for originSystem 'Mainframe'"
    assert (await registry.grant(grant_request(origin_system="saasapp"))).outcome is (
        CallOutcome.SUCCEEDED
    )


async def test_a_slow_grant_does_not_block_another_running_concurrently(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    slow = WebhookConnector(endpoint(receiver.answer("sluggish", Step(delay=1))), client)
    fast = WebhookConnector(endpoint(receiver.answer("quick")), client)
    finished: list[str] = []

    async def run(name: str, connector: WebhookConnector) -> None:
        assert (await connector.grant(grant_request())).outcome is CallOutcome.SUCCEEDED
        finished.append(name)

    await asyncio.gather(run("slow", slow), run("fast", fast))
    assert finished == ["fast", "slow"]


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


async def test_each_call_is_a_span_whose_traceparent_the_receiver_gets(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    try:
        url = receiver.answer("traced", Step(503), Step(200))
        grant = grant_request()
        result = await WebhookConnector(endpoint(url), client).grant(grant)
    finally:
        tracing.install(None)
    assert result.outcome is CallOutcome.SUCCEEDED
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["connector.call", "connector.call"]
    assert [dict(s.attributes or {})[tracing.OUTCOME] for s in spans] == ["retry", "succeeded"]
    for span, call in zip(spans, receiver.calls["traced"], strict=True):
        context = span.get_span_context()
        assert context is not None
        assert call.headers["traceparent"].startswith(
            f"00-{context.trace_id:032x}-{context.span_id:016x}-"
        )
        assert dict(span.attributes or {})[tracing.REQUEST_ID] == str(grant.request_id)
