"""The deadlines of a request's approval: escalation and automatic denial, per stage.

The approval itself (its stages and how a decision moves them) is the state machine in
:mod:`accessflow.domain.approval_states`; this module turns its stage in progress into
durable timers.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from accessflow.domain.approval_states import ApprovalRecord
from accessflow.service.ports import Timer

ESCALATION = "approvalEscalation"
TIMEOUT = "approvalTimeout"


def stage_timers(approval: ApprovalRecord, request_id: uuid.UUID, now: datetime) -> list[Timer]:
    """The escalation and automatic-denial timers of the stage now in progress."""
    stage = approval.current()
    if stage is None:
        return []
    timers = []
    index = stage.index
    if stage.escalate_after_seconds is not None:
        due = now + timedelta(seconds=stage.escalate_after_seconds)
        timers.append(Timer.make(ESCALATION, request_id, due, str(index), stage=index))
    if stage.deny_after_seconds is not None:
        due = now + timedelta(seconds=stage.deny_after_seconds)
        timers.append(Timer.make(TIMEOUT, request_id, due, str(index), stage=index))
    return timers
