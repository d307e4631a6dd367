"""Deliveries through outside connectors, off the consume path.

A grant for an outside system is written ``pending`` (a revoke ``revoking``) by the command
that causes it. The delivery loop then works in three steps, so that no transaction is held
while a webhook answers and no partition waits for one:

1. :func:`lease_due` (one short transaction) claims due grants by pushing their
   ``next_attempt_at`` to the end of a lease: other workers skip them, and if this worker
   dies mid-call they are due again when the lease ends (the connector sees the same
   idempotency key again, which is what makes that safe);
2. the connector is called (:func:`call`), outside any transaction;
3. :func:`record` (one transaction) writes each result: done, failed for good, or due again
   after a backoff (``Retry-After`` honoured); a request none of whose grants waits any
   more settles to delivered / partiallyDelivered / deliveryFailed, with one reason detail
   per failed resource, through the same recorder as every other transition.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from accessflow.domain.grant_states import DONE, GAVE_UP, GrantState, advance
from accessflow.service.connectors import CallOutcome, Connector, GrantRequest, GrantResult
from accessflow.service.fulfil import Fulfilment
from accessflow.service.handlers import CommandOutcome as Settled
from accessflow.service.ports import Changes, Grant, PendingGrant, UnitOfWork
from accessflow.service.recorder import Recorder
from accessflow.service.types import TimerFired

DELIVERY = "accessflow.delivery.settled"


@dataclass(frozen=True)
class RetryPolicy:
    """Durable rounds of an outside grant (each round is one connector call, which may
    retry inline on its own): capped exponential backoff with jitter between rounds, and a
    limit after which the grant fails for good."""

    max_rounds: int = 10
    initial: timedelta = timedelta(seconds=30)
    maximum: timedelta = timedelta(hours=1)
    #: How long a claimed grant is ours: longer than any connector call can take.
    lease: timedelta = timedelta(minutes=5)

    def next_attempt(
        self,
        rounds: int,
        retry_after: float | None,
        now: datetime,
        jitter: Callable[[], float] = random.random,
    ) -> datetime:
        backoff: timedelta = min(self.maximum, self.initial * 2 ** max(rounds - 1, 0))
        backoff += self.initial * jitter()  # grants failing together do not retry together
        if retry_after is not None:
            backoff = max(backoff, timedelta(seconds=retry_after))
        return now + backoff


@dataclass(frozen=True, slots=True)
class Delivered:
    """One connector call's result, for the log line and the metrics."""

    pending: PendingGrant
    result: GrantResult
    grant: Grant  # the row as recorded (state, attempts, next attempt)


async def lease_due(
    uow: UnitOfWork, now: datetime, limit: int, policy: RetryPolicy
) -> list[PendingGrant]:
    async with uow.batch() as store:
        return await store.lease_due_grants(now, limit, now + policy.lease)


def request_for(pending: PendingGrant) -> GrantRequest:
    grant = pending.grant
    return GrantRequest(
        request_id=grant.request_id or uuid.UUID(int=0),
        assignment_id=grant.assignment_id,
        target_id=pending.target_id,
        access_package_id=pending.access_package_id,
        resource_scope_id=grant.resource_scope_id,
        origin_system=grant.origin_system,
        origin_id=grant.origin_id,
        role_origin_id=grant.role_origin_id,
        attempt=grant.attempts + 1,
    )


async def call(connector: Connector, pending: PendingGrant) -> GrantResult:
    """One round. A connector that raises has a bug; the grant is retried (not lost) and
    the error is in its detail."""
    request = request_for(pending)
    try:
        if pending.grant.state == GrantState.REVOKING:
            return await connector.revoke(request)
        return await connector.grant(request)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        return GrantResult.retry(f"connector error: {type(exc).__name__}: {exc}")


def _after(row: Grant, result: GrantResult, now: datetime, policy: RetryPolicy) -> Grant:
    """The row after one round: done, due again after a backoff, or failed for good."""
    rounds = row.attempts + 1
    if result.outcome is CallOutcome.SUCCEEDED:
        state = advance(row.state, DONE[row.state])
        return replace(row, state=state, detail=None, attempts=rounds, next_attempt_at=None)
    detail = result.detail or result.outcome.value
    if result.outcome is CallOutcome.RETRY and rounds < policy.max_rounds:
        due = policy.next_attempt(rounds, result.retry_after, now)
        state = advance(row.state, row.state)
        return replace(row, state=state, detail=detail, attempts=rounds, next_attempt_at=due)
    if result.outcome is CallOutcome.RETRY:
        detail = f"gave up after {rounds} rounds: {detail}"
    state = advance(row.state, GAVE_UP[row.state])
    return replace(row, state=state, detail=detail, attempts=rounds, next_attempt_at=None)


async def record(
    uow: UnitOfWork,
    results: Sequence[tuple[PendingGrant, GrantResult]],
    now: datetime,
    policy: RetryPolicy,
) -> tuple[list[Delivered], list[Settled]]:
    """Write the results and settle the requests that no longer wait, in one transaction."""
    async with uow.batch() as store:
        request_ids = {p.grant.request_id for p, _ in results if p.grant.request_id}
        requests = await store.load_requests(request_ids)  # locked: settles serialise
        assignment_ids = {str(p.grant.assignment_id) for p, _ in results}
        current = {
            (g.assignment_id, g.resource_scope_id): g for g in await store.grants_of(assignment_ids)
        }
        changes = Changes()
        delivered: list[Delivered] = []
        causes: dict[uuid.UUID, str] = {}
        for pending, result in results:
            leased = pending.grant
            key = (leased.assignment_id, leased.resource_scope_id)
            row = current.get(key)
            if row is None or not _still_ours(row, leased):
                continue  # a removal or reprocess moved the grant on meanwhile
            updated = _after(row, result, now, policy)
            current[key] = updated
            changes.grants.append(updated)
            delivered.append(Delivered(pending, result, updated))
            if leased.request_id is not None:
                causes[leased.request_id] = f"delivery:{key[0]}:{key[1]}:{updated.attempts}"
        view = await store.view((), (), assignment_ids)
        recorder = Recorder(changes, now)
        fulfil = Fulfilment(recorder, view, current.values())
        settled = []
        for request_id, cause in sorted(causes.items()):
            stored = requests.get(request_id)
            if stored is None:
                continue
            before = stored.request.state.value
            fulfil.settle(stored, TimerFired(cause, request_id, "delivery", {}))
            after = stored.request.state.value
            if after != before:
                settled.append(
                    Settled(cause, DELIVERY, request_id, -1, -1, "settled", before, after)
                )
        await store.save(changes)
        return delivered, settled


async def release(uow: UnitOfWork, leased: Sequence[PendingGrant], now: datetime) -> int:
    """Hand back grants whose calls were abandoned (the worker is stopping): due again at
    ``now`` for any worker, instead of at the end of their lease. Returns how many."""
    if not leased:
        return 0
    async with uow.batch() as store:
        assignment_ids = {str(p.grant.assignment_id) for p in leased}
        current = {
            (g.assignment_id, g.resource_scope_id): g for g in await store.grants_of(assignment_ids)
        }
        changes = Changes()
        for pending in leased:
            row = current.get((pending.grant.assignment_id, pending.grant.resource_scope_id))
            if row is not None and _still_ours(row, pending.grant):
                changes.grants.append(replace(row, next_attempt_at=now))
        await store.save(changes)
        return len(changes.grants)


def _still_ours(row: Grant, leased: Grant) -> bool:
    return (row.state, row.request_id, row.attempts) == (
        leased.state,
        leased.request_id,
        leased.attempts,
    )


async def deliver_due(
    uow: UnitOfWork,
    connector: Connector,
    now: datetime,
    policy: RetryPolicy,
    limit: int = 100,
) -> tuple[list[Delivered], list[Settled]]:
    """Lease, call and record one batch of due grants, all calls at once (the burst mode's
    and the tests' form; the worker's loop streams results instead)."""
    leased = await lease_due(uow, now, limit, policy)
    if not leased:
        return [], []
    results = await asyncio.gather(*(call(connector, p) for p in leased))
    return await record(uow, list(zip(leased, results, strict=True)), now, policy)
