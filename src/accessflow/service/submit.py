"""Submitting a create from the API: decide what can be decided now, produce the create
command, answer only once the broker acknowledged it; idempotent per (caller, key).

The decision is the worker's own (:func:`~accessflow.domain.rules.evaluate_create` over the
view the worker's batch reads, :func:`~accessflow.service.create_handler.create_lookups`), and the
answer is the request as the worker records it on ``submitted``
(:func:`~accessflow.service.create_handler.submitted_request`). The worker remains the authority:
it decides again over what is committed when the command arrives.

Order matters: a replay is looked up before the rules run (the first request is itself an
open request the rules would now refuse), and the key is claimed before the command is
produced, so a concurrent retry waits (:class:`KeyInFlightError`) instead of producing a second.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from accessflow.domain.create_body import CreateAssignmentRequest
from accessflow.domain.models.requests import to_graph
from accessflow.domain.rules import Caller, Decision, evaluate_create
from accessflow.service.commands import CREATE, command_envelope
from accessflow.service.create_handler import create_lookups, submitted_request
from accessflow.service.read_model import Channels, ReadModel

#: A pending claim older than this was left by an API process that died mid-request.
STALE_CLAIM = timedelta(minutes=2)


@dataclass(frozen=True)
class Submitted:
    """The create's answer: the request's Graph document as recorded on ``submitted``, or
    the first answer again for a repeated key (``replayed``)."""

    document: dict[str, Any]
    replayed: bool = False


class KeyReusedError(Exception):
    """The key was used by this caller for a different body."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the idempotency key {key!r} was used for a different request body")
        self.key = key


class KeyInFlightError(Exception):
    """A request with this key is still being submitted; a retry shortly will find it done."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"a request with idempotency key {key!r} is still being submitted; retry shortly"
        )
        self.key = key


@dataclass(frozen=True)
class Submission:
    """A create as the caller asked for it: the body, its idempotency key (per caller), and
    the trace the command continues."""

    caller: Caller
    body: CreateAssignmentRequest
    key: str | None = None
    traceparent: str | None = None


def body_hash(body: CreateAssignmentRequest) -> str:
    canonical = orjson.dumps(body.to_graph(), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


async def decide_create(
    read: ReadModel, caller: Caller, body: CreateAssignmentRequest, now: datetime
) -> Decision:
    """The rules over committed state, as the worker's batch reads it; a refusal raises
    (the rule's :class:`~accessflow.domain.errors.DomainError`)."""
    view = await read.view(*create_lookups(caller.object_id, body))
    decision = evaluate_create(body, caller, view, now)
    decision.raise_if_denied()
    return decision


async def submit(ports: Channels, asked: Submission, now: datetime) -> Submitted:
    """Answer a repeated key with its first answer; else decide, produce the create command
    and answer once it was acknowledged. A refusal raises the rule's ``DomainError``, a
    publisher failure its own error (the key is then released)."""
    digest = body_hash(asked.body)
    owner = asked.caller.object_id
    if asked.key is not None:
        replay = await _replay(ports, owner, asked.key, digest)
        if replay is not None:
            return replay
    decision = await decide_create(ports.read, asked.caller, asked.body, now)
    request_id = uuid.uuid4()
    request = submitted_request(asked.body, decision, request_id, now)
    resource: dict[str, Any] = to_graph(request)
    envelope = command_envelope(
        CREATE,
        request_id,
        {"requestor": to_graph(asked.caller), "request": asked.body.to_graph()},
        source=ports.source,
        time=now,
        traceparent=asked.traceparent,
    )
    if asked.key is None:
        await ports.publisher.publish(envelope)
        return Submitted(resource)
    if not await ports.keys.claim(owner, asked.key, digest, request_id, envelope, resource):
        replay = await _replay(ports, owner, asked.key, digest)
        if replay is None:  # the claim was released between our insert and our read
            raise KeyInFlightError(asked.key)
        return replay
    return await _produce_claimed(ports, owner, asked.key, request_id, envelope, resource)


async def _produce_claimed(
    ports: Channels,
    owner: str,
    key: str,
    request_id: uuid.UUID,
    envelope: dict[str, Any],
    resource: dict[str, Any],
) -> Submitted:
    try:
        await ports.publisher.publish(envelope)
    except Exception:
        await ports.keys.release(owner, key, request_id)
        raise
    await ports.keys.complete(owner, key)
    return Submitted(resource)


async def _replay(ports: Channels, owner: str, key: str, digest: str) -> Submitted | None:
    record = await ports.keys.find(owner, key, STALE_CLAIM)
    if record is None:
        return None
    if record.body_hash != digest:
        raise KeyReusedError(key)
    if record.state == "done" and record.response is not None:
        return Submitted(record.response, replayed=True)
    if not record.stale or not await ports.keys.take_over(owner, key, STALE_CLAIM):
        raise KeyInFlightError(key)
    # The claim's process died between producing and recording: send the same command
    # again (same CloudEvents id, so the worker applies it at most once).
    resource = record.response or {}
    return await _produce_claimed(ports, owner, key, record.request_id, record.command, resource)
