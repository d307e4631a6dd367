"""The webhook connector: one signed JSON POST per grant or revoke.

Each call carries ``Idempotency-Key`` (the same for every retry of one grant), a unix
``X-Accessflow-Timestamp`` and ``X-Accessflow-Signature: v1=<hex>``, the HMAC-SHA256 of
``"{timestamp}.{raw body}"`` under the endpoint's secret (Stripe's scheme, so receivers know
it; :func:`verify_signature` is the reference check, ``docs/connectors.md`` the contract).

Timeouts, connection errors, 5xx, 408, 425 and 429 are retried inline with exponential
backoff and jitter (tenacity), honouring ``Retry-After``, until ``maxAttempts`` calls or
``maxElapsedSeconds``; then the result is ``retry`` so the worker can park the grant on a
durable timer instead of holding its partition. Any other 4xx (and 3xx) fails at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
import orjson
from opentelemetry.trace import SpanKind
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_result,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential,
    wait_random,
)

from accessflow import tracing
from accessflow.adapters.connectors_config import ConnectorsConfig, WebhookConnectorConfig
from accessflow.logs import get_logger
from accessflow.service.connectors import (
    CallOutcome,
    Connector,
    ConnectorRegistry,
    GrantRequest,
    GrantResult,
    Operation,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"
TIMESTAMP_HEADER = "X-Accessflow-Timestamp"
SIGNATURE_HEADER = "X-Accessflow-Signature"
SIGNATURE_VERSION = "v1"
#: Statuses that say "not now" rather than "no"; every 5xx is transient too.
TRANSIENT_STATUSES = frozenset({408, 425, 429})
#: A server may ask for any wait; beyond a day it is a misconfiguration, not a plan.
MAX_RETRY_AFTER_SECONDS = 86_400.0
_DETAIL_CHARS = 200

log = get_logger(__name__)


def sign(secret: str | bytes, timestamp: int | str, body: bytes) -> str:
    """The ``X-Accessflow-Signature`` value for ``body`` sent at ``timestamp``."""
    key = secret.encode() if isinstance(secret, str) else secret
    signed = f"{timestamp}.".encode() + body
    return f"{SIGNATURE_VERSION}={hmac.new(key, signed, hashlib.sha256).hexdigest()}"


def verify_signature(
    secret: str | bytes,
    timestamp: int | str,
    body: bytes,
    header: str,
    tolerance_s: float = 300,
    *,
    now: float | None = None,
) -> bool:
    """True when ``header`` signs exactly ``body`` at ``timestamp`` with ``secret``, and the
    timestamp is within ``tolerance_s`` of ``now`` (either way: clocks drift), so a captured
    call cannot be replayed later. ``header`` may list several ``v1=`` values, comma-separated
    (for secret rotation); any match is enough. Comparison is constant-time."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_s:
        return False
    expected = sign(secret, sent_at, body)
    candidates = (part.strip() for part in header.split(","))
    return any(hmac.compare_digest(expected, c) for c in candidates if c)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP-date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT; an obsolete form may drop the zone
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def classify(response: httpx.Response, now: datetime) -> GrantResult:
    """A response as an outcome: 2xx succeeded, transient statuses retry, the rest failed."""
    status = response.status_code
    if 200 <= status < 300:
        return GrantResult.succeeded(status=status)
    snippet = response.text[:_DETAIL_CHARS].strip()
    detail = f"HTTP {status}: {snippet}" if snippet else f"HTTP {status}"
    if status >= 500 or status in TRANSIENT_STATUSES:
        retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
        return GrantResult.retry(detail, status=status, retry_after=retry_after)
    return GrantResult.failed(detail, status=status)


def encode_body(operation: Operation, grant: GrantRequest, timestamp: int) -> bytes:
    """The JSON body; its exact bytes are what the signature covers."""
    return orjson.dumps(
        {
            "operation": operation.value,
            "idempotencyKey": grant.idempotency_key(operation),
            "timestamp": timestamp,
            "requestId": str(grant.request_id),
            "assignmentId": str(grant.assignment_id),
            "targetId": grant.target_id,
            "accessPackageId": grant.access_package_id,
            "resourceRoleScopeId": grant.resource_scope_id,
            "originSystem": grant.origin_system,
            "originId": grant.origin_id,
            "roleOriginId": grant.role_origin_id,
            "attempt": grant.attempt,
        }
    )


class WebhookConnector:
    """Delivers grants of one origin system to one webhook endpoint.

    The :class:`httpx.AsyncClient` belongs to the caller (the composition root opens and
    closes it), so every connector shares one connection pool. ``clock`` and ``sleep`` are
    there for tests that must not wait.
    """

    def __init__(
        self,
        config: WebhookConnectorConfig,
        client: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self._client = client
        self._clock = clock
        self._sleep = sleep
        self._url = str(config.url)
        self._secret = config.signing_secret().get_secret_value().encode()
        # initial·2ⁿ⁻¹ capped, plus up to one initial step of jitter so that grants failing
        # together do not retry together (tenacity ≥ 9.0 has both pieces).
        self._backoff = wait_exponential(
            multiplier=config.backoff_initial_seconds, max=config.backoff_max_seconds
        ) + wait_random(0, config.backoff_initial_seconds)

    async def grant(self, grant: GrantRequest) -> GrantResult:
        return await self._deliver(Operation.GRANT, grant)

    async def revoke(self, grant: GrantRequest) -> GrantResult:
        return await self._deliver(Operation.REVOKE, grant)

    async def _deliver(self, operation: Operation, grant: GrantRequest) -> GrantResult:
        key = grant.idempotency_key(operation)
        calls = 0

        async def attempt() -> GrantResult:
            nonlocal calls
            calls += 1
            return await self._call(operation, grant, key)

        def log_retry(state: RetryCallState) -> None:
            result: GrantResult = state.outcome.result()  # type: ignore[union-attr]
            log.warning(
                "webhook.retrying",
                origin_system=grant.origin_system,
                idempotency_key=key,
                attempt=state.attempt_number,
                detail=result.detail,
                wait_s=round(state.upcoming_sleep, 3),
            )

        result: GrantResult = await self._retrying(log_retry)(attempt)
        if result.outcome is not CallOutcome.SUCCEEDED:
            log.warning(
                "webhook.not_delivered",
                origin_system=grant.origin_system,
                idempotency_key=key,
                outcome=result.outcome.value,
                attempts=calls,
                detail=result.detail,
            )
        return dataclasses.replace(result, attempts=calls)

    def _retrying(self, before_sleep: Callable[[RetryCallState], None]) -> AsyncRetrying:
        return AsyncRetrying(
            stop=stop_after_attempt(self.config.max_attempts)
            # Never start a wait that would end past the budget: hand the grant back instead.
            | stop_before_delay(self.config.max_elapsed_seconds),
            wait=self._wait,
            retry=retry_if_result(lambda result: result.is_transient),
            before_sleep=before_sleep,
            # Out of attempts or time: the last transient result is the answer, not an error.
            retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]
            sleep=self._sleep,
        )

    def _wait(self, state: RetryCallState) -> float:
        previous = state.outcome
        if previous is not None and not previous.failed:
            retry_after = previous.result().retry_after
            if retry_after is not None:
                return float(retry_after)
        return float(self._backoff(state))

    async def _call(self, operation: Operation, grant: GrantRequest, key: str) -> GrantResult:
        attributes: dict[str, str | int] = {
            tracing.REQUEST_ID: str(grant.request_id),
            "accessflow.operation": operation.value,
            "accessflow.origin_system": grant.origin_system,
            "accessflow.attempt": grant.attempt,
        }
        with tracing.span("connector.call", kind=SpanKind.CLIENT, attributes=attributes) as span:
            result = await self._send(operation, grant, key, tracing.traceparent_of(span))
            span.set_attribute(tracing.OUTCOME, result.outcome.value)
            return result

    async def _send(
        self, operation: Operation, grant: GrantRequest, key: str, traceparent: str | None
    ) -> GrantResult:
        # A fresh timestamp per call keeps every attempt inside the receiver's tolerance.
        timestamp = int(self._clock())
        body = encode_body(operation, grant, timestamp)
        headers = {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: key,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        }
        if traceparent is not None:  # the receiver may continue the trace
            headers["traceparent"] = traceparent
        timeout = self.config.timeout_seconds
        try:
            # httpx's timeout bounds each read; this one bounds the whole call.
            async with asyncio.timeout(timeout):
                response = await self._client.post(
                    self._url, content=body, headers=headers, timeout=timeout
                )
        except (TimeoutError, httpx.TimeoutException):
            return GrantResult.retry(f"no answer within {timeout:g} s")
        except httpx.TransportError as exc:
            return GrantResult.retry(f"connection error: {type(exc).__name__}")
        return classify(response, datetime.fromtimestamp(self._clock(), UTC))


def connectors_from_config(
    config: ConnectorsConfig,
    client: httpx.AsyncClient,
    *,
    directory: Connector | None = None,
) -> ConnectorRegistry:
    """A registry with a :class:`WebhookConnector` per webhook entry.

    ``directory`` serves the ``directory`` entries when given; without it they stay out of
    the registry, for the worker to deliver inside its own transaction as it does today
    (see :attr:`ConnectorsConfig.directory_origin_systems`).
    """
    connectors: dict[str, Connector] = {
        entry.origin_system: WebhookConnector(entry, client) for entry in config.webhooks
    }
    if directory is not None:
        connectors.update(dict.fromkeys(config.directory_origin_systems, directory))
    return ConnectorRegistry(connectors)
