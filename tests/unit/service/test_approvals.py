"""Approval decisions on the in-memory store: the two-stage "Finance data" flow, and every
way a decision is refused (each a rejection event that leaves the request as it was)."""

from __future__ import annotations

from command_support import (
    ADELE,
    ALEX,
    FINANCE_GROUP,
    ISAIAH,
    MEGAN,
    NESTOR,
    PATTI,
    create,
    decide,
    finance_for_megan,
    rid,
    sales_for,
    stage_id,
)
from service_support import rejections, run, transitions

from accessflow.adapters.memory import InMemoryUnitOfWork

PENDING = ("pendingApproval", None)


async def pending(uow: InMemoryUnitOfWork) -> None:
    """Megan's Finance data request, waiting for stage 1 (her manager, Alex)."""
    await run(uow, create("c1", rid(1), finance_for_megan()))


def stage_results(uow: InMemoryUnitOfWork) -> list[tuple[str, str]]:
    stored = uow.request(rid(1))
    assert stored is not None
    assert stored.approval is not None
    return [(s.status, s.review_result) for s in stored.approval.stages]


async def test_approved_by_both_stages_is_delivered(uow: InMemoryUnitOfWork) -> None:
    """Stage 1 alone changes no state (stage 2 starts); stage 2 delivers."""
    await pending(uow)
    first = await run(uow, decide("d1", rid(1), stage_id(rid(1), 0), ALEX))
    assert (first[0].outcome, first[0].transitions) == ("handled", [])
    assert stage_results(uow) == [("Completed", "Approved"), ("InProgress", "NotReviewed")]
    await run(uow, decide("d2", rid(1), stage_id(rid(1), 1), ADELE))
    assert transitions(uow, rid(1))[1:] == [PENDING, ("delivering", None), ("delivered", None)]
    assert uow.members_of(FINANCE_GROUP) == {MEGAN}


async def test_decisions_in_one_batch_apply_in_order(uow: InMemoryUnitOfWork) -> None:
    await pending(uow)
    await run(
        uow,
        decide("d1", rid(1), stage_id(rid(1), 0), ALEX),
        decide("d2", rid(1), stage_id(rid(1), 1), ISAIAH),
    )
    assert transitions(uow, rid(1))[-1] == ("delivered", None)


async def test_a_denial_at_any_stage_denies(uow: InMemoryUnitOfWork) -> None:
    await pending(uow)
    outcomes = await run(uow, decide("d1", rid(1), stage_id(rid(1), 0), ALEX, "deny"))
    assert outcomes[0].to_state == "denied"
    assert transitions(uow, rid(1))[-1] == ("denied", "ApproverDenied")
    assert stage_results(uow)[0] == ("Completed", "Denied")
    assert uow.members_of(FINANCE_GROUP) == set()


async def test_a_stage_decided_twice_refuses_the_second(uow: InMemoryUnitOfWork) -> None:
    """The first decision in a stage wins: a second one is ``StageAlreadyDecided``."""
    await pending(uow)
    await run(uow, decide("d1", rid(1), stage_id(rid(1), 0), ALEX))
    await run(uow, decide("d2", rid(1), stage_id(rid(1), 0), ALEX, "Deny"))
    assert rejections(uow) == {"d2": "StageAlreadyDecided"}
    assert stage_results(uow)[0] == ("Completed", "Approved")


async def test_someone_who_is_not_an_approver_is_refused(uow: InMemoryUnitOfWork) -> None:
    """A finance approver cannot decide stage 1, nor the escalation approver before the
    stage escalates."""
    await pending(uow)
    await run(
        uow,
        decide("d1", rid(1), stage_id(rid(1), 0), ISAIAH),
        decide("d2", rid(1), stage_id(rid(1), 0), NESTOR),
    )
    assert rejections(uow) == {"d1": "NotAnApprover", "d2": "NotAnApprover"}
    assert stage_results(uow)[0] == ("InProgress", "NotReviewed")


async def test_the_requestor_cannot_approve_their_own_request(uow: InMemoryUnitOfWork) -> None:
    """Megan on her own request; and Isaiah, a finance approver, asking for himself is left
    out of stage 2's approvers, so his own approval is refused too."""
    await pending(uow)
    await run(uow, decide("d1", rid(1), stage_id(rid(1), 0), MEGAN))
    body = finance_for_megan()
    await run(uow, create("c2", rid(2), body, requestor=ISAIAH))
    await run(uow, decide("d2", rid(2), stage_id(rid(2), 0), PATTI))  # Isaiah's manager
    await run(uow, decide("d3", rid(2), stage_id(rid(2), 1), ISAIAH))
    assert rejections(uow) == {"d1": "NotAnApprover", "d3": "NotAnApprover"}
    stored = uow.request(rid(2))
    assert stored is not None
    assert stored.approval is not None
    assert stored.approval.stages[1].approvers == (ADELE,)


async def test_a_later_stage_cannot_be_decided_first(uow: InMemoryUnitOfWork) -> None:
    await pending(uow)
    await run(uow, decide("d1", rid(1), stage_id(rid(1), 1), ISAIAH))
    assert rejections(uow) == {"d1": "IllegalTransition"}


async def test_stage_two_needs_a_justification(uow: InMemoryUnitOfWork) -> None:
    await pending(uow)
    await run(
        uow,
        decide("d1", rid(1), stage_id(rid(1), 0), ALEX, justification=None),
        decide("d2", rid(1), stage_id(rid(1), 1), ISAIAH, justification="  "),
    )
    assert rejections(uow) == {"d2": "JustificationRequired"}
    assert stage_results(uow)[1] == ("InProgress", "NotReviewed")


async def test_an_unknown_stage_is_refused(uow: InMemoryUnitOfWork) -> None:
    await pending(uow)
    await run(uow, decide("d1", rid(1), stage_id(rid(9), 0), ALEX))
    assert rejections(uow) == {"d1": "ApprovalStageNotFound"}


async def test_a_request_not_pending_approval_cannot_be_decided(
    uow: InMemoryUnitOfWork,
) -> None:
    """Delivered without approval, or unknown: ``IllegalTransition`` / ``RequestNotFound``."""
    await run(uow, create("c1", rid(1), sales_for()))
    await run(
        uow,
        decide("d1", rid(1), stage_id(rid(1), 0), ALEX),
        decide("d2", rid(2), stage_id(rid(2), 0), ALEX),
    )
    assert rejections(uow) == {"d1": "IllegalTransition", "d2": "RequestNotFound"}
