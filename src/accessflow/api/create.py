"""``POST …/assignmentRequests``: decide what can be decided now, produce the create command,
answer ``201`` only once Kafka acknowledged it; idempotent per (caller, key).

Order matters: a replay is looked up before the rules run (the first request is itself an
open request the rules would now refuse), and the idempotency row is claimed before the
command is produced, so a concurrent retry waits (409) instead of producing a second one.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from accessflow.adapters.postgres import queries_idempotency as keys
from accessflow.adapters.postgres.queries import assignment_target
from accessflow.adapters.postgres.view import load_view
from accessflow.api.auth import Principal
from accessflow.api.deps import ApiContext
from accessflow.api.errors import ApiError
from accessflow.api.publisher import command
from accessflow.api.representation import request_resource
from accessflow.domain import states
from accessflow.domain.create import CreateAssignmentRequest
from accessflow.domain.models.requests import to_graph
from accessflow.domain.rules import Decision, evaluate_create
from accessflow.service.commands import CREATE

#: A pending claim older than this was left by an API process that died mid-request.
STALE_CLAIM = timedelta(minutes=2)


@dataclass(frozen=True)
class Created:
    resource: dict[str, Any]
    replayed: bool = False


def body_hash(body: CreateAssignmentRequest) -> str:
    canonical = orjson.dumps(body.to_graph(), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


async def create_request(
    ctx: ApiContext,
    caller: Principal,
    body: CreateAssignmentRequest,
    key: str | None,
    traceparent: str | None,
) -> Created:
    digest = body_hash(body)
    if key is not None:
        replay = await _replay(ctx, caller, key, digest)
        if replay is not None:
            return replay
    now = datetime.now(UTC)
    decision = await evaluate(ctx, caller, body, now)
    request_id = uuid.uuid4()
    resource = _submitted(body, decision, request_id, now)
    envelope = command(
        CREATE,
        request_id,
        {"requestor": to_graph(caller.caller), "request": body.to_graph()},
        traceparent,
    )
    if key is None:
        await ctx.publisher.publish(envelope)
        return Created(resource)
    async with ctx.db.acquire() as conn:
        claimed = await keys.claim(
            conn, caller.object_id, key, digest, request_id, envelope, resource
        )
    if not claimed:
        replay = await _replay(ctx, caller, key, digest)
        if replay is None:  # the claim was released between our insert and our read
            raise _in_flight(key)
        return replay
    return await _produce_claimed(ctx, caller, key, request_id, envelope, resource)


async def _produce_claimed(
    ctx: ApiContext,
    caller: Principal,
    key: str,
    request_id: uuid.UUID,
    envelope: dict[str, Any],
    resource: dict[str, Any],
) -> Created:
    try:
        await ctx.publisher.publish(envelope)
    except Exception:
        async with ctx.db.acquire() as conn:
            await keys.release(conn, caller.object_id, key, request_id)
        raise
    async with ctx.db.acquire() as conn:
        await keys.complete(conn, caller.object_id, key)
    return Created(resource)


async def _replay(ctx: ApiContext, caller: Principal, key: str, digest: str) -> Created | None:
    async with ctx.db.acquire() as conn:
        record = await keys.find(conn, caller.object_id, key, STALE_CLAIM)
        if record is None:
            return None
        if record.body_hash != digest:
            raise ApiError(
                409,
                "IdempotencyKeyReused",
                f"the idempotency key {key!r} was used for a different request body",
                target="Idempotency-Key",
            )
        if record.state == "done" and record.response is not None:
            return Created(record.response, replayed=True)
        if not record.stale or not await keys.take_over(conn, caller.object_id, key, STALE_CLAIM):
            raise _in_flight(key)
    # The claim's process died between producing and recording: send the same command
    # again (same CloudEvents id, so the worker applies it at most once).
    resource = record.response or {}
    return await _produce_claimed(ctx, caller, key, record.request_id, record.command, resource)


def _in_flight(key: str) -> ApiError:
    return ApiError(
        409,
        "IdempotencyKeyInFlight",
        f"a request with idempotency key {key!r} is still being submitted; retry shortly",
        target="Idempotency-Key",
        headers={"Retry-After": "1"},
    )


async def evaluate(
    ctx: ApiContext, caller: Principal, body: CreateAssignmentRequest, now: datetime
) -> Decision:
    """The rules over committed state; a refusal raises (→ its Graph error)."""
    users = {caller.object_id}
    async with ctx.db.acquire() as conn:
        if body.target_id:
            users.add(body.target_id)
        if body.assignment_id:
            # The assignment's target, whom update rules look up.
            target = await assignment_target(conn, body.assignment_id)
            if target:
                users.add(target)
        objects = await ctx.catalog.catalog_objects(conn)
        view = await load_view(
            conn,
            objects,
            users,
            [body.target_email] if body.target_email else [],
            [body.assignment_id] if body.assignment_id else [],
        )
    decision = evaluate_create(body, caller.caller, view, now)
    decision.raise_if_denied()
    return decision


def _submitted(
    body: CreateAssignmentRequest, decision: Decision, request_id: uuid.UUID, now: datetime
) -> dict[str, Any]:
    """The request as the worker will record it on ``submitted`` (Graph's create answer)."""
    resolved = decision.resolved
    assignment = body.assignment
    if resolved is not None:
        assignment = assignment.model_copy(
            update={
                "access_package_id": resolved.access_package_id,
                "assignment_policy_id": resolved.assignment_policy_id,
                "target_id": resolved.target_id or body.target_id,
            }
        )
    request = states.submit(
        body.model_copy(update={"assignment": assignment}), request_id=str(request_id), now=now
    )
    return request_resource(to_graph(request))
