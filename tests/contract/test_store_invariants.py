"""The store's own guarantees, written straight through ``save``: the constraints of the
migrations hold on both adapters (same constraint names), a refused or abandoned batch
leaves nothing, and what a batch reads is a copy that later mutation cannot reach."""

from __future__ import annotations

import uuid

import pytest
from command_support import FINANCE, KAYO, MEGAN, NOW, rid
from store_support import Harness

from accessflow.domain.approval_states import ApprovalRecord, StageRecord, expire
from accessflow.domain.enums import ApprovalStageStatus, RequestState, RequestType
from accessflow.domain.grant_states import GrantState
from accessflow.domain.models.requests import AccessPackageAssignmentRequest
from accessflow.domain.states import default_status
from accessflow.service.ports import (
    Changes,
    Grant,
    HistoryEntry,
    OutboxEvent,
    ProcessedCommand,
    StoredRequest,
)


def stored(
    request_id: uuid.UUID,
    *,
    target: str = MEGAN,
    state: RequestState = RequestState.SUBMITTED,
    kind: RequestType = RequestType.USER_ADD,
) -> StoredRequest:
    request = AccessPackageAssignmentRequest(
        id=str(request_id),
        request_type=kind,
        state=state,
        status=default_status(state),
        created_date_time=NOW,
    )
    return StoredRequest(request, 1, target, FINANCE, target, None, is_new=True)


def history(request_id: uuid.UUID, sequence: int = 1) -> HistoryEntry:
    return HistoryEntry(request_id, sequence, None, "submitted", "Accepted", None, "c1", NOW)


def event(n: int) -> OutboxEvent:
    return OutboxEvent(uuid.UUID(int=n), "accessflow.test", "key", b"{}")


def processed(command_id: str) -> ProcessedCommand:
    return ProcessedCommand(command_id, "accessflow.test", None, "handled")


async def save(harness: Harness, changes: Changes) -> None:
    async with harness.uow.batch() as store:
        await store.save(changes)


async def refused(harness: Harness, changes: Changes, constraint: str) -> None:
    with pytest.raises(harness.integrity_errors) as caught:
        await save(harness, changes)
    assert getattr(caught.value, "constraint_name", None) == constraint


async def test_two_open_add_requests_for_one_target_and_package_are_refused(
    harness: Harness,
) -> None:
    """In one save, or one after another; neither is kept when the save is refused."""
    both = {rid(1): stored(rid(1)), rid(2): stored(rid(2))}
    await refused(harness, Changes(requests=both), "assignment_requests_one_open_add")
    assert await harness.probe.request(rid(1)) is None
    await save(harness, Changes(requests={rid(1): stored(rid(1))}))
    await refused(
        harness, Changes(requests={rid(2): stored(rid(2))}), "assignment_requests_one_open_add"
    )


async def test_an_open_add_is_allowed_beside_closed_or_other_requests(harness: Harness) -> None:
    """The rule covers open add requests of the same target and package only."""
    await save(harness, Changes(requests={rid(1): stored(rid(1))}))
    await save(
        harness,
        Changes(
            requests={
                rid(1): stored(rid(1), state=RequestState.DENIED),
                rid(2): stored(rid(2)),
                rid(3): stored(rid(3), target=KAYO),
                rid(4): stored(rid(4), state=RequestState.CANCELED),
                rid(5): stored(rid(5), kind=RequestType.USER_UPDATE),
            }
        ),
    )
    for n in (1, 2, 3, 4, 5):
        assert await harness.probe.request(rid(n)) is not None


async def test_a_request_needs_a_status_and_a_creation_time(harness: Harness) -> None:
    """Columns the database keeps NOT NULL are required by the fake too."""
    for column in ("status", "created_date_time"):
        incomplete = stored(rid(1))
        incomplete.request = incomplete.request.model_copy(update={column: None})
        with pytest.raises(harness.integrity_errors) as caught:
            await save(harness, Changes(requests={rid(1): incomplete}))
        assert caught.value.column_name == column.replace("_date_time", "_at")
    assert await harness.probe.request(rid(1)) is None


async def test_a_command_id_is_recorded_once(harness: Harness) -> None:
    await save(harness, Changes(processed=[processed("c1")]))
    await refused(harness, Changes(processed=[processed("c1")]), "processed_commands_pkey")
    await refused(
        harness, Changes(processed=[processed("c2"), processed("c2")]), "processed_commands_pkey"
    )
    assert [p.command_id for p in await harness.probe.processed_commands()] == ["c1"]


async def test_a_history_sequence_is_written_once_per_request(harness: Harness) -> None:
    requests = {rid(1): stored(rid(1))}
    await refused(
        harness,
        Changes(requests=requests, history=[history(rid(1)), history(rid(1))]),
        "request_history_pkey",
    )
    await refused(harness, Changes(history=[history(rid(9))]), "request_history_request_id_fkey")
    await refused(
        harness,
        Changes(requests=requests, history=[history(rid(1), 0)]),
        "request_history_sequence_check",
    )


async def test_an_event_id_enters_the_outbox_once(harness: Harness) -> None:
    await save(harness, Changes(outbox=[event(1)]))
    await refused(harness, Changes(outbox=[event(2), event(1)]), "outbox_event_id_key")
    assert [e.event_id for e in await harness.probe.outbox_events()] == [uuid.UUID(int=1)]


async def test_a_grant_needs_its_assignment(harness: Harness) -> None:
    grant = Grant(uuid.UUID(int=7), "scope", "AadGroup", "group", GrantState.DELIVERED)
    await refused(harness, Changes(grants=[grant]), "grants_assignment_id_fkey")


async def test_a_save_refused_midway_keeps_none_of_its_writes(harness: Harness) -> None:
    """The request and history are written before the outbox row that is refused."""
    await save(harness, Changes(outbox=[event(1)]))
    changes = Changes(
        requests={rid(1): stored(rid(1))},
        history=[history(rid(1))],
        processed=[processed("c1")],
        outbox=[event(1)],
    )
    await refused(harness, changes, "outbox_event_id_key")
    assert await harness.probe.request(rid(1)) is None
    assert await harness.probe.history_of(rid(1)) == []
    assert await harness.probe.processed_commands() == []


async def test_a_batch_sees_its_own_writes_before_the_commit(harness: Harness) -> None:
    async with harness.uow.batch() as store:
        await store.save(Changes(requests={rid(1): stored(rid(1))}, processed=[processed("c1")]))
        assert await store.processed_ids(["c1", "c2"]) == {"c1"}
        assert set(await store.load_requests([rid(1), rid(2)])) == {rid(1)}


APPROVAL = ApprovalRecord(
    str(rid(1)),
    (
        StageRecord(
            id="stage-0",
            index=0,
            approvers=(KAYO,),
            escalation_approvers=(),
            justification_required=False,
            duration_before_automatic_denial=None,
            duration_before_escalation=None,
            deny_after_seconds=None,
            escalate_after_seconds=None,
            status=ApprovalStageStatus.IN_PROGRESS,
        ),
    ),
)


async def test_mutating_what_a_batch_read_changes_nothing_stored(harness: Harness) -> None:
    """Requests handed out are copies: changes to them reach the store only through
    ``save``, as they were at that moment."""
    original = stored(rid(1))
    original.approval = APPROVAL
    await save(harness, Changes(requests={rid(1): original}))
    async with harness.uow.batch() as store:
        loaded = (await store.load_requests([rid(1)]))[rid(1)]
        assert loaded.approval is not None
        loaded.approval = expire(loaded.approval, loaded.approval.stages[0])
        loaded.request = loaded.request.model_copy(update={"state": RequestState.DENIED})
        loaded.sequence = 9
    async with harness.uow.batch() as store:
        saved = stored(rid(1), state=RequestState.PENDING_APPROVAL)
        await store.save(Changes(requests={rid(1): saved}))
        saved.sequence = 5
        saved.request = saved.request.model_copy(update={"state": RequestState.DENIED})
    kept = await harness.probe.request(rid(1))
    assert kept is not None
    assert (kept.request.state, kept.sequence, kept.approval) == (
        RequestState.PENDING_APPROVAL,
        1,
        None,
    )
    assert original.approval == APPROVAL
