"""The delivery loop that runs beside the consumer in every worker process: it sends waiting
grants to their outside connectors (webhooks) and records the results.

Calls stream: up to ``concurrency`` are in flight, each result is recorded as soon as it is
in, and a slow endpoint holds one slot, never the others (nor any partition: the consumer
only wrote the grant). Any number of workers may run it; leases keep a grant with one of
them at a time (``service/delivery_rounds.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime

from accessflow.entrypoints.observability import Metrics
from accessflow.entrypoints.retry import Stopping, retry_transient
from accessflow.logs import get_logger
from accessflow.service import delivery_rounds
from accessflow.service.connectors import Connector, GrantResult
from accessflow.service.delivery_rounds import Delivered, RetryPolicy
from accessflow.service.handlers import CommandOutcome
from accessflow.service.ports import PendingGrant, UnitOfWork

log = get_logger("accessflow.deliveries")

#: On SIGTERM, calls in flight get this long to finish and be recorded; the rest are
#: abandoned and handed back, due at once for another worker (same idempotency key).
STOP_GRACE_SECONDS = 10.0


class DeliveryLoop:
    def __init__(
        self,
        uow: UnitOfWork,
        connector: Connector,
        clock: Callable[[], datetime],
        policy: RetryPolicy,
        on_committed: Callable[[], None] = lambda: None,
        *,
        concurrency: int = 32,
        poll_seconds: float = 0.5,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._uow = uow
        self._connector = connector
        self._clock = clock
        self._policy = policy
        self._on_committed = on_committed
        self._concurrency = concurrency
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._inflight: dict[asyncio.Task[GrantResult], PendingGrant] = {}
        self.recorded_total = 0

    def wake(self) -> None:
        """Look for due grants now: a transaction that may have written some committed."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        with contextlib.suppress(Stopping):
            while not stop.is_set():
                await self._step(stop)
        await self._finish()

    async def drain(self) -> int:
        """Send everything due now and record it (burst mode): how many were recorded."""
        recorded = 0
        while True:
            delivered, settled = await delivery_rounds.deliver_due(
                self._uow, self._connector, self._clock(), self._policy, self._concurrency
            )
            if not delivered:
                return recorded
            recorded += len(delivered)
            self._report(delivered, settled)

    async def _step(self, stop: asyncio.Event) -> None:
        free = self._concurrency - len(self._inflight)
        if free > 0:
            self._wake.clear()
            leased = await retry_transient(
                lambda: delivery_rounds.lease_due(self._uow, self._clock(), free, self._policy),
                what="deliveries.lease",
                stop=stop,
            )
            for pending in leased:
                task = asyncio.create_task(delivery_rounds.call(self._connector, pending))
                self._inflight[task] = pending
        done = await self._wait(stop)
        if done:
            finished = [(self._inflight.pop(task), task.result()) for task in done]
            await retry_transient(
                lambda: self._record(finished), what="deliveries.record", stop=stop
            )

    async def _wait(self, stop: asyncio.Event) -> set[asyncio.Task[GrantResult]]:
        """Until a call finishes, a commit may have written grants, or the poll interval."""
        waker = asyncio.ensure_future(self._wake.wait())
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait(
                {waker, stopper, *self._inflight},
                timeout=self._poll,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            waker.cancel()
            stopper.cancel()
        return {task for task in self._inflight if task.done()}

    async def _record(self, finished: list[tuple[PendingGrant, GrantResult]]) -> None:
        delivered, settled = await delivery_rounds.record(
            self._uow, finished, self._clock(), self._policy
        )
        self._report(delivered, settled)

    def _report(self, delivered: list[Delivered], settled: list[CommandOutcome]) -> None:
        self.recorded_total += len(delivered)
        if settled:
            self._on_committed()  # settling wrote events for the relay
        for item in delivered:
            grant = item.grant
            if self._metrics is not None:
                result = item.result.outcome.value
                self._metrics.grant_calls.labels(grant.origin_system, result).inc()
            log.info(
                "grant.attempted",
                request_id=str(grant.request_id),
                assignment_id=str(grant.assignment_id),
                resource_scope_id=grant.resource_scope_id,
                origin_system=grant.origin_system,
                outcome=item.result.outcome.value,
                state=grant.state,
                round=grant.attempts,
                calls=item.result.attempts,
                status=item.result.status,
                detail=item.result.detail,
                next_attempt_at=grant.next_attempt_at.isoformat()
                if grant.next_attempt_at
                else None,
            )
        for outcome in settled:
            log.info(
                "request.transitioned",
                request_id=str(outcome.request_id),
                causation_id=outcome.command_id,
                from_state=outcome.from_state,
                to_state=outcome.to_state,
            )

    async def _finish(self) -> None:
        if not self._inflight:
            return
        done, pending = await asyncio.wait(self._inflight, timeout=STOP_GRACE_SECONDS)
        for task in pending:
            task.cancel()
        finished = [(self._inflight[task], task.result()) for task in done]
        abandoned = [self._inflight[task] for task in pending]
        self._inflight.clear()
        try:
            if finished:
                await self._record(finished)
            released = await delivery_rounds.release(self._uow, abandoned, self._clock())
            if abandoned:
                log.info("deliveries.released", grants=released)
        except Exception as exc:  # nothing is lost: the leases run out, the grants go again
            log.warning("deliveries.stop_incomplete", error=repr(exc))
