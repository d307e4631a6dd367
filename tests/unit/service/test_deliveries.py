"""Outside deliveries on the in-memory store: grants wait for the delivery loop, results
settle the request, retries back off, reprocess re-sends only what failed, removals revoke.
The connector is a scripted fake (tests/integration and tests/e2e use a real webhook)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import timedelta

import pytest
from command_support import MEGAN, NOW, admin_remove, create, reprocess, rid, sales_for
from service_support import catalog_with_outside_resources, deliver, events, run, transitions

from accessflow.adapters.memory import InMemoryUnitOfWork
from accessflow.domain.enums import AssignmentState, ExpirationPatternType
from accessflow.domain.grant_states import GrantState
from accessflow.domain.models.base import format_utc
from accessflow.domain.models.common import EntitlementManagementSchedule, ExpirationPattern
from accessflow.domain.models.requests import AccessPackageAssignment
from accessflow.service.connectors import GrantRequest, GrantResult, Operation
from accessflow.service.delivery_rounds import RetryPolicy, lease_due, record, release
from accessflow.service.events import StateChanged
from accessflow.service.expiry import EXPIRY, EXPIRY_NAMESPACE, EXPIRY_RETRY, postponed_expiry
from accessflow.service.grants import assignment_id_for
from accessflow.service.handlers import handle_due_timers
from accessflow.service.types import TimerFired


class Scripted:
    """Answers each origin system's calls from a script (then succeeds); records calls."""

    def __init__(self, **script: list[GrantResult]) -> None:
        self.script = defaultdict(list, script)
        self.calls: list[tuple[Operation, GrantRequest]] = []

    async def grant(self, grant: GrantRequest) -> GrantResult:
        return self._answer(Operation.GRANT, grant)

    async def revoke(self, grant: GrantRequest) -> GrantResult:
        return self._answer(Operation.REVOKE, grant)

    def _answer(self, operation: Operation, grant: GrantRequest) -> GrantResult:
        self.calls.append((operation, grant))
        answers = self.script[grant.origin_system]
        return answers.pop(0) if answers else GrantResult.succeeded(status=200)

    def sent(self) -> list[tuple[str, str]]:
        return [(op.value, g.resource_scope_id) for op, g in self.calls]


POLICY = RetryPolicy(max_rounds=3, initial=timedelta(seconds=10), maximum=timedelta(minutes=5))
ADDED = [("submitted", None), ("delivering", None)]


def _uow(*origins: str) -> InMemoryUnitOfWork:
    return InMemoryUnitOfWork(catalog_with_outside_resources(*origins))


def _grants(uow: InMemoryUnitOfWork) -> dict[str, tuple[str, int]]:
    assignment = str(assignment_id_for(rid(1)))
    return {g.resource_scope_id: (g.state, g.attempts) for g in uow.grants_of(assignment)}


async def test_an_outside_grant_waits_off_the_consume_path_then_delivers() -> None:
    """The create commits with the request delivering and the grant pending; the delivery
    round sends it (with a stable idempotency key) and settles the request delivered."""
    uow = _uow("SaasApp")
    outcomes = await run(uow, create("c1", rid(1), sales_for()))
    assert outcomes[0].transitions == ["submitted", "delivering"]
    assert transitions(uow, rid(1)) == ADDED
    assert _grants(uow) == {"SaasApp-scope": (GrantState.PENDING, 0)}
    assert uow.assignment(str(assignment_id_for(rid(1)))).state.value == "delivering"

    connector = Scripted()
    await deliver(uow, connector, NOW, POLICY)
    assert transitions(uow, rid(1)) == [*ADDED, ("delivered", None)]
    assert _grants(uow) == {"SaasApp-scope": (GrantState.DELIVERED, 1)}
    assert uow.assignment(str(assignment_id_for(rid(1)))).state.value == "delivered"
    [(operation, sent)] = connector.calls
    assert (operation, sent.target_id, sent.role_origin_id) == (
        Operation.GRANT,
        MEGAN,
        "SaasApp-reader",
    )
    assert await deliver(uow, connector, NOW + timedelta(days=1), POLICY) == []


async def test_a_permanent_failure_fails_delivery_with_the_resource_named() -> None:
    uow = _uow("SaasApp")
    await run(uow, create("c1", rid(1), sales_for()))
    await deliver(uow, Scripted(SaasApp=[GrantResult.failed("400: no such user", status=400)]))
    assert transitions(uow, rid(1))[-1] == ("deliveryFailed", "ResourceUnavailable")
    reason = _last_state(uow).reason
    assert reason is not None
    assert [(d.target, d.message) for d in reason.details] == [
        ("SaasApp-scope", "400: no such user")
    ]


async def test_transient_failures_back_off_honour_retry_after_then_give_up() -> None:
    """Round 1: retry (Retry-After 120 s beats the 10 s backoff). Not due before that; round
    2 at +120 s: retry again; round 3 is the policy's last: failed, saying it gave up."""
    uow = _uow("SaasApp")
    await run(uow, create("c1", rid(1), sales_for()))
    connector = Scripted(
        SaasApp=[
            GrantResult.retry("503", status=503, retry_after=120),
            GrantResult.retry("503", status=503),
            GrantResult.retry("timeout"),
        ]
    )
    await deliver(uow, connector, NOW, POLICY)
    assert _grants(uow) == {"SaasApp-scope": (GrantState.PENDING, 1)}
    assert await deliver(uow, connector, NOW + timedelta(seconds=119), POLICY) == []
    await deliver(uow, connector, NOW + timedelta(seconds=120), POLICY)
    assert _grants(uow) == {"SaasApp-scope": (GrantState.PENDING, 2)}
    assert transitions(uow, rid(1)) == ADDED  # still delivering: retries are not outcomes
    await deliver(uow, connector, NOW + timedelta(hours=1), POLICY)
    assert _grants(uow) == {"SaasApp-scope": (GrantState.FAILED, 3)}
    assert transitions(uow, rid(1))[-1] == ("deliveryFailed", "ResourceUnavailable")
    assert "gave up after 3 rounds: timeout" in _last_state(uow).reason.message
    assert len(connector.calls) == 3


async def test_one_of_two_failing_is_partial_and_reprocess_resends_only_it() -> None:
    uow = _uow("Good", "Flaky")
    await run(uow, create("c1", rid(1), sales_for()))
    connector = Scripted(Flaky=[GrantResult.failed("403: forbidden", status=403)])
    await deliver(uow, connector)
    assert transitions(uow, rid(1))[-1] == ("partiallyDelivered", "ResourceUnavailable")
    assert uow.assignment(str(assignment_id_for(rid(1)))).status == "PartiallyDelivered"

    outcomes = await run(uow, reprocess("p1", rid(1)), now=NOW + timedelta(days=1))
    assert outcomes[0].transitions == ["delivering"]
    assert _grants(uow) == {
        "Good-scope": (GrantState.DELIVERED, 1),
        "Flaky-scope": (GrantState.PENDING, 0),  # a fresh budget of rounds
    }
    await deliver(uow, connector, NOW + timedelta(days=1))
    assert transitions(uow, rid(1))[-2:] == [("delivering", None), ("delivered", None)]
    assert sorted(connector.sent()[:2]) == [("grant", "Flaky-scope"), ("grant", "Good-scope")]
    assert connector.sent()[2:] == [("grant", "Flaky-scope")]  # only the failed one again
    flaky = [g for _, g in connector.calls if g.resource_scope_id == "Flaky-scope"]
    keys = {g.idempotency_key(Operation.GRANT) for g in flaky}
    assert len(keys) == 1  # the re-sent grant carries the same idempotency key


async def test_all_failing_is_delivery_failed() -> None:
    uow = _uow("A", "B")
    await run(uow, create("c1", rid(1), sales_for()))
    await deliver(uow, Scripted(A=[GrantResult.failed("x")], B=[GrantResult.failed("y")]))
    assert transitions(uow, rid(1))[-1] == ("deliveryFailed", "ResourceUnavailable")


async def test_a_connector_that_raises_is_retried_not_lost() -> None:
    class Broken(Scripted):
        async def grant(self, grant: GrantRequest) -> GrantResult:
            raise RuntimeError("bug")

    uow = _uow("SaasApp")
    await run(uow, create("c1", rid(1), sales_for()))
    [delivered] = await deliver(uow, Broken(), NOW, POLICY)
    assert delivered.grant.state == GrantState.PENDING
    assert delivered.grant.detail == "connector error: RuntimeError: bug"


async def test_a_leased_grant_is_not_claimed_twice_until_the_lease_ends() -> None:
    """A worker that died mid-call leaves its grant leased; another takes it only after
    the lease, and a late result for a grant that moved on is ignored."""
    uow = _uow("SaasApp")
    await run(uow, create("c1", rid(1), sales_for()))
    [leased] = await lease_due(uow, NOW, 10, POLICY)
    assert await lease_due(uow, NOW + POLICY.lease - timedelta(seconds=1), 10, POLICY) == []
    [again] = await lease_due(uow, NOW + POLICY.lease, 10, POLICY)
    assert again.grant.resource_scope_id == leased.grant.resource_scope_id
    later = NOW + POLICY.lease
    await record(uow, [(again, GrantResult.succeeded())], later, POLICY)
    delivered, settled = await record(uow, [(leased, GrantResult.failed("late"))], later, POLICY)
    assert (delivered, settled) == ([], [])
    assert transitions(uow, rid(1))[-1] == ("delivered", None)


async def test_removal_revokes_outside_grants_before_it_is_delivered() -> None:
    uow = _uow("SaasApp")
    await run(uow, create("c1", rid(1), sales_for()))
    connector = Scripted()
    await deliver(uow, connector)
    assignment = str(assignment_id_for(rid(1)))
    await run(uow, create("r1", rid(2), admin_remove(assignment), admin=True))
    assert transitions(uow, rid(2)) == ADDED
    assert uow.assignment(assignment).state.value == "expired"
    assert _grants(uow) == {"SaasApp-scope": (GrantState.REVOKING, 0)}
    await deliver(uow, connector)
    assert transitions(uow, rid(2))[-1] == ("delivered", None)
    assert connector.sent() == [("grant", "SaasApp-scope"), ("revoke", "SaasApp-scope")]
    assert _grants(uow) == {"SaasApp-scope": (GrantState.REVOKED, 1)}


@pytest.mark.parametrize("origin", ["SaasApp"])
async def test_no_connector_configured_fails_at_the_first_round(origin: str) -> None:
    uow = _uow(origin)
    await run(uow, create("c1", rid(1), sales_for()))
    await deliver(uow)  # the bare registry: nothing configured for SaasApp
    assert _last_state(uow).reason.details[0].message == "no connector for originSystem 'SaasApp'"


def _last_state(uow: InMemoryUnitOfWork) -> StateChanged:
    states = [e.data for e in events(uow) if isinstance(e.data, StateChanged)]
    return states[-1]


async def test_an_assignment_still_being_delivered_cannot_be_removed_yet() -> None:
    """Its add request waits on the connector; a removal now is refused with a clear
    reason (and works once the add has settled)."""
    uow = _uow("SaasApp")
    await run(uow, create("c1", rid(1), sales_for()))
    assignment = str(assignment_id_for(rid(1)))
    await run(uow, create("r1", rid(2), admin_remove(assignment), admin=True))
    assert transitions(uow, rid(2)) == [("submitted", None), ("denied", "ExistingOpenRequest")]
    await deliver(uow, Scripted())
    await run(uow, create("r2", rid(3), admin_remove(assignment), admin=True))
    assert transitions(uow, rid(3))[-1] == ("delivering", None)


async def test_abandoned_calls_are_handed_back_due_at_once() -> None:
    """A stopping worker releases the grants whose calls it abandoned: another worker may
    take them now rather than when the lease would have ended."""
    uow = _uow("SaasApp")
    await run(uow, create("c1", rid(1), sales_for()))
    leased = await lease_due(uow, NOW, 10, POLICY)
    assert await lease_due(uow, NOW + timedelta(seconds=1), 10, POLICY) == []
    assert await release(uow, leased, NOW + timedelta(seconds=1)) == 1
    [again] = await lease_due(uow, NOW + timedelta(seconds=1), 10, POLICY)
    assert again.grant.resource_scope_id == "SaasApp-scope"
    await record(uow, [(again, GrantResult.succeeded())], NOW, POLICY)
    assert await release(uow, leased, NOW) == 0  # moved on since: not ours to hand back


async def test_an_end_that_comes_while_the_add_is_delivering_waits_for_it_to_settle() -> None:
    """Sales reports lasts 90 days, and its grant's connector call is still in flight when
    they are up. The expiry is postponed (no removal, the grant left pending), again while
    the add waits; once the add has settled the next firing removes the assignment."""
    uow = _uow("SaasApp")
    await run(uow, create("c1", rid(1), sales_for()))
    assignment = str(assignment_id_for(rid(1)))
    end = NOW + timedelta(days=90)
    removal = uuid.uuid5(EXPIRY_NAMESPACE, f"{assignment}:{format_utc(end)}")
    [in_flight] = await lease_due(uow, end, 10, POLICY)

    fired, changes = await handle_due_timers(uow, end)
    assert [(o.outcome, o.to_state, o.transitions) for o in fired] == [("fired", "delivering", [])]
    [later] = changes.timers
    assert (later.kind, later.request_id, later.due_at, later.payload) == (
        EXPIRY,
        rid(1),
        end + EXPIRY_RETRY,
        {"assignmentId": assignment, "end": format_utc(end)},
    )
    assert uow.request(removal) is None
    assert _grants(uow) == {"SaasApp-scope": (GrantState.PENDING, 0)}
    assert uow.assignment(assignment).state.value == "delivering"

    early, _ = await handle_due_timers(uow, end + EXPIRY_RETRY - timedelta(seconds=1))
    assert early == []
    _, changes = await handle_due_timers(uow, end + EXPIRY_RETRY)
    [again] = changes.timers  # still delivering: postponed once more, by a timer of its own
    assert (again.id != later.id, again.due_at) == (True, end + 2 * EXPIRY_RETRY)
    assert uow.request(removal) is None

    await record(uow, [(in_flight, GrantResult.succeeded())], end + EXPIRY_RETRY, POLICY)
    assert transitions(uow, rid(1)) == [*ADDED, ("delivered", None)]
    assert uow.assignment(assignment).state.value == "delivered"

    fired, _ = await handle_due_timers(uow, end + 2 * EXPIRY_RETRY)
    assert [o.outcome for o in fired] == ["fired"]
    stored = uow.request(removal)
    assert stored is not None
    assert stored.request.request_type.value == "systemRemove"
    assert transitions(uow, removal) == ADDED
    assert _grants(uow) == {"SaasApp-scope": (GrantState.REVOKING, 0)}
    assert uow.assignment(assignment).state.value == "expired"
    nothing, _ = await handle_due_timers(uow, end + timedelta(days=1))
    assert nothing == []

    connector = Scripted()
    await deliver(uow, connector, end + 2 * EXPIRY_RETRY, POLICY)
    assert transitions(uow, removal)[-1] == ("delivered", None)
    assert connector.sent() == [("revoke", "SaasApp-scope")]
    assert transitions(uow, rid(1))[-1] == ("delivered", None)  # the add's outcome stands


def test_a_postponed_expiry_is_the_same_timer_for_the_same_firing() -> None:
    """A batch re-run after a crash fires the same timer again: it writes the same
    postponed timer, not a second one; another firing postpones with a timer of its own."""
    end = format_utc(NOW)
    assignment = AccessPackageAssignment(
        id=str(assignment_id_for(rid(1))),
        state=AssignmentState.DELIVERING,
        schedule=EntitlementManagementSchedule(
            start_date_time=NOW - timedelta(days=1),
            expiration=ExpirationPattern(
                end_date_time=NOW, type=ExpirationPatternType.AFTER_DATE_TIME
            ),
        ),
    )
    payload: dict[str, object] = {"assignmentId": assignment.id, "end": end}
    fired = TimerFired("timer:1", rid(1), EXPIRY, payload)
    first = postponed_expiry(fired, assignment, NOW)
    rerun = postponed_expiry(fired, assignment, NOW + timedelta(seconds=5))
    other = postponed_expiry(TimerFired("timer:2", rid(1), EXPIRY, payload), assignment, NOW)
    assert first is not None
    assert rerun is not None
    assert other is not None
    assert first.id == rerun.id != other.id
    assert first.payload == payload
    delivered = assignment.model_copy(update={"state": AssignmentState.DELIVERED})
    assert postponed_expiry(fired, delivered, NOW) is None  # settled: remove, as usual
    stale = TimerFired("timer:3", rid(1), EXPIRY, {**payload, "end": "2020-01-01T00:00:00Z"})
    assert postponed_expiry(stale, assignment, NOW) is None  # an end changed since: no-op
