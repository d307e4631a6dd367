"""Command handlers: one batch of decoded commands in, one :class:`Changes` out.

The batch is read in a few bulk calls (which commands were already processed, the requests
it touches, the slice of the directory it needs), decided in memory in order, and written
in one transaction by the store. A command id seen before, in an earlier batch or earlier
in this one, changes nothing: that is the exactly-once effect under redelivery.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from accessflow.domain import states
from accessflow.domain.errors import DomainError
from accessflow.service.commands import CancelData, CreateData, DecideData, ReprocessData
from accessflow.service.create_handler import CreateHandler, create_lookups
from accessflow.service.events import ReasonDetail, RejectionReason
from accessflow.service.fulfil import Fulfilment
from accessflow.service.lifecycle import LifecycleHandler
from accessflow.service.ports import BatchStore, Changes, StoredRequest, UnitOfWork
from accessflow.service.recorder import Recorder
from accessflow.service.types import Command, Item, Rejected, TimerFired


@dataclass
class CommandOutcome:
    """What became of one command: for the canonical log line and the metrics."""

    command_id: str
    command_type: str
    request_id: uuid.UUID
    partition: int
    offset: int
    outcome: str  # handled | rejected | duplicate | fired
    from_state: str | None = None
    to_state: str | None = None
    reason_code: str | None = None
    transitions: list[str] = field(default_factory=list)


async def handle_batch(
    items: Sequence[Item],
    uow: UnitOfWork,
    now: datetime,
    *,
    reprocess_window: timedelta = states.DEFAULT_REPROCESS_WINDOW,
) -> tuple[list[CommandOutcome], Changes]:
    """Apply ``items`` in order in one transaction; returns what happened to each."""
    async with uow.batch() as store:
        return await _in_transaction(store, items, now, Changes(), reprocess_window)


async def handle_due_timers(
    uow: UnitOfWork, now: datetime, limit: int = 200
) -> tuple[list[CommandOutcome], Changes]:
    """Fire the timers due by ``now``: claim, apply and mark fired in one transaction, so a
    crash in between re-fires them and an effect never happens twice."""
    async with uow.batch() as store:
        timers = await store.claim_due_timers(now, limit)
        if not timers:
            return [], Changes()
        items = [TimerFired(f"timer:{t.id}", t.request_id, t.kind, t.payload) for t in timers]
        changes = Changes(timers_fired=[t.id for t in timers])
        return await _in_transaction(store, items, now, changes)


async def _in_transaction(
    store: BatchStore,
    items: Sequence[Item],
    now: datetime,
    changes: Changes,
    reprocess_window: timedelta = states.DEFAULT_REPROCESS_WINDOW,
) -> tuple[list[CommandOutcome], Changes]:
    seen = await store.processed_ids({item.id for item in items})
    fresh: list[Item] = []
    duplicates: set[int] = set()
    for index, item in enumerate(items):
        if item.id in seen:
            duplicates.add(index)
            continue
        seen.add(item.id)
        fresh.append(item)
    requests = await store.load_requests({item.request_id for item in fresh})
    users, mails, assignment_ids = _wanted(fresh, requests)
    view = await store.view(users, mails, assignment_ids)
    recorder = Recorder(changes, now)
    # Grant rows only for existing assignments (removals, reprocesses, expiries): a plain
    # create, the hot path, costs no extra query.
    fulfil = Fulfilment(recorder, view, await store.grants_of(assignment_ids))
    create = CreateHandler(recorder, view, requests, fulfil)
    lifecycle = LifecycleHandler(recorder, view, requests, fulfil, reprocess_window)
    applied = iter([_apply(item, recorder, create, lifecycle, requests) for item in fresh])
    await store.save(changes)
    # In input order, duplicates included, for the log lines and the metrics.
    outcomes = [
        _outcome(item, "duplicate") if index in duplicates else next(applied)
        for index, item in enumerate(items)
    ]
    return outcomes, changes


def _apply(
    item: Item,
    recorder: Recorder,
    create: CreateHandler,
    lifecycle: LifecycleHandler,
    requests: dict[uuid.UUID, StoredRequest],
) -> CommandOutcome:
    existing = requests.get(item.request_id)
    before = existing.request.state.value if existing else None
    history_mark = len(recorder.changes.history)
    try:
        if isinstance(item, Rejected):
            raise _Reject(item.reason)
        if isinstance(item, TimerFired):
            lifecycle.timer(item)
        else:
            _dispatch(item, create, lifecycle)
    except _Reject as reject:
        return _rejected(item, recorder, reject.reason, before)
    except DomainError as error:
        reason = RejectionReason(
            code=error.code.value,
            message=error.message,
            details=[ReasonDetail(target=d.path or None, message=d.message) for d in error.details],
        )
        return _rejected(item, recorder, reason, before)
    kind = "fired" if isinstance(item, TimerFired) else "handled"
    recorder.processed(item.id, item.type, item.request_id, kind)
    entered = [str(h.state) for h in recorder.changes.history[history_mark:]]
    outcome = _outcome(item, kind, before, _state_of(requests, item.request_id))
    outcome.transitions = entered
    last = recorder.changes.history[-1] if entered else None
    if last is not None and last.reason:
        outcome.reason_code = str(last.reason.get("code"))
    return outcome


def _dispatch(item: Command, create: CreateHandler, lifecycle: LifecycleHandler) -> None:
    data = item.data
    if isinstance(data, CreateData):
        create.handle(item, data)
    elif isinstance(data, CancelData):
        lifecycle.cancel(item, data)
    elif isinstance(data, ReprocessData):
        lifecycle.reprocess(item, data)
    elif isinstance(data, DecideData):
        lifecycle.decide(item, data)


class _Reject(Exception):  # noqa: N818 - internal control flow, not an error
    def __init__(self, reason: RejectionReason) -> None:
        self.reason = reason


def _rejected(
    item: Item, recorder: Recorder, reason: RejectionReason, before: str | None
) -> CommandOutcome:
    recorder.rejected(item.id, item.type, item.request_id, reason, item.traceparent)
    outcome = _outcome(item, "rejected", before, before)
    outcome.reason_code = reason.code
    return outcome


def _state_of(requests: dict[uuid.UUID, StoredRequest], request_id: uuid.UUID) -> str | None:
    stored = requests.get(request_id)
    return stored.request.state.value if stored else None


def _outcome(
    item: Item, outcome: str, before: str | None = None, after: str | None = None
) -> CommandOutcome:
    return CommandOutcome(
        item.id, item.type, item.request_id, item.partition, item.offset, outcome, before, after
    )


def _wanted(
    items: Sequence[Item], requests: dict[uuid.UUID, StoredRequest]
) -> tuple[set[str], set[str], set[str]]:
    """The user ids, mails and assignment ids the batch's rules may look up."""
    users: set[str] = set()
    mails: set[str] = set()
    assignments: set[str] = set()
    for item in items:
        if not isinstance(item, Command):
            continue
        data = item.data
        if isinstance(data, CreateData):
            wanted = create_lookups(data.requestor.object_id, data.request)
            for into, ids in zip((users, mails, assignments), wanted, strict=True):
                into.update(ids)
        elif isinstance(data, DecideData):
            users.add(data.reviewer.object_id)
        else:
            users.add(data.requestor.object_id)
    for stored in requests.values():
        users.update(x for x in (stored.target_id, stored.requestor_id) if x)
        if stored.assignment_id:
            assignments.add(stored.assignment_id)
    return users, mails, assignments


__all__ = ["CommandOutcome", "handle_batch", "handle_due_timers", "states"]
