"""The size budget holds: no command the field limits accept makes an event larger than
``MAX_EVENT_BYTES``.

A maximal create (every client field at its maximum, written with the character that costs
orjson the most bytes) goes through the handlers; then each event builder of the
:class:`Recorder` (the only place events are made) renders that request with a maximal
requestor, package, reason and assignment, and a maximal rejection.
"""

from __future__ import annotations

import uuid

import orjson
from command_support import NOW, create, rid
from service_support import run

from accessflow.adapters.memory import InMemoryUnitOfWork
from accessflow.domain import limits
from accessflow.domain.enums import AssignmentState, RequestState
from accessflow.domain.models import AccessPackage, AccessPackageSubject
from accessflow.domain.models.questions import TEXT_QUESTION
from accessflow.service.commands import CreateData
from accessflow.service.events import ReasonDetail, RejectionReason
from accessflow.service.ports import Changes, StoredRequest
from accessflow.service.recorder import Recorder

#: A control character: orjson writes it as ``\u0001``, six bytes for one character.
COSTLIEST = "\x01"
assert len(orjson.dumps(COSTLIEST)) - 2 == limits.MAX_BYTES_PER_CHAR


def text(chars: int) -> str:
    return COSTLIEST * chars


def _subject(object_id: str) -> dict[str, object]:
    return {
        "id": text(limits.MAX_ID_CHARS),
        "displayName": text(limits.MAX_DISPLAY_CHARS),
        "email": text(limits.MAX_EMAIL_CHARS),
        "objectId": object_id,
        "onPremisesSecurityIdentifier": text(limits.MAX_SHORT_TEXT_CHARS),
        "principalName": text(limits.MAX_DISPLAY_CHARS),
        "subjectLifecycle": "notGoverned",
        "subjectType": "user",
    }


def _recurrence() -> dict[str, str]:
    """The largest recurrence whose compact JSON fits MAX_RECURRENCE_BYTES."""
    overhead = len(orjson.dumps({"pattern": ""}))
    return {"pattern": text((limits.MAX_RECURRENCE_BYTES - overhead) // limits.MAX_BYTES_PER_CHAR)}


def maximal_body() -> dict[str, object]:
    an_id = text(limits.MAX_ID_CHARS)
    schedule = {
        "startDateTime": "9999-12-30T23:59:59.999999Z",
        "expiration": {
            "endDateTime": "9999-12-31T23:59:59.999999Z",
            "duration": "P999999999DT23H59M59.999999S",
            "type": "afterDuration",
        },
        "recurrence": _recurrence(),
    }
    callout = {
        "id": an_id,
        "customExtensionId": an_id,
        "detail": text(limits.MAX_CALLOUT_DETAIL_CHARS),
        "externalCorrelationId": an_id,
        "status": "callbackTimedOut",
    }
    answer = {
        "@odata.type": "#microsoft.graph.accessPackageAnswerString",
        "value": text(limits.MAX_ANSWER_CHARS),
        "displayValue": text(limits.MAX_ANSWER_CHARS),
        "answeredQuestion": {"@odata.type": TEXT_QUESTION, "id": an_id},
    }
    return {
        "requestType": "adminAdd",
        "justification": text(limits.MAX_JUSTIFICATION_CHARS),
        "schedule": schedule,
        "answers": [answer] * limits.MAX_ANSWERS,
        "assignment": {
            "id": an_id,
            "state": "delivered",
            "status": text(limits.MAX_SHORT_TEXT_CHARS),
            "schedule": schedule,
            "expiredDateTime": "9999-12-31T23:59:59.999999Z",
            "customExtensionCalloutInstances": [callout] * limits.MAX_CALLOUT_INSTANCES,
            "targetId": an_id,
            "assignmentPolicyId": an_id,
            "accessPackageId": an_id,
            "target": _subject(an_id),
            "assignmentPolicy": {"id": an_id},
            "accessPackage": {"id": an_id},
        },
    }


def _maximal_reason() -> dict[str, object]:
    """Longer than any reason may be: the recorder cuts it to the budget."""
    detail = {"target": text(10 * limits.MAX_ID_CHARS), "message": text(100_000)}
    return {"code": text(64), "message": text(100_000), "details": [detail] * 1000}


def _maximal_stored(stored: StoredRequest) -> StoredRequest:
    """The request with a maximal requestor and package (the directory's and catalog's
    values are bounded by the same limits as a client's)."""
    request = stored.request.model_copy(
        update={
            "requestor": AccessPackageSubject.model_validate(_subject(text(limits.MAX_ID_CHARS))),
            "access_package": AccessPackage(
                id=text(limits.MAX_ID_CHARS), display_name=text(limits.MAX_DISPLAY_CHARS)
            ),
        }
    )
    return StoredRequest(request, stored.sequence, None, None, None, None)


def _sizes(changes: Changes) -> dict[str, int]:
    return {f"{e.event_type}#{i}": len(e.payload) for i, e in enumerate(changes.outbox)}


def test_the_maximal_command_is_accepted_and_within_the_command_limit() -> None:
    body = maximal_body()
    command = create("c" * limits.MAX_ID_CHARS, rid(1), body, admin=True)
    assert isinstance(command.data, CreateData)
    assert len(command.data.request.answer_list) == limits.MAX_ANSWERS
    wire = orjson.dumps({"data": {"request": body}, "id": text(256), "source": text(1024)})
    assert len(wire) < 1_000_000  # ACCESSFLOW_MAX_COMMAND_BYTES's default


async def test_every_event_of_a_maximal_create_is_within_the_budget(
    uow: InMemoryUnitOfWork,
) -> None:
    command = create(text(limits.MAX_ID_CHARS), rid(1), maximal_body(), admin=True)
    await run(uow, command)

    sizes = [len(e.payload) for e in uow.outbox_events()]
    assert len(sizes) >= 2  # submitted, then denied (no such package)
    assert max(sizes) <= limits.EVENT_BYTES_NEEDED


async def test_every_event_builder_stays_within_the_budget_for_maximal_inputs(
    uow: InMemoryUnitOfWork,
) -> None:
    command = create(text(limits.MAX_ID_CHARS), rid(1), maximal_body(), admin=True)
    await run(uow, command)
    stored = uow.request(rid(1))
    assert stored is not None
    request = _maximal_stored(stored)
    causation, traceparent = text(256), text(55)  # the envelope's id and traceparent
    changes = Changes()
    recorder = Recorder(changes, NOW)

    request.request = request.request.model_copy(update={"state": RequestState.DELIVERING})
    recorder.move(request, RequestState.DELIVERY_FAILED, causation, traceparent)
    request.request = request.request.model_copy(update={"state": RequestState.DELIVERING})
    recorder.move(
        request, RequestState.PARTIALLY_DELIVERED, causation, traceparent, reason=_maximal_reason()
    )
    request.request = request.request.model_copy(update={"state": RequestState.PENDING_APPROVAL})
    recorder.restatus(request, "PendingApprovalEscalated", causation, traceparent)
    assignment = request.request.assignment
    assert assignment is not None
    recorder.assignment_changed(
        assignment.model_copy(update={"state": AssignmentState.DELIVERED}),
        AssignmentState.DELIVERING,
        request,
        traceparent,
    )
    huge = ReasonDetail(target=text(100_000), message=text(100_000))
    reason = RejectionReason(code=text(64), message=text(100_000), details=[huge] * 1000)
    recorder.rejected(text(256), text(256), uuid.UUID(int=1), reason, traceparent)

    sizes = _sizes(changes)
    assert len(sizes) == 5
    worst = max(sizes.values())
    print(f"worst-case event: {worst} bytes; all: {sizes}")  # the figure docs/security.md quotes
    assert worst <= limits.EVENT_BYTES_NEEDED <= limits.MAX_EVENT_BYTES
