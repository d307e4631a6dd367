"""The request state machine: the table is the whole machine, walked step by step."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from domain_support import NOW, SALES

from accessflow.domain import (
    COMPLETED_STATES,
    FINAL_STATES,
    AccessPackageAssignmentRequest,
    DomainError,
    IllegalTransition,
    ReasonCode,
    RequestState,
    default_status,
    parse_create_request,
    reprocess,
    submit,
    transition,
    with_status,
)
from accessflow.domain.models.requests import to_graph
from accessflow.domain.states import ALLOWED, STATUSES

S = RequestState
LATER = NOW + timedelta(hours=1)
EXPECTED_TABLE = {
    (None, S.SUBMITTED),
    (S.SUBMITTED, S.PENDING_APPROVAL),
    (S.SUBMITTED, S.SCHEDULED),
    (S.PENDING_APPROVAL, S.SCHEDULED),
    (S.SUBMITTED, S.DELIVERING),
    (S.PENDING_APPROVAL, S.DELIVERING),
    (S.SCHEDULED, S.DELIVERING),
    (S.SUBMITTED, S.DENIED),
    (S.PENDING_APPROVAL, S.DENIED),
    (S.SUBMITTED, S.CANCELED),
    (S.PENDING_APPROVAL, S.CANCELED),
    (S.SCHEDULED, S.CANCELED),
    (S.DELIVERING, S.DELIVERED),
    (S.DELIVERING, S.PARTIALLY_DELIVERED),
    (S.DELIVERING, S.DELIVERY_FAILED),
    (S.DELIVERY_FAILED, S.DELIVERING),
    (S.PARTIALLY_DELIVERED, S.DELIVERING),
}


def new_request() -> AccessPackageAssignmentRequest:
    body = parse_create_request(
        {"requestType": "userAdd", "assignment": {"accessPackageId": SALES}}
    )
    return submit(body, request_id="0d3b5a0c-5f4e-4d8e-9b59-8f6c9b1d2a10", now=NOW)


def in_state(state: RequestState) -> AccessPackageAssignmentRequest:
    return new_request().model_copy(update={"state": state, "status": default_status(state)})


def test_table_is_exactly_the_architecture_table() -> None:
    assert set(ALLOWED) == EXPECTED_TABLE


@pytest.mark.parametrize(("source", "target"), list(itertools.product(S, S)))
def test_every_pair_either_moves_or_raises_and_changes_nothing(
    source: RequestState, target: RequestState
) -> None:
    request = in_state(source)
    before = request.model_dump()
    if (source, target) in EXPECTED_TABLE:
        moved = transition(request, target, now=LATER)
        assert (moved.state, moved.status) == (target, default_status(target))
    else:
        with pytest.raises(IllegalTransition) as raised:
            transition(request, target, now=LATER)
        assert raised.value.code is ReasonCode.ILLEGAL_TRANSITION
        assert not raised.value.retriable
    assert request.model_dump() == before


def test_submit_creates_a_submitted_accepted_request_stamped_now() -> None:
    request = new_request()
    assert (request.state, request.status) == (S.SUBMITTED, "Accepted")
    assert request.created_date_time == NOW
    assert request.completed_date_time is None
    assert request.assignment is not None
    assert request.assignment.access_package_id == SALES


def test_walk_approval_schedule_delivery_sets_status_and_completion_per_step() -> None:
    steps = [
        (S.PENDING_APPROVAL, "PendingApproval", False),
        (S.SCHEDULED, "PendingNotBefore", False),
        (S.DELIVERING, "Delivering", False),
        (S.DELIVERED, "Delivered", True),
    ]
    request = new_request()
    for offset, (state, status, completed) in enumerate(steps, start=1):
        now = NOW + timedelta(minutes=offset)
        request = transition(request, state, now=now)
        assert (request.state, request.status) == (state, status)
        assert request.completed_date_time == (now if completed else None)


def test_walk_failure_reprocess_partial_reprocess_delivered() -> None:
    request = transition(new_request(), S.DELIVERING, now=NOW)
    request = transition(request, S.DELIVERY_FAILED, now=NOW + timedelta(hours=1))
    assert request.completed_date_time == NOW + timedelta(hours=1)
    request = reprocess(request, now=NOW + timedelta(days=2))
    assert (request.state, request.completed_date_time) == (S.DELIVERING, None)
    request = transition(request, S.PARTIALLY_DELIVERED, now=NOW + timedelta(days=3))
    request = reprocess(request, now=NOW + timedelta(days=4))
    request = transition(request, S.DELIVERED, now=NOW + timedelta(days=5))
    assert (request.state, request.status) == (S.DELIVERED, "Delivered")
    assert request.completed_date_time == NOW + timedelta(days=5)


@pytest.mark.parametrize("state", sorted(COMPLETED_STATES))
def test_entering_a_completed_state_sets_completed_date_time(state: RequestState) -> None:
    source = S.PENDING_APPROVAL if state in (S.DENIED, S.CANCELED) else S.DELIVERING
    assert transition(in_state(source), state, now=LATER).completed_date_time == LATER


@pytest.mark.parametrize("state", sorted(FINAL_STATES))
def test_final_states_have_no_way_out(state: RequestState) -> None:
    assert not [target for (source, target) in ALLOWED if source is state]


def test_status_strings_match_the_spec() -> None:
    assert {s: STATUSES[s][0] for s in S if s is not S.UNKNOWN_FUTURE_VALUE} == {
        S.SUBMITTED: "Accepted",
        S.PENDING_APPROVAL: "PendingApproval",
        S.SCHEDULED: "PendingNotBefore",
        S.DELIVERING: "Delivering",
        S.DELIVERED: "Delivered",
        S.PARTIALLY_DELIVERED: "PartiallyDelivered",
        S.DELIVERY_FAILED: "DeliveryFailed",
        S.DENIED: "Denied",
        S.CANCELED: "Canceled",
    }


def test_escalation_is_a_status_variant_of_pending_approval() -> None:
    pending = in_state(S.PENDING_APPROVAL)
    escalated = with_status(pending, "PendingApprovalEscalated")
    assert (escalated.state, escalated.status) == (S.PENDING_APPROVAL, "PendingApprovalEscalated")


def test_a_status_foreign_to_the_state_is_refused() -> None:
    with pytest.raises(IllegalTransition):
        with_status(in_state(S.DELIVERING), "PendingApprovalEscalated")
    with pytest.raises(IllegalTransition):
        transition(in_state(S.SUBMITTED), S.DELIVERING, now=NOW, status="Delivered")


def test_transition_accepts_a_named_status_variant() -> None:
    moved = transition(
        in_state(S.SUBMITTED), S.PENDING_APPROVAL, now=NOW, status="PendingApprovalEscalated"
    )
    assert moved.status == "PendingApprovalEscalated"


def test_reprocess_after_the_window_raises_reprocess_window_expired() -> None:
    failed = transition(in_state(S.DELIVERING), S.DELIVERY_FAILED, now=NOW)
    with pytest.raises(DomainError) as raised:
        reprocess(failed, now=NOW + timedelta(days=14, seconds=1))
    assert raised.value.code is ReasonCode.REPROCESS_WINDOW_EXPIRED
    assert reprocess(failed, now=NOW + timedelta(days=14)).state is S.DELIVERING


def test_reprocess_honours_a_shorter_window() -> None:
    failed = transition(in_state(S.DELIVERING), S.PARTIALLY_DELIVERED, now=NOW)
    with pytest.raises(DomainError):
        reprocess(failed, now=NOW + timedelta(days=8), window=timedelta(days=7))


@pytest.mark.parametrize("state", [S.DELIVERED, S.DENIED, S.DELIVERING, S.SUBMITTED])
def test_reprocess_of_a_request_that_did_not_fail_is_illegal(state: RequestState) -> None:
    with pytest.raises(IllegalTransition):
        reprocess(in_state(state), now=NOW)


@pytest.mark.parametrize(("source", "target"), sorted((s, t) for s, t in ALLOWED if s is not None))
def test_a_transitions_document_is_the_full_dump_whether_derived_or_not(
    source: RequestState, target: RequestState
) -> None:
    """Transitions patch the previous document instead of dumping the whole request again;
    the result must be exactly (key order included) what a full dump gives."""
    before = in_state(source)
    to_graph(before)  # known: the next document is derived from it
    after = transition(before, target, now=NOW + timedelta(minutes=5))
    fresh = after.model_dump(mode="json", by_alias=True)
    derived = to_graph(after)
    assert list(derived.items()) == list(fresh.items())
    pending = in_state(RequestState.PENDING_APPROVAL)
    to_graph(pending)
    escalated = with_status(pending, "PendingApprovalEscalated")
    assert to_graph(escalated) == escalated.model_dump(mode="json", by_alias=True)
