"""Produce wire-contract commands straight to Kafka, for upstream Python services.

Every command is built with :mod:`accessflow.service.commands` and validated against the
contract's own models before it is sent: a create body goes through the domain parser
(:func:`~accessflow.domain.create_body.parse_create_request`), so an invalid body raises
:class:`~accessflow.domain.errors.RequestValidationError` and nothing reaches the topic.
Each command is keyed by its request id and acknowledged by every in-sync replica
(the producer is idempotent, which implies ``acks=all``) before the call returns.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from accessflow.adapters.kafka.access import start_client
from accessflow.adapters.kafka.errors import is_permanent
from accessflow.adapters.kafka.limits import check_topic_limits, command_budget
from accessflow.adapters.kafka.producer import CLOUDEVENTS_HEADERS, make_producer
from accessflow.adapters.kafka.refusals import refusal_reason
from accessflow.domain.codes import ReasonCode
from accessflow.domain.create_body import CreateAssignmentRequest, parse_create_request
from accessflow.domain.errors import ErrorDetail, RequestValidationError
from accessflow.service.commands import (
    CANCEL,
    CREATE,
    DATA_MODELS,
    DECIDE,
    REPROCESS,
    CommandEnvelope,
    command_envelope,
)
from accessflow.settings_base import KafkaConnectionSettings

DEFAULT_SOURCE = "urn:accessflow:client"

CreateBody = Mapping[str, Any] | CreateAssignmentRequest


class CommandRefusedError(Exception):
    """Kafka refused a command for good (too large, not authorised, no such topic): sending
    it again cannot succeed, so it is not retried. Nothing of it was produced."""


async def _acknowledged(future: Awaitable[Any], topic: str) -> None:
    try:
        await future
    except Exception as exc:
        if is_permanent(exc):
            raise CommandRefusedError(refusal_reason(exc, topic)) from exc
        raise


@dataclass(frozen=True, slots=True)
class NewRequest:
    """One create for :meth:`AccessflowProducer.create_many`."""

    requestor: str
    body: CreateBody
    request_id: uuid.UUID | None = None
    is_admin: bool = False
    traceparent: str | None = None


def _caller(object_id: str, is_admin: bool) -> dict[str, Any]:
    caller: dict[str, Any] = {"objectId": object_id}
    if is_admin:
        caller["isAdmin"] = True
    return caller


def _checked(command: dict[str, Any]) -> dict[str, Any]:
    """The command itself if the contract's models accept it; else RequestValidationError."""
    try:
        CommandEnvelope.model_validate(command)
        DATA_MODELS[command["type"]].model_validate(command["data"])
    except ValidationError as exc:
        raise RequestValidationError.from_pydantic(exc) from None
    return command


def build_create(
    new: NewRequest, *, source: str = DEFAULT_SOURCE
) -> tuple[uuid.UUID, dict[str, Any]]:
    """The request id and the validated create command for ``new`` (nothing is sent)."""
    body = new.body if isinstance(new.body, CreateAssignmentRequest) else None
    if body is None:
        body = parse_create_request(dict(new.body))
    request_id = new.request_id or uuid.uuid4()
    data = {"requestor": _caller(new.requestor, new.is_admin), "request": body.to_graph()}
    command = command_envelope(CREATE, request_id, data, source=source, traceparent=new.traceparent)
    return request_id, _checked(command)


class AccessflowProducer:
    """``async with AccessflowProducer(settings) as client: await client.create_request(…)``.

    One idempotent Kafka producer per instance; share it across tasks. ``source`` is the
    CloudEvents ``source`` of every command (identify your service, e.g. ``urn:my:app``).
    """

    def __init__(
        self,
        settings: KafkaConnectionSettings,
        *,
        source: str = DEFAULT_SOURCE,
        linger_ms: int = 5,
    ) -> None:
        self.settings = settings
        self.source = source
        self._producer: AIOKafkaProducer = make_producer(settings, linger_ms=linger_ms)
        self._started = False

    async def __aenter__(self) -> AccessflowProducer:
        """Start the producer; TopicLimitError when the commands topic would refuse commands
        of ``ACCESSFLOW_MAX_COMMAND_BYTES`` (docs/security.md, Limits)."""
        await start_client(self._producer, self.settings)
        try:
            await check_topic_limits(self.settings, [command_budget(self.settings)])
        except BaseException:
            await self._producer.stop()
            raise
        self._started = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._started:
            self._started = False
            await self._producer.stop()

    def _encoded(self, command: dict[str, Any]) -> bytes:
        """The command's bytes; RequestValidationError when the worker would dead-letter them
        for being over ``ACCESSFLOW_MAX_COMMAND_BYTES``."""
        value = orjson.dumps(command)
        limit = self.settings.max_command_bytes
        if len(value) > limit:
            message = f"the command is {len(value)} bytes, over ACCESSFLOW_MAX_COMMAND_BYTES"
            detail = ErrorDetail("", f"a command is at most {limit} bytes")
            raise RequestValidationError(ReasonCode.INVALID_REQUEST, message, details=[detail])
        return value

    async def _send(self, command: dict[str, Any], value: bytes) -> asyncio.Future[None]:
        """Queue one command (keyed by its request id); the future resolves on the ack.
        Raises CommandRefusedError when Kafka will never take it."""
        if not self._started:
            raise RuntimeError("use the producer inside `async with AccessflowProducer(…)`")
        topic = self.settings.commands_topic
        try:
            future = await self._producer.send(
                topic, value, key=command["subject"].encode(), headers=CLOUDEVENTS_HEADERS
            )
        except Exception as exc:  # send() itself refuses a record over max_request_size
            if is_permanent(exc):
                raise CommandRefusedError(refusal_reason(exc, topic)) from exc
            raise
        return asyncio.ensure_future(_acknowledged(future, topic))

    async def send_command(self, command: dict[str, Any]) -> None:
        """Validate and produce an already-built command (``command_envelope``), then await
        its acknowledgement."""
        checked = _checked(command)
        await (await self._send(checked, self._encoded(checked)))

    async def create_request(
        self,
        requestor: str,
        request_body: CreateBody,
        *,
        request_id: uuid.UUID | None = None,
        is_admin: bool = False,
        traceparent: str | None = None,
    ) -> uuid.UUID:
        """Produce ``accessflow.assignmentRequest.create``; returns the request id once Kafka
        acknowledged it. Raises RequestValidationError (nothing produced) for a bad body."""
        new = NewRequest(requestor, request_body, request_id, is_admin, traceparent)
        rid, command = build_create(new, source=self.source)
        await (await self._send(command, self._encoded(command)))
        return rid

    async def create_many(self, requests: Iterable[NewRequest]) -> list[uuid.UUID]:
        """Validate every request first (one invalid body raises, nothing is produced), then
        send them all and await the acknowledgements together. Returns the ids in order.
        Callers with very many requests should pass chunks (a few thousand at a time)."""
        built = [build_create(new, source=self.source) for new in requests]
        encoded = [self._encoded(command) for _, command in built]
        futures = [await self._send(c, value) for (_, c), value in zip(built, encoded, strict=True)]
        await asyncio.gather(*futures)
        return [rid for rid, _ in built]

    async def cancel(
        self, request_id: uuid.UUID | str, requestor: str, *, is_admin: bool = False
    ) -> str:
        """Produce ``accessflow.assignmentRequest.cancel``; returns the command id."""
        return await self._simple(CANCEL, request_id, {"requestor": _caller(requestor, is_admin)})

    async def reprocess(
        self, request_id: uuid.UUID | str, requestor: str, *, is_admin: bool = False
    ) -> str:
        """Produce ``accessflow.assignmentRequest.reprocess``; returns the command id."""
        data = {"requestor": _caller(requestor, is_admin)}
        return await self._simple(REPROCESS, request_id, data)

    async def decide(
        self,
        request_id: uuid.UUID | str,
        stage_id: str,
        reviewer: str,
        approve: bool,
        justification: str | None = None,
        *,
        is_admin: bool = False,
    ) -> str:
        """Produce ``accessflow.approvalStage.decide``; returns the command id."""
        data: dict[str, Any] = {
            "stageId": stage_id,
            "reviewResult": "Approve" if approve else "Deny",
            "reviewer": _caller(reviewer, is_admin),
        }
        if justification is not None:
            data["justification"] = justification
        return await self._simple(DECIDE, request_id, data)

    async def _simple(
        self, command_type: str, request_id: uuid.UUID | str, data: dict[str, Any]
    ) -> str:
        rid = uuid.UUID(str(request_id))  # ValueError for something that is not a GUID
        command = command_envelope(command_type, rid, data, source=self.source)
        await self.send_command(command)
        return str(command["id"])
