"""What the relay does with the outcome of one batch: delete what the broker acknowledged,
park what it will never accept and what waits behind that, leave the rest for the next try.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from opentelemetry.trace import SpanKind

from accessflow import tracing
from accessflow.adapters.kafka.batches import Delivery, SendReport
from accessflow.adapters.kafka.errors import refusal
from accessflow.adapters.postgres import outbox, parked
from accessflow.adapters.postgres.outbox import OutboxRow
from accessflow.adapters.postgres.pool import Conn
from accessflow.entrypoints.observability import Metrics
from accessflow.logs import get_logger

log = get_logger("accessflow.entrypoints.relay")


@dataclass(frozen=True, slots=True)
class Settlement:
    """One batch's rows by what becomes of them; a row in none of these stays unpublished."""

    sent: list[int]
    refused: list[parked.Parking]
    behind: list[parked.Parking]


def settlement(rows: Sequence[OutboxRow], report: SendReport) -> Settlement:
    """Sort ``rows`` by ``report``, which covers the rows that were not blocked, in order.
    A blocked row (an earlier event of its request is parked) was not sent: it goes behind."""
    sendable = [row for row in rows if not row.blocked]
    sent, refused, behind = [], [], []
    for index, row in enumerate(sendable):
        delivery = report.deliveries[index]
        if delivery is Delivery.SENT:
            sent.append(row.id)
        elif delivery is Delivery.REFUSED:
            error = report.errors[index]
            found = refusal(error)
            reason = found.value if found is not None else type(error).__name__
            refused.append(parked.Parking(row.id, reason, str(error) or type(error).__name__))
        elif delivery is Delivery.BEHIND_REFUSED:
            behind.append(row)
    behind += [row for row in rows if row.blocked]
    return Settlement(
        sent,
        refused,
        sorted(
            (parked.Parking(row.id, parked.BEHIND_PARKED, _behind(row)) for row in behind),
            key=lambda p: p.outbox_id,
        ),
    )


async def settle(
    conn: Conn,
    schema: str,
    rows: Sequence[OutboxRow],
    outcome: Settlement,
    metrics: Metrics | None,
) -> list[int]:
    """Make ``outcome`` so: delete the sent rows, and park the others (one transaction).
    Returns the ids parked; each is logged (``event.parked``) and counted."""
    if not outcome.refused and not outcome.behind:  # the usual case: no transaction needed
        if outcome.sent:
            await outbox.delete_published(conn, outcome.sent)
        return []
    parked_ids = await parked.settle(
        conn, schema, sent=outcome.sent, refused=outcome.refused, behind=outcome.behind
    )
    why = {p.outbox_id: p for p in [*outcome.refused, *outcome.behind]}
    chosen = set(parked_ids)
    for row in rows:
        if row.id in chosen:
            _report(row, why[row.id], metrics)
    return parked_ids


def _report(row: OutboxRow, parking: parked.Parking, metrics: Metrics | None) -> None:
    log.error(
        "event.parked",
        request_id=row.key,
        event_id=row.event_id,
        event_type=row.event_type,
        outbox_id=row.id,
        size=len(row.payload),
        reason=parking.reason,
        error=parking.error_message,
    )
    if metrics is not None:
        metrics.events_parked.labels(reason=parking.reason).inc()


def _behind(row: OutboxRow) -> str:
    return f"an earlier event of {row.key} is parked; this one goes after it, never before"


def trace(rows: Sequence[OutboxRow], outcome: Settlement, started_ns: int) -> None:
    """A span per event published or parked, child of the ``traceparent`` the event carries
    (its command's), so a trace reaches the topic its consumers read."""
    ended_ns = time.time_ns()
    fate = dict.fromkeys(outcome.sent, "published")
    fate.update({p.outbox_id: "parked" for p in [*outcome.refused, *outcome.behind]})
    for row in rows:
        if row.id not in fate:
            continue
        traceparent = orjson.loads(row.payload).get("traceparent")
        tracing.record_span(
            "event.publish",
            traceparent=traceparent if isinstance(traceparent, str) else None,
            start_ns=started_ns,
            end_ns=ended_ns,
            attributes={
                tracing.REQUEST_ID: row.key,
                "accessflow.event_type": row.event_type,
                "accessflow.event_id": row.event_id,
                tracing.OUTCOME: fate[row.id],
            },
            kind=SpanKind.PRODUCER,
            error="parked" if fate[row.id] == "parked" else None,
        )
