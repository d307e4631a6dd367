"""The store contract: the same commands through ``handle_batch`` have the same observable
effect on the in-memory store and on PostgreSQL (every test runs against both)."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import orjson
import pytest
import yaml
from command_support import (
    ALEX,
    EXAMPLE_CATALOG,
    FINANCE_GROUP,
    ISAIAH,
    MEGAN,
    NOW,
    PATTI,
    SALES_GROUP,
    admin_remove,
    cancel,
    catalog_with_outside_resources,
    create,
    decide,
    finance_for_megan,
    rid,
    sales_for,
    stage_id,
)
from store_support import Harness

from accessflow.domain.catalog import load_catalog
from accessflow.domain.grant_states import GrantState
from accessflow.service.connectors import GrantResult
from accessflow.service.delivery_rounds import RetryPolicy, lease_due, record
from accessflow.service.events import (
    COMMAND_REJECTED,
    STATE_CHANGED,
    rejection_event_id,
    state_changed_event_id,
)
from accessflow.service.grants import assignment_id_for
from accessflow.service.handlers import CommandOutcome, handle_batch
from accessflow.service.ports import Changes
from accessflow.service.types import Item


async def run(harness: Harness, *items: Item) -> tuple[list[CommandOutcome], Changes]:
    return await handle_batch(items, harness.uow, NOW)


async def states_of(harness: Harness, request_id: uuid.UUID) -> list[str]:
    return [str(h.state) for h in await harness.probe.history_of(request_id)]


def payload(event_bytes: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(event_bytes)
    return parsed


def summary(outcomes: Sequence[CommandOutcome]) -> list[tuple[str, str, str | None]]:
    return [(o.command_id, o.outcome, o.reason_code) for o in outcomes]


async def test_auto_approved_create_is_delivered_with_three_events(harness: Harness) -> None:
    """Submitted → delivering → delivered: three history rows (1..3), three state-change
    events and the assignment's event, with deterministic ids, an assignment, a grant and
    the delivered group membership."""
    outcomes, _ = await run(harness, create("c1", rid(1), sales_for()))
    assert summary(outcomes) == [("c1", "handled", None)]
    history = await harness.probe.history_of(rid(1))
    assert [(h.sequence, str(h.state)) for h in history] == [
        (1, "submitted"),
        (2, "delivering"),
        (3, "delivered"),
    ]
    everything = await harness.probe.outbox_events()
    assert [e.event_type for e in everything] == [STATE_CHANGED] * 2 + [
        "accessflow.assignment.stateChanged",
        STATE_CHANGED,
    ]
    events = [e for e in everything if e.event_type == STATE_CHANGED]
    assert [e.event_id for e in events] == [state_changed_event_id(rid(1), n) for n in (1, 2, 3)]
    assert [payload(e.payload)["data"]["sequence"] for e in events] == [1, 2, 3]
    assignment_id = str(assignment_id_for(rid(1)))
    stored = await harness.probe.request(rid(1))
    assert stored is not None
    assert stored.assignment_id == assignment_id
    assert stored.sequence == 3
    assignment = await harness.probe.assignment(assignment_id)
    assert assignment is not None
    assert str(assignment.state) == "delivered"
    assert [g.state for g in await harness.probe.grants_of(assignment_id)] == ["delivered"]
    assert await harness.probe.members_of(SALES_GROUP, "accessflow") == {MEGAN}
    assert [p.command_id for p in await harness.probe.processed_commands()] == ["c1"]


async def test_a_command_id_twice_in_one_batch_has_one_effect(harness: Harness) -> None:
    """The second copy of a command in the same batch is a duplicate and writes nothing."""
    outcomes, _ = await run(
        harness, create("c1", rid(1), sales_for()), create("c1", rid(1), finance_for_megan())
    )
    # Outcomes list duplicates first (they are known before the batch is decided).
    assert sorted(summary(outcomes)) == [("c1", "duplicate", None), ("c1", "handled", None)]
    assert len(await harness.probe.history_of(rid(1))) == 3
    assert len(await harness.probe.outbox_events()) == 4  # 3 state changes + the assignment's


async def test_a_command_redelivered_in_a_later_batch_has_one_effect(harness: Harness) -> None:
    """A command id recorded by an earlier batch is a duplicate: no new rows, no events."""
    await run(harness, create("c1", rid(1), sales_for()))
    outcomes, changes = await run(harness, create("c1", rid(1), sales_for()))
    assert summary(outcomes) == [("c1", "duplicate", None)]
    assert not changes
    assert len(await harness.probe.history_of(rid(1))) == 3
    assert len(await harness.probe.outbox_events()) == 4  # 3 state changes + the assignment's


async def test_a_batch_that_fails_after_saving_leaves_no_trace(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``save`` wrote everything, then the batch raised: nothing is kept, and the same
    command is processed afresh afterwards (its id was not recorded)."""
    original = harness.store_class.save

    async def save_then_fail(self: Any, changes: Changes) -> None:
        await original(self, changes)
        raise RuntimeError("crash after the writes, before the commit")

    monkeypatch.setattr(harness.store_class, "save", save_then_fail)
    with pytest.raises(RuntimeError, match="crash after the writes"):
        await run(harness, create("c1", rid(1), sales_for()))
    assert await harness.probe.request(rid(1)) is None
    assert await harness.probe.history_of(rid(1)) == []
    assert await harness.probe.outbox_events() == []
    assert await harness.probe.processed_commands() == []
    assert await harness.probe.assignment(str(assignment_id_for(rid(1)))) is None
    assert await harness.probe.members_of(SALES_GROUP) == set()
    monkeypatch.undo()
    outcomes, _ = await run(harness, create("c1", rid(1), sales_for()))
    assert summary(outcomes) == [("c1", "handled", None)]


async def test_a_second_open_add_for_one_target_and_package_is_denied(harness: Harness) -> None:
    """In one batch and in a later one: the request already pending approval blocks another
    for the same target and package, which is denied ``ExistingOpenRequest``."""
    outcomes, _ = await run(
        harness,
        create("c1", rid(1), finance_for_megan()),
        create("c2", rid(2), finance_for_megan()),
    )
    assert [o.to_state for o in outcomes] == ["pendingApproval", "denied"]
    history = await harness.probe.history_of(rid(2))
    assert [str(h.state) for h in history] == ["submitted", "denied"]
    assert history[-1].reason is not None
    assert history[-1].reason["code"] == "ExistingOpenRequest"
    outcomes, _ = await run(harness, create("c3", rid(3), finance_for_megan()))
    assert outcomes[0].reason_code == "ExistingOpenRequest"
    assert await states_of(harness, rid(1)) == ["submitted", "pendingApproval"]


async def test_cancel_of_a_delivered_request_is_rejected(harness: Harness) -> None:
    """A delivered request cannot be canceled: a rejection event ``IllegalTransition``,
    keyed by the request, and the request is unchanged."""
    await run(harness, create("c1", rid(1), sales_for()))
    outcomes, _ = await run(harness, cancel("x1", rid(1)))
    assert summary(outcomes) == [("x1", "rejected", "IllegalTransition")]
    last = (await harness.probe.outbox_events())[-1]
    assert (last.event_id, last.event_type, last.key) == (
        rejection_event_id("x1"),
        COMMAND_REJECTED,
        str(rid(1)),
    )
    assert payload(last.payload)["data"]["reason"]["code"] == "IllegalTransition"
    assert await states_of(harness, rid(1)) == ["submitted", "delivering", "delivered"]
    processed = {p.command_id: p.outcome for p in await harness.probe.processed_commands()}
    assert processed["x1"] == "rejected:IllegalTransition"


async def test_two_stage_approval_approved_twice_is_delivered(harness: Harness) -> None:
    """Megan's manager approves stage 1, a finance approver stage 2: delivered, and Megan
    is in the finance group."""
    await run(harness, create("c1", rid(1), finance_for_megan()))
    stored = await harness.probe.request(rid(1))
    assert stored is not None
    assert stored.approval is not None
    assert [s.id for s in stored.approval.stages] == [
        stage_id(rid(1), 0),
        stage_id(rid(1), 1),
    ]
    first, _ = await run(harness, decide("d1", rid(1), stage_id(rid(1), 0), ALEX))
    assert summary(first) == [("d1", "handled", None)]
    second, _ = await run(harness, decide("d2", rid(1), stage_id(rid(1), 1), ISAIAH))
    assert summary(second) == [("d2", "handled", None)]
    assert await states_of(harness, rid(1)) == [
        "submitted",
        "pendingApproval",
        "delivering",
        "delivered",
    ]
    stored = await harness.probe.request(rid(1))
    assert stored is not None
    assert stored.approval is not None
    assert [s.review_result for s in stored.approval.stages] == ["Approved", "Approved"]
    assert await harness.probe.members_of(FINANCE_GROUP) == {MEGAN}


async def test_two_stage_approval_approved_then_denied_is_denied(harness: Harness) -> None:
    """Stage 1 approves, stage 2 denies: the request is denied ``ApproverDenied``, nothing
    is assigned, and a new request for the same package is no longer blocked."""
    await run(harness, create("c1", rid(1), finance_for_megan()))
    await run(harness, decide("d1", rid(1), stage_id(rid(1), 0), ALEX))
    outcomes, _ = await run(harness, decide("d2", rid(1), stage_id(rid(1), 1), ISAIAH, "Deny"))
    assert [o.to_state for o in outcomes] == ["denied"]
    history = await harness.probe.history_of(rid(1))
    assert [str(h.state) for h in history] == ["submitted", "pendingApproval", "denied"]
    assert history[-1].reason is not None
    assert history[-1].reason["code"] == "ApproverDenied"
    assert await harness.probe.assignment(str(assignment_id_for(rid(1)))) is None
    assert await harness.probe.members_of(FINANCE_GROUP) == set()
    again, _ = await run(harness, create("c2", rid(2), finance_for_megan()))
    assert [o.to_state for o in again] == ["pendingApproval"]


async def test_admin_remove_expires_the_assignment_and_revokes_membership(
    harness: Harness,
) -> None:
    """``adminRemove`` of a delivered assignment: delivered removal, the assignment expired,
    its grants revoked and the delivered membership gone."""
    await run(harness, create("c1", rid(1), sales_for()))
    assignment_id = str(assignment_id_for(rid(1)))
    outcomes, _ = await run(
        harness, create("c2", rid(2), admin_remove(assignment_id), requestor=PATTI, admin=True)
    )
    assert summary(outcomes) == [("c2", "handled", None)]
    assert await states_of(harness, rid(2)) == ["submitted", "delivering", "delivered"]
    assignment = await harness.probe.assignment(assignment_id)
    assert assignment is not None
    assert str(assignment.state) == "expired"
    assert [g.state for g in await harness.probe.grants_of(assignment_id)] == ["revoked"]
    assert await harness.probe.members_of(SALES_GROUP) == set()
    again, _ = await run(harness, create("c3", rid(3), sales_for()))
    assert [o.to_state for o in again] == ["delivered"]


async def test_granted_and_removed_in_one_batch_ends_removed(harness: Harness) -> None:
    """The create and the removal of its assignment in one batch: the writes must land in
    that order (PostgreSQL writes a batch's rows in one statement and its revokes after)."""
    assignment_id = str(assignment_id_for(rid(1)))
    outcomes, _ = await run(
        harness,
        create("c1", rid(1), sales_for()),
        create("c2", rid(2), admin_remove(assignment_id), requestor=PATTI, admin=True),
    )
    assert [(o.command_id, o.to_state) for o in outcomes] == [
        ("c1", "delivered"),
        ("c2", "delivered"),
    ]
    assignment = await harness.probe.assignment(assignment_id)
    assert assignment is not None
    assert str(assignment.state) == "expired"
    assert [g.state for g in await harness.probe.grants_of(assignment_id)] == ["revoked"]
    assert await harness.probe.members_of(SALES_GROUP) == set()


async def test_a_removal_finds_the_assignment_whatever_the_id_case(harness: Harness) -> None:
    """Graph ids are GUIDs compared case-insensitively (domain.catalog.fold): an
    ``adminRemove`` naming the assignment in upper case removes it like the lower-case one."""
    await run(harness, create("c1", rid(1), sales_for()))
    remove = admin_remove(str(assignment_id_for(rid(1))).upper())
    outcomes, _ = await run(harness, create("c2", rid(2), remove, requestor=PATTI, admin=True))
    assert (outcomes[0].to_state, outcomes[0].reason_code) == ("delivered", None)
    assert await harness.probe.members_of(SALES_GROUP) == set()


async def test_a_catalog_membership_survives_the_removal(harness: Harness) -> None:
    """Megan is in the Sales group by the catalog file too: removing her delivered access
    takes away the delivered membership only."""
    document = yaml.safe_load(EXAMPLE_CATALOG.read_text(encoding="utf-8"))
    edited = copy.deepcopy(document)
    for group in edited["groups"]:
        if group["id"] == SALES_GROUP:
            group["members"] = [MEGAN]
    await harness.apply_catalog(load_catalog(edited))
    await run(harness, create("c1", rid(1), sales_for()))
    assert await harness.probe.members_of(SALES_GROUP, "accessflow") == {MEGAN}
    remove = admin_remove(str(assignment_id_for(rid(1))))
    await run(harness, create("c2", rid(2), remove, requestor=PATTI, admin=True))
    assert await harness.probe.members_of(SALES_GROUP, "accessflow") == set()
    assert await harness.probe.members_of(SALES_GROUP, "catalog") == {MEGAN}


async def test_outside_grants_wait_lease_and_settle_alike(harness: Harness) -> None:
    """A grant for an outside system is written pending; a lease hides it until the lease
    ends; its result settles the request. The same rows, leases and events on both."""
    await harness.apply_catalog(catalog_with_outside_resources("SaasApp", "Other"))
    await run(harness, create("c1", rid(1), sales_for()))
    assert await states_of(harness, rid(1)) == ["submitted", "delivering"]
    policy = RetryPolicy()
    leased = await lease_due(harness.uow, NOW, 1, policy)
    assert [p.grant.resource_scope_id for p in leased] == ["Other-scope"]  # due, then by id
    assert (leased[0].target_id, leased[0].grant.role_origin_id) == (MEGAN, "Other-reader")
    [second] = await lease_due(harness.uow, NOW, 10, policy)
    assert await lease_due(harness.uow, NOW + timedelta(seconds=1), 10, policy) == []
    results = [(leased[0], GrantResult.succeeded()), (second, GrantResult.failed("403"))]
    delivered, settled = await record(harness.uow, results, NOW, policy)
    assert [d.grant.state for d in delivered] == [GrantState.DELIVERED, GrantState.FAILED]
    assert [(s.from_state, s.to_state) for s in settled] == [("delivering", "partiallyDelivered")]
    grants = await harness.probe.grants_of(str(assignment_id_for(rid(1))))
    assert [(g.resource_scope_id, g.state, g.detail, g.attempts) for g in grants] == [
        ("Other-scope", "delivered", None, 1),
        ("SaasApp-scope", "failed", "403", 1),
    ]
    assert all(g.next_attempt_at is None and g.request_id == rid(1) for g in grants)
