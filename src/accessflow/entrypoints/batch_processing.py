"""One partition's records: decode, handle in one transaction, log one line per command.

Errors are sorted here, the worker's one place for it: undecodable bytes (or bytes the
decoder itself fails on) → DLQ; a command the domain refuses → rejection event (inside the
handlers); a database or broker outage → raised, so the worker retries the batch with
backoff; anything else (a lost race with another worker, a bug, a value PostgreSQL refuses)
→ the batch is retried one command at a time, each re-reading what it decides on, and a
command that still fails after ``poison_attempts`` tries goes to the DLQ with a rejection
event (the DLQ entry alone if the rejection fails too), so one bad command never blocks
its partition.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import asyncpg
from opentelemetry.trace import SpanKind

from accessflow import tracing
from accessflow.adapters.kafka.dlq import DeadLetter
from accessflow.domain.states import DEFAULT_REPROCESS_WINDOW
from accessflow.entrypoints.decode import Decoded, dead_letter, decode
from accessflow.entrypoints.observability import Metrics
from accessflow.entrypoints.retry import is_transient
from accessflow.entrypoints.worker import PollResult
from accessflow.logs import get_logger
from accessflow.service.broker import Record
from accessflow.service.events import RejectionReason
from accessflow.service.handlers import CommandOutcome, handle_batch
from accessflow.service.ports import UnitOfWork
from accessflow.service.types import Item, Rejected

log = get_logger("accessflow.worker")


class CommandProcessor:
    def __init__(
        self,
        uow: UnitOfWork,
        metrics: Metrics,
        clock: Callable[[], datetime],
        *,
        max_command_bytes: int = 1_000_000,
        reprocess_window: timedelta = DEFAULT_REPROCESS_WINDOW,
        poison_attempts: int = 3,
        on_waiting_grants: Callable[[], None] = lambda: None,
    ) -> None:
        # Called after a commit that wrote grants for an outside connector, so the delivery
        # loop looks for them now; batches of groups only (the hot path) do not wake it.
        self._on_waiting_grants = on_waiting_grants
        self._uow = uow
        self._metrics = metrics
        self._clock = clock
        self._max_bytes = max_command_bytes
        self._reprocess_window = reprocess_window
        self._poison_attempts = poison_attempts
        self._records: dict[tuple[int, int], Record] = {}

    async def process(self, records: list[Record]) -> PollResult:
        """Apply one poll's records (of any partitions, each partition's in order) in one
        transaction: a handful of round trips for the whole poll rather than per partition,
        which is most of a small batch's time."""
        started = time.perf_counter()
        started_ns = time.time_ns()
        result = PollResult()
        self._records = {(record.partition, record.offset): record for record in records}
        items: list[Item] = []
        for record in records:
            decoded = self._decode(record)
            if isinstance(decoded, DeadLetter):
                result.dead_letters.append(decoded)
                log.warning(
                    "command.dead_lettered",
                    partition=record.partition,
                    offset=record.offset,
                    code=decoded.code,
                    error=decoded.message,
                )
            else:
                items.append(decoded)
        if items:
            try:
                outcomes = await self._handle(items)
            except Exception as exc:
                if is_transient(exc):
                    raise
                outcomes = await self._one_by_one(items, result, exc)
            result.committed_effects = True
            self._report(outcomes, started)
            if tracing.enabled():
                _trace(items, outcomes, started_ns)
            now_ms = time.time() * 1000
            for item in items:
                self._metrics.latency.observe(max(0.0, now_ms - item.timestamp_ms) / 1000)
        return result

    def _decode(self, record: Record) -> Decoded:
        try:
            return decode(record, self._max_bytes)
        except Exception as exc:  # a parser bug or a limit it hit (recursion, memory)
            return dead_letter(record, "ProcessingFailed", f"{type(exc).__name__}: {exc}")

    async def _handle(self, items: list[Item]) -> list[CommandOutcome]:
        outcomes, changes = await handle_batch(
            items, self._uow, self._clock(), reprocess_window=self._reprocess_window
        )
        if any(grant.waiting for grant in changes.grants):
            self._on_waiting_grants()
        # Committed: one line per transition, for whoever follows a single request.
        lines = log.bind()  # resolved once per batch, not once per line (see _report)
        for entry in changes.history:
            lines.info(
                "request.transitioned",
                request_id=str(entry.request_id),
                sequence=entry.sequence,
                from_state=entry.previous_state,
                to_state=entry.state,
                status=entry.status,
                reason_code=entry.reason.get("code") if entry.reason else None,
                causation_id=entry.causation_id,
            )
        return outcomes

    async def _one_by_one(
        self, items: list[Item], result: PollResult, first: Exception
    ) -> list[CommandOutcome]:
        # A lost race is retried alone too: each command re-reads the world and decides again.
        (log.warning if _is_race(first) else log.error)(
            "batch.failed", error=f"{type(first).__name__}: {first}", size=len(items)
        )
        outcomes: list[CommandOutcome] = []
        for item in items:
            for attempt in range(1, self._poison_attempts + 1):
                try:
                    outcomes.extend(await self._handle([item]))
                    break
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    if attempt == self._poison_attempts:
                        outcomes.extend(await self._poisoned(item, exc, result))
                    else:
                        await asyncio.sleep(0.05 * 2**attempt)
        return outcomes

    async def _poisoned(
        self, item: Item, exc: Exception, result: PollResult
    ) -> list[CommandOutcome]:
        """Kept failing for a reason no retry fixes: DLQ the bytes, reject the command."""
        message = f"{type(exc).__name__}: {exc}"
        log.error("command.poisoned", command_id=item.id, offset=item.offset, error=message)
        record = self._records[(item.partition, item.offset)]
        result.dead_letters.append(dead_letter(record, "ProcessingFailed", message))
        reason = RejectionReason(code="ProcessingFailed", message=message[:500])
        rejected = Rejected(
            item.id,
            item.type,
            item.request_id,
            item.traceparent,
            reason,
            item.partition,
            item.offset,
            item.timestamp_ms,
        )
        try:
            return await self._handle([rejected])
        except Exception as exc:
            if is_transient(exc):
                raise
            # What fails may be in the rejection too (its command id, say): the DLQ entry
            # alone records the command then.
            log.error("command.rejection_failed", command_id=item.id, error=repr(exc))
            return []

    def _report(self, outcomes: list[CommandOutcome], started: float) -> None:
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        # The module's logger is a lazy proxy that looks up the configuration on every call
        # (≈ 40 % of a line's cost); a batch logs several lines per command.
        lines = log.bind()
        for o in outcomes:
            self._metrics.commands.labels(o.command_type, o.outcome).inc()
            for state in o.transitions:
                self._metrics.transitions.labels(state).inc()
            event = {"rejected": "command.rejected", "duplicate": "command.duplicate"}.get(
                o.outcome, "command.handled"
            )
            lines.info(
                event,
                command_id=o.command_id,
                request_id=str(o.request_id),
                type=o.command_type,
                from_state=o.from_state,
                to_state=o.to_state,
                transitions=o.transitions,
                reason_code=o.reason_code,
                partition=o.partition,
                offset=o.offset,
                batch_duration_ms=duration_ms,
            )


def _trace(items: list[Item], outcomes: list[CommandOutcome], started_ns: int) -> None:
    """A span per command, child of the ``traceparent`` it arrived with, spanning its batch
    (the unit that decided and committed it)."""
    traceparents = {item.id: item.traceparent for item in items}
    ended_ns = time.time_ns()
    for o in outcomes:
        attributes: dict[str, str | int] = {
            tracing.REQUEST_ID: str(o.request_id),
            tracing.COMMAND_TYPE: o.command_type,
            tracing.OUTCOME: o.outcome,
            "messaging.kafka.destination.partition": o.partition,
            "messaging.kafka.offset": o.offset,
        }
        if o.to_state:
            attributes["accessflow.to_state"] = o.to_state
        tracing.record_span(
            "command.handle",
            traceparent=traceparents.get(o.command_id),
            start_ns=started_ns,
            end_ns=ended_ns,
            attributes=attributes,
            kind=SpanKind.CONSUMER,
        )


def _is_race(exc: Exception) -> bool:
    """Another worker committed a conflicting row first (a rebalance overlap, or two open
    requests for one target and package on different partitions): retrying the batch
    re-reads the world and decides again, so this is retried like an outage."""
    return isinstance(exc, asyncpg.UniqueViolationError | asyncpg.ExclusionViolationError)
