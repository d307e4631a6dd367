"""Moving an allowed request on: to ``scheduled``, or to ``delivering`` and through delivery
to its outcome. Shared by create, approval decisions and reprocess."""

from __future__ import annotations

import uuid
from datetime import datetime

from accessflow.domain.enums import AssignmentState, RequestState, UserType
from accessflow.domain.models.common import EntitlementManagementSchedule
from accessflow.domain.models.packages import DirectoryUser
from accessflow.domain.models.requests import AccessPackageAssignment
from accessflow.domain.rules import start_state
from accessflow.domain.states import OPEN_STATES
from accessflow.service.delivery import assignment_id_for, grant_all, revoke_all
from accessflow.service.expiry import expiry_timer
from accessflow.service.ports import MutableView, StoredRequest, Timer
from accessflow.service.recorder import Recorder
from accessflow.service.types import Command, TimerFired

S = RequestState
SUBJECT_NAMESPACE = uuid.UUID("b3f0c2d4-8e6a-5f1b-9c7d-2a4e6f8b0c1d")
SCHEDULED_START = "scheduledStart"
Cause = Command | TimerFired


class Fulfilment:
    def __init__(self, recorder: Recorder, view: MutableView) -> None:
        self.recorder = recorder
        self.view = view
        self._traceparent: str | None = None

    @property
    def now(self) -> datetime:
        return self.recorder.now

    def proceed(self, stored: StoredRequest, cmd: Cause) -> None:
        """Approved, or no approval needed: wait for the start, or deliver now."""
        request = stored.request
        nxt = (
            S.DELIVERING
            if request.request_type.is_remove
            else start_state(request.schedule, self.now)
        )
        if nxt is S.SCHEDULED and request.schedule and request.schedule.start_date_time:
            self.recorder.move(stored, S.SCHEDULED, cmd.id, cmd.traceparent)
            due = request.schedule.start_date_time
            self.recorder.changes.timers.append(Timer.make(SCHEDULED_START, stored.id, due))
            return
        self.recorder.move(stored, S.DELIVERING, cmd.id, cmd.traceparent)
        self.deliver(stored, cmd)

    def deliver(self, stored: StoredRequest, cmd: Cause) -> None:
        self._traceparent = cmd.traceparent
        request_type = stored.request.request_type
        if request_type.is_remove:
            self._remove(stored)
            outcome, reason = S.DELIVERED, None
        elif request_type.is_update:
            self._update(stored)
            outcome, reason = S.DELIVERED, None
        else:
            outcome, reason = self._add(stored)
        self.recorder.move(stored, outcome, cmd.id, cmd.traceparent, reason=reason)
        self.close_if_done(stored)

    def close_if_done(self, stored: StoredRequest) -> None:
        if stored.request.state not in OPEN_STATES:
            self.view.close_request(stored.request.id)

    def _add(self, stored: StoredRequest) -> tuple[RequestState, dict[str, str] | None]:
        package = self.view.package(stored.access_package_id or "")
        if stored.target_id is None:
            stored.target_id = self._new_subject(stored)
        if package is None or stored.target_id is None:
            why = "the access package is gone" if package is None else "the target has no account"
            return S.DELIVERY_FAILED, {"code": "ResourceUnavailable", "message": why}
        assignment_id = assignment_id_for(stored.id)
        result = grant_all(package, stored.target_id, assignment_id, self.recorder.changes)
        request = stored.request
        body_assignment = request.assignment or AccessPackageAssignment()
        assignment = AccessPackageAssignment(
            id=str(assignment_id),
            state=result.assignment_state,
            status=result.state.value.capitalize(),
            schedule=self._schedule(stored),
            target_id=stored.target_id,
            access_package_id=package.id,
            assignment_policy_id=body_assignment.policy_ref,
        )
        self._put(assignment, stored)
        stored.assignment_id = str(assignment_id)
        return result.state, result.reason()

    def _new_subject(self, stored: StoredRequest) -> str | None:
        """adminAdd for someone not in the directory yet: as Graph does, delivery creates the
        subject, as a guest identified by their mail."""
        target = stored.request.assignment.target if stored.request.assignment else None
        if target is None or not target.email:
            return None
        existing = self.view.user_by_mail(target.email)
        if existing is not None:
            return existing.id
        user = DirectoryUser(
            id=str(uuid.uuid5(SUBJECT_NAMESPACE, target.email.lower())),
            display_name=target.display_name or target.email,
            mail=target.email,
            user_type=UserType.GUEST,
        )
        self.recorder.changes.users_created.append(user)
        return user.id

    def _remove(self, stored: StoredRequest) -> None:
        existing = self.view.assignment(stored.assignment_id or "")
        if existing is None or existing.id is None:
            return  # already gone: removing it again is a no-op
        package = self.view.package(existing.access_package_id or "")
        if package is not None and existing.target_ref is not None:
            revoke_all(
                package,
                existing.target_ref,
                uuid.UUID(existing.id),
                self.view,
                self.recorder.changes,
            )
        self._put(
            existing.model_copy(
                update={
                    "state": AssignmentState.EXPIRED,
                    "status": "Expired",
                    "expired_date_time": self.now,
                }
            ),
            stored,
        )

    def _update(self, stored: StoredRequest) -> None:
        existing = self.view.assignment(stored.assignment_id or "")
        if existing is not None and stored.request.schedule is not None:
            self._put(existing.model_copy(update={"schedule": stored.request.schedule}), stored)

    def _schedule(self, stored: StoredRequest) -> EntitlementManagementSchedule:
        requested = stored.request.schedule
        if requested is not None and not requested.is_empty:
            return requested
        policy_ref = stored.request.assignment.policy_ref if stored.request.assignment else None
        policy = self.view.policy(policy_ref or "")
        return EntitlementManagementSchedule(
            start_date_time=self.now, expiration=policy.expiration if policy else None
        )

    def _put(self, assignment: AccessPackageAssignment, cause: StoredRequest) -> None:
        assert assignment.id is not None
        before = self.view.assignment(assignment.id)
        previous = before.state if before is not None else None
        self.recorder.changes.assignments[assignment.id] = assignment
        self.view.put_assignment(assignment)
        if previous != assignment.state:
            self.recorder.assignment_changed(assignment, previous, cause, self._traceparent)
        if assignment.is_live:
            timer = expiry_timer(assignment, cause.id)
            if timer is not None:
                self.recorder.changes.timers.append(timer)
