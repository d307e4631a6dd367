"""Handling cancel, reprocess and approval decisions on an existing request."""

from __future__ import annotations

import uuid
from datetime import timedelta

from accessflow.domain import approval_states, states
from accessflow.domain.codes import ReasonCode
from accessflow.domain.enums import RequestState
from accessflow.domain.errors import DomainError, IllegalTransition
from accessflow.domain.rules import Caller
from accessflow.service.approvals import ESCALATION, TIMEOUT, stage_timers
from accessflow.service.commands import CancelData, DecideData, ReprocessData
from accessflow.service.expiry import EXPIRY, postponed_expiry, removal_request
from accessflow.service.fulfil import SCHEDULED_START, Fulfilment
from accessflow.service.ports import MutableView, StoredRequest
from accessflow.service.recorder import Recorder
from accessflow.service.types import Command, TimerFired

S = RequestState


class LifecycleHandler:
    def __init__(
        self,
        recorder: Recorder,
        view: MutableView,
        requests: dict[uuid.UUID, StoredRequest],
        fulfil: Fulfilment | None = None,
        reprocess_window: timedelta = states.DEFAULT_REPROCESS_WINDOW,
    ) -> None:
        self.reprocess_window = reprocess_window
        self.recorder = recorder
        self.requests = requests
        self.view = view
        self.fulfil = fulfil or Fulfilment(recorder, view)

    def _existing(self, cmd: Command) -> StoredRequest:
        stored = self.requests.get(cmd.request_id)
        if stored is None:
            raise DomainError(ReasonCode.REQUEST_NOT_FOUND, f"no request {cmd.request_id}")
        return stored

    def _authorize(self, stored: StoredRequest, caller: Caller) -> None:
        """The requestor, the person the request is for, or an admin."""
        mine = {x.casefold() for x in (stored.requestor_id, stored.target_id) if x}
        if not caller.is_admin and caller.object_id.casefold() not in mine:
            raise DomainError(
                ReasonCode.REQUESTOR_NOT_ALLOWED,
                "only the requestor, the target or an admin may do this",
            )

    def cancel(self, cmd: Command, data: CancelData) -> None:
        stored = self._existing(cmd)
        self._authorize(stored, data.requestor)
        if stored.request.state not in states.CANCELLABLE_STATES:
            raise IllegalTransition(stored.request.state, S.CANCELED)
        reason = {
            "code": ReasonCode.CANCELED_BY_REQUESTOR.value,
            "message": f"canceled by {data.requestor.object_id}",
        }
        self.recorder.move(stored, S.CANCELED, cmd.id, cmd.traceparent, reason=reason)
        self.fulfil.close_if_done(stored)

    def reprocess(self, cmd: Command, data: ReprocessData) -> None:
        stored = self._existing(cmd)
        self._authorize(stored, data.requestor)
        # Raises when not allowed: wrong state, or completed longer than the window ago.
        states.reprocess(stored.request, now=self.recorder.now, window=self.reprocess_window)
        self.recorder.move(stored, S.DELIVERING, cmd.id, cmd.traceparent)
        self.fulfil.deliver(stored, cmd, again=True)

    def decide(self, cmd: Command, data: DecideData) -> None:
        stored = self._existing(cmd)
        if stored.request.state is not S.PENDING_APPROVAL or stored.approval is None:
            raise IllegalTransition(
                stored.request.state, S.PENDING_APPROVAL, "the request is not pending approval"
            )
        approve = data.review_result == "Approve"
        stored.approval, done = approval_states.decide(
            stored.approval,
            data.stage_id,
            data.reviewer.object_id,
            approve,
            data.justification,
            self.recorder.now,
        )
        self.recorder.changes.requests[stored.id] = stored  # the approval record changed
        if not approve:
            reason = {
                "code": ReasonCode.APPROVER_DENIED.value,
                "message": f"denied by {data.reviewer.object_id}",
            }
            self.recorder.move(stored, S.DENIED, cmd.id, cmd.traceparent, reason=reason)
            self.fulfil.close_if_done(stored)
        elif done:
            self.fulfil.proceed(stored, cmd)
        else:  # the next stage is in progress, with deadlines of its own
            now = self.recorder.now
            self.recorder.changes.timers.extend(stage_timers(stored.approval, stored.id, now))

    def timer(self, fired: TimerFired) -> None:
        """A due timer's effect, if the request is still where the timer expected it."""
        stored = self.requests.get(fired.request_id)
        if stored is None:
            return
        state = stored.request.state
        if fired.kind == SCHEDULED_START and state is S.SCHEDULED:
            self.recorder.move(stored, S.DELIVERING, fired.id, None)
            self.fulfil.deliver(stored, fired)
        elif fired.kind in (ESCALATION, TIMEOUT) and state is S.PENDING_APPROVAL:
            self._approval_deadline(stored, fired)
        elif fired.kind == EXPIRY:
            self._expire(fired)

    def _expire(self, fired: TimerFired) -> None:
        assignment = self.view.assignment(str(fired.payload.get("assignmentId", "")))
        if assignment is None:
            return
        later = postponed_expiry(fired, assignment, self.recorder.now)
        if later is not None:  # its add still waits on a connector: remove once it settles
            self.recorder.changes.timers.append(later)
            return
        package = self.view.package(assignment.access_package_id or "")
        removal = removal_request(fired, assignment, package, self.requests, self.recorder.now)
        if removal is None:
            return
        self.requests[removal.id] = removal
        self.recorder.created(removal, fired.id, None)
        self.recorder.move(removal, S.DELIVERING, fired.id, None)
        self.fulfil.deliver(removal, fired)

    def _approval_deadline(self, stored: StoredRequest, fired: TimerFired) -> None:
        approval = stored.approval
        stage = approval.current() if approval else None
        if approval is None or stage is None or stage.index != fired.payload.get("stage"):
            return  # the stage was decided before its deadline
        self.recorder.changes.requests[stored.id] = stored
        if fired.kind == ESCALATION and not stage.escalated:
            stored.approval = approval_states.escalate(approval, stage)
            self.recorder.restatus(stored, "PendingApprovalEscalated", fired.id, None)
        elif fired.kind == TIMEOUT:
            stored.approval = approval_states.expire(approval, stage)
            reason = {
                "code": ReasonCode.APPROVAL_TIMED_OUT.value,
                "message": f"approval stage {stage.index + 1} was not decided in time",
            }
            self.recorder.move(stored, S.DENIED, fired.id, None, reason=reason)
            self.fulfil.close_if_done(stored)
