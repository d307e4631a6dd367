"""Access that really ends: at an assignment's end, accessflow files a ``systemRemove``
request of its own (with its own events), which revokes every grant and marks the
assignment ``expired``.

The expiry timer is set whenever an assignment is delivered or its schedule changes; each
timer carries the end it was set for, so one made stale by an extension does nothing. An end
that arrives while the assignment's add still waits on an outside connector is postponed
(:func:`postponed_expiry`) until that add has settled.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from accessflow.domain import states
from accessflow.domain.create_body import CreateAssignmentRequest
from accessflow.domain.enums import AssignmentState, RequestType
from accessflow.domain.models.base import format_utc
from accessflow.domain.models.packages import AccessPackage
from accessflow.domain.models.requests import AccessPackageAssignment
from accessflow.domain.rules import requested_end
from accessflow.service.ports import StoredRequest, Timer
from accessflow.service.types import TimerFired

EXPIRY = "assignmentExpiry"
EXPIRY_NAMESPACE = uuid.UUID("d6a1e2f3-0b4c-5d6e-9f70-8a1b2c3d4e5f")
#: How long an end that came while the add was still being delivered waits before it is
#: tried again: removing then would turn grants the delivery loop may be sending into
#: revokes, and the add would never settle. Short, as access should not outlive its end by
#: much; the add settles within the delivery's rounds, so the retries are bounded.
EXPIRY_RETRY = timedelta(seconds=60)


def expiry_timer(assignment: AccessPackageAssignment, cause: uuid.UUID) -> Timer | None:
    """The timer that ends ``assignment``, or None when it has no end."""
    schedule = assignment.schedule
    if assignment.id is None or schedule is None or schedule.start_date_time is None:
        return None
    end = requested_end(schedule, schedule.start_date_time)
    if end is None:
        return None
    stamp = format_utc(end)
    return Timer.make(
        EXPIRY, cause, end, f"{assignment.id}:{stamp}", assignmentId=assignment.id, end=stamp
    )


def _still_ends(fired: TimerFired, assignment: AccessPackageAssignment, now: datetime) -> bool:
    """Whether ``assignment`` is live and still ends at the end ``fired`` was set for."""
    schedule = assignment.schedule
    if assignment.id is None or not assignment.is_live or schedule is None:
        return False
    end = requested_end(schedule, schedule.start_date_time or now)
    # Extended or shortened since: a newer timer carries the new end.
    return end is not None and format_utc(end) == fired.payload.get("end")


def postponed_expiry(
    fired: TimerFired, assignment: AccessPackageAssignment, now: datetime
) -> Timer | None:
    """The same expiry again, :data:`EXPIRY_RETRY` from ``now``, when ``assignment`` is
    still being delivered (the state the rules refuse a removal in); else None."""
    if assignment.state is not AssignmentState.DELIVERING:
        return None
    if not _still_ends(fired, assignment, now):
        return None
    end = fired.payload.get("end")
    # Keyed by the timer that fired, not the clock: a batch re-run after a crash writes the
    # same timer, and each postponement is a timer of its own.
    key = f"{assignment.id}:{end}:after:{fired.id}"
    return Timer.make(
        EXPIRY, fired.request_id, now + EXPIRY_RETRY, key, assignmentId=assignment.id, end=end
    )


def removal_request(
    fired: TimerFired,
    assignment: AccessPackageAssignment,
    package: AccessPackage | None,
    requests: dict[uuid.UUID, StoredRequest],
    now: datetime,
) -> StoredRequest | None:
    """The ``systemRemove`` request an expiry files, or None when it no longer applies."""
    if not _still_ends(fired, assignment, now):
        return None
    request_id = uuid.uuid5(EXPIRY_NAMESPACE, f"{assignment.id}:{fired.payload.get('end')}")
    if request_id in requests:
        return None
    body = CreateAssignmentRequest.model_construct(
        request_type=RequestType.SYSTEM_REMOVE,
        justification="The assignment reached the end of its schedule.",
        schedule=None,
        answers=None,
        assignment=AccessPackageAssignment(id=assignment.id),
    )
    request = states.submit(
        body,
        request_id=str(request_id),
        now=now,
        access_package=AccessPackage(id=package.id, display_name=package.display_name)
        if package
        else None,
    )
    return StoredRequest(
        request=request,
        sequence=1,
        target_id=assignment.target_ref,
        access_package_id=assignment.access_package_id,
        requestor_id=None,
        assignment_id=assignment.id,
    )
