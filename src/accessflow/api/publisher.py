"""Producing commands from the API: CloudEvents per the wire contract, acknowledged by Kafka
(``acks=all``) before the HTTP answer, or a 503 with nothing left behind to be sent later.

The producer is idempotent like every accessflow producer, with a short
``request_timeout_ms``: aiokafka fails a batch that is not delivered within it, so a command
the API answered 503 for cannot reach the topic afterwards (the one unavoidable exception: a
broker that wrote it but whose acknowledgement was lost, which the idempotency key covers).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from opentelemetry import trace

from accessflow import tracing
from accessflow.adapters.kafka.access import KafkaAccessRefused, start_client
from accessflow.adapters.kafka.errors import is_permanent
from accessflow.adapters.kafka.options import client_options
from accessflow.adapters.kafka.producer import CLOUDEVENTS_HEADERS, MAX_REQUEST_SIZE
from accessflow.adapters.kafka.refusals import is_too_large, refusal_reason
from accessflow.api.errors import ApiError, service_unavailable
from accessflow.logs import get_logger
from accessflow.settings import Settings

log = get_logger("accessflow.api")
SOURCE = "urn:accessflow:api"
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def valid_traceparent(value: str | None) -> str | None:
    """The W3C ``traceparent`` to carry, or None (an invalid one is ignored, per W3C)."""
    if value is None:
        return None
    value = value.strip().lower()
    return value if _TRACEPARENT.match(value) and value[3:35] != "0" * 32 else None


def command_traceparent(header: str | None) -> str | None:
    """The ``traceparent`` a command produced for this HTTP request carries: the API's
    current span when one is recorded, else the caller's own (valid) one."""
    return tracing.outgoing_traceparent(valid_traceparent(header))


def _tag_span(envelope: dict[str, Any]) -> None:
    current = trace.get_current_span()
    current.set_attribute(tracing.REQUEST_ID, str(envelope["subject"]))
    current.set_attribute(tracing.COMMAND_TYPE, str(envelope["type"]))


class Publisher:
    """The API's :class:`~accessflow.service.read_model.CommandPublisher`: owns the producer
    unless one was handed in; starts it lazily if Kafka was away."""

    def __init__(
        self,
        settings: Settings,
        producer: AIOKafkaProducer | None = None,
        *,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._settings = settings
        self._producer = producer
        self._owned = producer is None
        self._started = producer is not None
        self._timeout = timeout_seconds
        self._lock = asyncio.Lock()

    async def start(self) -> bool:
        """Start the producer if needed; False (and a log line) when Kafka is unreachable."""
        async with self._lock:
            if self._started:
                return True
            producer = AIOKafkaProducer(
                enable_idempotence=True,
                linger_ms=0,
                max_request_size=MAX_REQUEST_SIZE,
                request_timeout_ms=int(self._timeout * 1000),
                **client_options(self._settings),
            )
            try:
                await asyncio.wait_for(start_client(producer, self._settings), self._timeout)
            except KafkaAccessRefused as exc:  # a configuration error: says so on every try
                log.error("api.kafka_refused", error=str(exc))
                await producer.stop()
                return False
            except (KafkaError, OSError, TimeoutError) as exc:
                log.warning("api.kafka_unavailable", error=str(exc))
                await producer.stop()
                return False
            self._producer, self._started = producer, True
            return True

    async def publish(self, envelope: dict[str, Any]) -> None:
        """Produce and wait for ``acks=all``. An outage is a retriable 503 for the caller;
        a permanent refusal is not (413 too large, 500 misconfigured)."""
        _tag_span(envelope)
        if not await self.start() or self._producer is None:
            raise service_unavailable("the command bus (Kafka) is unavailable; try again")
        producer = self._producer
        value = orjson.dumps(envelope)
        limit = self._settings.max_command_bytes
        if len(value) > limit:  # the broker would refuse it for good: not a 503
            raise ApiError(
                413,
                "PayloadTooLarge",
                f"the command would be {len(value)} bytes, over the {limit}-byte limit",
            )
        try:
            # Bounded wait for metadata/buffer space only: nothing is queued until send returns.
            future = await asyncio.wait_for(
                producer.send(
                    self._settings.commands_topic,
                    value,
                    key=envelope["subject"].encode(),
                    headers=CLOUDEVENTS_HEADERS,
                ),
                self._timeout,
            )
            # Once queued, aiokafka fails the batch by itself after request_timeout_ms.
            await future
        except (KafkaError, OSError, TimeoutError) as exc:
            if is_permanent(exc):
                raise self._refused(exc, envelope) from None
            log.warning("api.produce_failed", error=repr(exc), command_id=envelope["id"])
            raise service_unavailable("Kafka did not acknowledge the command; try again") from None

    def _refused(self, exc: BaseException, envelope: dict[str, Any]) -> ApiError:
        """A refusal no retry fixes: 413 when the command is too large (the caller can send
        less), otherwise 500: a misconfigured topic or ACL is neither the caller's fault nor
        an outage to wait out, so never 503."""
        reason = refusal_reason(exc, self._settings.commands_topic)
        if is_too_large(exc):
            log.warning("api.command_too_large", error=reason, command_id=envelope["id"])
            return ApiError(413, "PayloadTooLarge", "the command is larger than Kafka accepts")
        log.error("api.produce_refused", error=reason, command_id=envelope["id"])
        return ApiError(
            500,
            "CommandBusRefused",
            "the command bus refuses this server's commands; "
            "the request was not accepted (a server misconfiguration)",
        )

    async def ready(self) -> bool:
        if not await self.start() or self._producer is None:
            return False
        try:
            await asyncio.wait_for(self._producer.partitions_for(self._settings.commands_topic), 5)
        except (KafkaError, OSError, TimeoutError):
            return False
        return True

    async def close(self) -> None:
        if self._owned and self._producer is not None:
            await self._producer.stop()
        self._producer, self._started = None, False
