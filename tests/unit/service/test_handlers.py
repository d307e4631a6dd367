"""The command handlers on the in-memory store: create, cancel, reprocess and refused
commands, each outcome and each rejection path; every event they write is a valid
:class:`EventEnvelope` (``events()`` validates all of them whenever a test reads them)."""

from __future__ import annotations

from datetime import timedelta

from command_support import (
    ALEX,
    KAYO,
    MEGAN,
    NOW,
    PATTI,
    SALES,
    SALES_GROUP,
    admin_remove,
    cancel,
    create,
    finance_for_megan,
    rejected,
    reprocess,
    rid,
    sales_for,
)
from service_support import (
    catalog_without_group_connector,
    deliver,
    events,
    rejections,
    run,
    transitions,
)

from accessflow.adapters.memory import InMemoryUnitOfWork
from accessflow.service.events import (
    ASSIGNMENT_CHANGED,
    COMMAND_REJECTED,
    STATE_CHANGED,
    assignment_event_id,
    state_changed_event_id,
)
from accessflow.service.grants import assignment_id_for
from accessflow.service.handlers import handle_batch

DELIVERED = [("submitted", None), ("delivering", None), ("delivered", None)]


async def test_create_without_approval_is_delivered(uow: InMemoryUnitOfWork) -> None:
    """Three state changes with ids from (requestId, sequence), the assignment's own event
    just before the last one, and the group membership."""
    outcomes = await run(uow, create("c1", rid(1), sales_for()))
    assert (outcomes[0].outcome, outcomes[0].transitions) == (
        "handled",
        ["submitted", "delivering", "delivered"],
    )
    assert transitions(uow, rid(1)) == DELIVERED
    assert [e.id for e in events(uow)] == [
        str(state_changed_event_id(rid(1), 1)),
        str(state_changed_event_id(rid(1), 2)),
        str(assignment_event_id(rid(1), 3)),
        str(state_changed_event_id(rid(1), 3)),
    ]
    assignment_event = events(uow)[2]
    assert assignment_event.type == ASSIGNMENT_CHANGED
    assert (assignment_event.data.previous_state, assignment_event.data.state) == (
        None,
        "delivered",
    )
    assert uow.members_of(SALES_GROUP) == {MEGAN}


async def test_create_needing_approval_waits_with_its_stages(uow: InMemoryUnitOfWork) -> None:
    """Finance data: pending approval, stage 1 by Megan's manager, stage 2 in waiting."""
    await run(uow, create("c1", rid(1), finance_for_megan()))
    assert transitions(uow, rid(1)) == [("submitted", None), ("pendingApproval", None)]
    stored = uow.request(rid(1))
    assert stored is not None
    assert stored.approval is not None
    stages = stored.approval.stages
    assert [(s.approvers, s.status) for s in stages[:1]] == [((ALEX,), "InProgress")]
    assert stages[1].status == "Initializing"


async def test_create_the_rules_refuse_is_recorded_as_denied(uow: InMemoryUnitOfWork) -> None:
    """A request for an unknown package is submitted, then denied with the rule's reason;
    the command itself was handled (no rejection event)."""
    body = sales_for()
    body["assignment"]["accessPackageId"] = "00000000-0000-4000-8000-00000000dead"
    outcomes = await run(uow, create("c1", rid(1), body))
    assert (outcomes[0].outcome, outcomes[0].reason_code) == ("handled", "AccessPackageNotFound")
    assert transitions(uow, rid(1)) == [("submitted", None), ("denied", "AccessPackageNotFound")]
    assert rejections(uow) == {}


async def test_admin_remove_by_a_non_admin_is_denied(uow: InMemoryUnitOfWork) -> None:
    await run(uow, create("c1", rid(1), sales_for()))
    await run(
        uow, create("c2", rid(2), admin_remove(str(assignment_id_for(rid(1)))), requestor=PATTI)
    )
    assert transitions(uow, rid(2)) == [("submitted", None), ("denied", "RequestorNotAllowed")]
    assert uow.members_of(SALES_GROUP) == {MEGAN}


async def test_create_reusing_a_request_id_is_rejected(uow: InMemoryUnitOfWork) -> None:
    """A create (new command id) naming an existing request: ``IllegalTransition``, and the
    request is untouched."""
    await run(uow, create("c1", rid(1), sales_for()))
    outcomes = await run(uow, create("c2", rid(1), finance_for_megan()))
    assert (outcomes[0].outcome, outcomes[0].reason_code) == ("rejected", "IllegalTransition")
    assert rejections(uow) == {"c2": "IllegalTransition"}
    assert transitions(uow, rid(1)) == DELIVERED


async def test_cancel_by_the_requestor_cancels_and_frees_the_package(
    uow: InMemoryUnitOfWork,
) -> None:
    """Canceled with ``CanceledByRequestor``; a new request for the package is then allowed,
    even later in the same batch."""
    await run(uow, create("c1", rid(1), finance_for_megan()))
    outcomes = await run(uow, cancel("x1", rid(1)), create("c2", rid(2), finance_for_megan()))
    assert [o.to_state for o in outcomes] == ["canceled", "pendingApproval"]
    assert transitions(uow, rid(1))[-1] == ("canceled", "CanceledByRequestor")


async def test_a_request_created_and_canceled_in_one_batch(uow: InMemoryUnitOfWork) -> None:
    """Later commands of a batch see the requests its earlier ones created."""
    await run(uow, create("c1", rid(1), finance_for_megan()), cancel("x1", rid(1)))
    assert [(h.sequence, str(h.state)) for h in uow.history_of(rid(1))] == [
        (1, "submitted"),
        (2, "pendingApproval"),
        (3, "canceled"),
    ]


async def test_cancel_by_an_admin_is_allowed(uow: InMemoryUnitOfWork) -> None:
    await run(uow, create("c1", rid(1), finance_for_megan()))
    outcomes = await run(uow, cancel("x1", rid(1), by=PATTI, admin=True))
    assert outcomes[0].to_state == "canceled"


async def test_cancel_by_a_stranger_is_rejected(uow: InMemoryUnitOfWork) -> None:
    """Neither requestor, target nor admin: ``RequestorNotAllowed``, request unchanged."""
    await run(uow, create("c1", rid(1), finance_for_megan()))
    outcomes = await run(uow, cancel("x1", rid(1), by=KAYO))
    assert (outcomes[0].outcome, outcomes[0].reason_code) == ("rejected", "RequestorNotAllowed")
    assert transitions(uow, rid(1))[-1] == ("pendingApproval", None)


async def test_cancel_of_an_unknown_request_is_rejected(uow: InMemoryUnitOfWork) -> None:
    await run(uow, cancel("x1", rid(1)))
    assert rejections(uow) == {"x1": "RequestNotFound"}
    assert uow.request(rid(1)) is None


async def test_cancel_twice_rejects_the_second(uow: InMemoryUnitOfWork) -> None:
    await run(uow, create("c1", rid(1), finance_for_megan()))
    await run(uow, cancel("x1", rid(1)), cancel("x2", rid(1)))
    assert rejections(uow) == {"x2": "IllegalTransition"}


def _failing() -> InMemoryUnitOfWork:
    return InMemoryUnitOfWork(catalog_without_group_connector())


async def test_reprocess_after_the_window_is_rejected() -> None:
    uow = _failing()
    await run(uow, create("c1", rid(1), sales_for()))
    await deliver(uow)
    await run(uow, reprocess("p1", rid(1)), now=NOW + timedelta(days=15))
    assert rejections(uow) == {"p1": "ReprocessWindowExpired"}
    assert transitions(uow, rid(1))[-1][0] == "deliveryFailed"


async def test_reprocess_by_a_stranger_is_rejected() -> None:
    uow = _failing()
    await run(uow, create("c1", rid(1), sales_for()))
    await deliver(uow)
    await run(uow, reprocess("p1", rid(1), by=KAYO))
    assert rejections(uow) == {"p1": "RequestorNotAllowed"}


async def test_reprocess_of_a_delivered_request_is_rejected(uow: InMemoryUnitOfWork) -> None:
    await run(uow, create("c1", rid(1), sales_for()))
    await run(uow, reprocess("p1", rid(1)), reprocess("p2", rid(2)))
    assert rejections(uow) == {"p1": "IllegalTransition", "p2": "RequestNotFound"}
    assert transitions(uow, rid(1)) == DELIVERED


async def test_a_command_refused_at_decode_becomes_a_rejection_event(
    uow: InMemoryUnitOfWork,
) -> None:
    """A ``Rejected`` item: its reason is published keyed by its request, its id recorded
    (a redelivery is a duplicate), and no request is created."""
    outcomes = await run(uow, rejected("r1", rid(1), "UnknownCommandType"))
    assert (outcomes[0].outcome, outcomes[0].reason_code) == ("rejected", "UnknownCommandType")
    (envelope,) = events(uow)
    assert (envelope.type, envelope.subject) == (COMMAND_REJECTED, str(rid(1)))
    assert [p.outcome for p in uow.processed_commands()] == ["rejected:UnknownCommandType"]
    assert uow.request(rid(1)) is None
    again = await run(uow, rejected("r1", rid(1), "UnknownCommandType"))
    assert again[0].outcome == "duplicate"
    assert len(events(uow)) == 1


async def test_a_refused_command_leaves_its_request_unchanged(uow: InMemoryUnitOfWork) -> None:
    await run(uow, create("c1", rid(1), finance_for_megan()))
    await run(uow, rejected("r1", rid(1)))
    assert rejections(uow) == {"r1": "InvalidCommand"}
    assert transitions(uow, rid(1))[-1] == ("pendingApproval", None)


async def test_every_event_of_a_mixed_batch_is_a_valid_envelope(uow: InMemoryUnitOfWork) -> None:
    """State changes (with and without reasons) and rejections all parse as the strict
    published model, with the worker's source and millisecond UTC times."""
    await run(
        uow,
        create("c1", rid(1), sales_for()),
        create("c2", rid(2), finance_for_megan()),
        create("c3", rid(3), finance_for_megan()),
        cancel("x1", rid(2)),
        cancel("x2", rid(9)),
        rejected("r1", rid(8)),
        create("c4", rid(4), sales_for(KAYO), requestor=ALEX),
    )
    parsed = events(uow)
    assert {e.type for e in parsed} == {STATE_CHANGED, COMMAND_REJECTED, ASSIGNMENT_CHANGED}
    assert {e.source for e in parsed} == {"urn:accessflow:worker"}
    assert {e.time for e in parsed} == {"2026-03-01T12:00:00.123Z"}
    assert len(parsed) == 3 + 2 + 2 + 1 + 1 + 1 + 3 + 2  # + c1 and c4 assignment events
    assert SALES in {
        (e.data.request.get("accessPackage") or {}).get("id")
        for e in parsed
        if e.type == STATE_CHANGED
    }


async def test_the_reprocess_window_is_configurable() -> None:
    """ACCESSFLOW_REPROCESS_WINDOW_DAYS reaches the handlers: a 1-day window refuses a
    reprocess 2 days after completion that the default 14 days would allow."""
    uow = _failing()
    await run(uow, create("c1", rid(1), sales_for()))
    await deliver(uow)
    later = NOW + timedelta(days=2)
    await handle_batch([reprocess("p1", rid(1))], uow, later, reprocess_window=timedelta(days=1))
    assert rejections(uow) == {"p1": "ReprocessWindowExpired"}
    await handle_batch([reprocess("p2", rid(1))], uow, later)
    assert transitions(uow, rid(1))[-1] == ("delivering", None)
