"""Durable timers, on both stores: scheduled starts, approval escalation and automatic
denial fire once, at their time (the clock is moved, never slept), and not at all when the
request has moved on."""

from __future__ import annotations

from datetime import timedelta

from command_support import (
    ALEX,
    MEGAN,
    NESTOR,
    NOW,
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

from accessflow.service.connectors import GrantResult
from accessflow.service.delivery_rounds import RetryPolicy, lease_due, record
from accessflow.service.expiry import EXPIRY_RETRY
from accessflow.service.grants import assignment_id_for
from accessflow.service.handlers import handle_batch, handle_due_timers

FALCON = "5b98f958-0dea-4a5b-836e-109dccbd530c"
FALCON_POLICY = "c5f7847f-83a8-4315-a754-d94a6f39b875"


def falcon_from(start: str) -> dict[str, object]:
    return {
        "requestType": "userAdd",
        "schedule": {"startDateTime": start},
        "assignment": {
            "accessPackageId": FALCON,
            "assignmentPolicyId": FALCON_POLICY,
            "targetId": MEGAN,
        },
    }


async def _states(harness: Harness, request_id) -> list[tuple[str, str]]:
    return [(str(h.state), h.status) for h in await harness.probe.history_of(request_id)]


async def test_a_scheduled_start_fires_once_at_its_time(harness: Harness) -> None:
    """scheduled (PendingNotBefore) until the start; at the start delivering → delivered;
    firing again changes nothing."""
    start = NOW + timedelta(hours=1)
    await handle_batch([create("c1", rid(1), falcon_from(start.isoformat()))], harness.uow, NOW)
    assert await _states(harness, rid(1)) == [
        ("submitted", "Accepted"),
        ("scheduled", "PendingNotBefore"),
    ]
    early, _ = await handle_due_timers(harness.uow, start - timedelta(seconds=1))
    assert early == []
    fired, _ = await handle_due_timers(harness.uow, start)
    assert [(o.outcome, o.to_state) for o in fired] == [("fired", "delivered")]
    again, _ = await handle_due_timers(harness.uow, start + timedelta(days=1))
    assert again == []
    assert [s for s, _ in await _states(harness, rid(1))] == [
        "submitted",
        "scheduled",
        "delivering",
        "delivered",
    ]


async def test_a_canceled_scheduled_request_is_left_alone_by_its_timer(harness: Harness) -> None:
    """Cancel while scheduled: the start timer still comes due, but does nothing."""
    start = NOW + timedelta(hours=1)
    await handle_batch(
        [create("c1", rid(2), falcon_from(start.isoformat())), cancel("x1", rid(2))],
        harness.uow,
        NOW,
    )
    fired, _ = await handle_due_timers(harness.uow, start)
    assert [(o.outcome, o.to_state) for o in fired] == [("fired", "canceled")]
    assert [s for s, _ in await _states(harness, rid(2))] == ["submitted", "scheduled", "canceled"]


async def test_escalation_then_timeout_denies_with_approval_timed_out(harness: Harness) -> None:
    """Finance stage 1 escalates after P7D (status PendingApprovalEscalated, its own event,
    the escalation approver may now decide) and is denied ApprovalTimedOut after P14D."""
    await handle_batch([create("c1", rid(3), finance_for_megan())], harness.uow, NOW)
    before, _ = await handle_batch(
        [decide("d0", rid(3), stage_id(rid(3), 0), NESTOR)], harness.uow, NOW
    )
    assert before[0].reason_code == "NotAnApprover"  # not before the escalation
    await handle_due_timers(harness.uow, NOW + timedelta(days=7, seconds=1))
    history = await harness.probe.history_of(rid(3))
    assert (str(history[-1].state), history[-1].status) == (
        "pendingApproval",
        "PendingApprovalEscalated",
    )
    await handle_due_timers(harness.uow, NOW + timedelta(days=14, seconds=1))
    history = await harness.probe.history_of(rid(3))
    assert [str(h.state) for h in history] == [
        "submitted",
        "pendingApproval",
        "pendingApproval",
        "denied",
    ]
    assert history[-1].reason == {
        "code": "ApprovalTimedOut",
        "message": "approval stage 1 was not decided in time",
    }
    assert [h.sequence for h in history] == [1, 2, 3, 4]


async def test_a_decided_stage_ignores_its_deadlines_and_the_next_gets_its_own(
    harness: Harness,
) -> None:
    """Stage 1 approved in time: its escalation and timeout do nothing; stage 2's automatic
    denial (P14D from the approval) then ends the request."""
    await handle_batch([create("c1", rid(4), finance_for_megan())], harness.uow, NOW)
    later = NOW + timedelta(days=1)
    await handle_batch([decide("d1", rid(4), stage_id(rid(4), 0), ALEX)], harness.uow, later)
    fired, _ = await handle_due_timers(harness.uow, NOW + timedelta(days=14, seconds=1))
    assert {o.to_state for o in fired} == {"pendingApproval"}  # stage 1's: no effect
    fired, _ = await handle_due_timers(harness.uow, later + timedelta(days=14, seconds=1))
    assert [(o.outcome, o.to_state) for o in fired] == [("fired", "denied")]


async def test_an_assignment_expires_through_a_system_remove_request(harness: Harness) -> None:
    """Sales reports lasts 90 days (the policy's expiration): at the end accessflow files a
    systemRemove request of its own, which revokes the membership and expires the
    assignment, with its own events; the expiry fires once."""
    from command_support import SALES_GROUP, sales_for

    outcomes, _ = await handle_batch([create("c1", rid(5), sales_for())], harness.uow, NOW)
    assert outcomes[0].to_state == "delivered"
    stored = await harness.probe.request(rid(5))
    assert stored is not None
    assignment_id = stored.assignment_id
    assert MEGAN in await harness.probe.members_of(SALES_GROUP, source="accessflow")
    early, _ = await handle_due_timers(harness.uow, NOW + timedelta(days=89))
    assert early == []

    fired, changes = await handle_due_timers(harness.uow, NOW + timedelta(days=90, seconds=1))
    assert [(o.outcome, o.to_state) for o in fired] == [("fired", "delivered")]
    removal = [h for h in changes.history if h.request_id != rid(5)]
    assert [str(h.state) for h in removal] == ["submitted", "delivering", "delivered"]
    removal_request = await harness.probe.request(removal[0].request_id)
    assert removal_request is not None
    assert removal_request.request.request_type.value == "systemRemove"
    assignment = await harness.probe.assignment(assignment_id)
    assert assignment is not None
    assert assignment.state is not None
    assert assignment.state.value == "expired"
    assert MEGAN not in await harness.probe.members_of(SALES_GROUP, source="accessflow")
    again, _ = await handle_due_timers(harness.uow, NOW + timedelta(days=200))
    assert again == []


async def test_an_end_while_the_add_is_delivering_is_postponed_alike(harness: Harness) -> None:
    """The add's outside grant is still in flight at the end: the expiry is postponed (the
    grant stays pending, no removal), then expires the assignment once the add settled."""
    await harness.apply_catalog(catalog_with_outside_resources("SaasApp"))
    await handle_batch([create("c1", rid(6), sales_for())], harness.uow, NOW)
    assignment_id = str(assignment_id_for(rid(6)))
    end = NOW + timedelta(days=90)
    policy = RetryPolicy()
    [in_flight] = await lease_due(harness.uow, end, 10, policy)

    fired, changes = await handle_due_timers(harness.uow, end)
    assert [(o.outcome, o.to_state, o.transitions) for o in fired] == [("fired", "delivering", [])]
    assert [t.due_at for t in changes.timers] == [end + EXPIRY_RETRY]
    [grant] = await harness.probe.grants_of(assignment_id)
    assert grant.state == "pending"

    await record(harness.uow, [(in_flight, GrantResult.succeeded())], end, policy)
    _, changes = await handle_due_timers(harness.uow, end + EXPIRY_RETRY)
    removal = [str(h.state) for h in changes.history if h.request_id != rid(6)]
    assert removal == ["submitted", "delivering"]  # the revoke waits for the connector
    [grant] = await harness.probe.grants_of(assignment_id)
    assert grant.state == "revoking"
    assignment = await harness.probe.assignment(assignment_id)
    assert assignment is not None
    assert assignment.state is not None
    assert assignment.state.value == "expired"
    again, _ = await handle_due_timers(harness.uow, end + timedelta(days=1))
    assert again == []
