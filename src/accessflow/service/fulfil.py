"""Moving an allowed request on: to ``scheduled``, or to ``delivering`` and through delivery
to its outcome. Shared by create, approval decisions and reprocess."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from accessflow.domain.codes import ReasonCode
from accessflow.domain.enums import AssignmentState, RequestState, UserType
from accessflow.domain.models.common import EntitlementManagementSchedule
from accessflow.domain.models.packages import DirectoryUser
from accessflow.domain.models.requests import AccessPackageAssignment
from accessflow.domain.rules import start_state
from accessflow.domain.states import OPEN_STATES
from accessflow.service.expiry import expiry_timer
from accessflow.service.grants import (
    assignment_id_for,
    failed_keys,
    grant_all,
    revoke_all,
    settle,
)
from accessflow.service.ports import Grant, MutableView, StoredRequest, Timer
from accessflow.service.recorder import Recorder
from accessflow.service.types import Command, TimerFired

S = RequestState
SUBJECT_NAMESPACE = uuid.UUID("b3f0c2d4-8e6a-5f1b-9c7d-2a4e6f8b0c1d")
SCHEDULED_START = "scheduledStart"
Cause = Command | TimerFired


class Fulfilment:
    def __init__(self, recorder: Recorder, view: MutableView, grants: Iterable[Grant] = ()) -> None:
        self.recorder = recorder
        self.view = view
        self._traceparent: str | None = None
        #: Grant rows by assignment id (lower case) and scope: loaded for the assignments
        #: the batch touches, kept current as the batch writes more.
        self.grants: dict[str, dict[str, Grant]] = {}
        self._remember(grants)

    def _remember(self, grants: Iterable[Grant]) -> None:
        for grant in grants:
            book = self.grants.setdefault(str(grant.assignment_id).lower(), {})
            book[grant.resource_scope_id] = grant

    def grants_of(self, assignment_id: str | None) -> dict[str, Grant]:
        return self.grants.get((assignment_id or "").lower(), {})

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

    def deliver(self, stored: StoredRequest, cmd: Cause, *, again: bool = False) -> None:
        """Deliver (``again``: re-send only what failed, for a reprocess). The request settles
        now when nothing waits on an outside connector, else when the last result is in."""
        self._traceparent = cmd.traceparent
        request_type = stored.request.request_type
        if request_type.is_update:
            self._update(stored)
            self.recorder.move(stored, S.DELIVERED, cmd.id, cmd.traceparent)
            self.close_if_done(stored)
            return
        grants = self.grants_of(stored.assignment_id).values()
        only = failed_keys(grants, removal=request_type.is_remove) if again else None
        if request_type.is_remove:
            self._remove(stored, only)
            self.settle(stored, cmd)
            return
        draft = self._add(stored, only)
        if isinstance(draft, dict):
            self.recorder.move(stored, S.DELIVERY_FAILED, cmd.id, cmd.traceparent, reason=draft)
            self.close_if_done(stored)
        else:
            self.settle(stored, cmd, draft)

    def settle(
        self,
        stored: StoredRequest,
        cause: Cause,
        draft: AccessPackageAssignment | None = None,
    ) -> None:
        """Move a delivering request to its outcome once none of its grants waits (an add's
        assignment shows ``delivering`` until then)."""
        if stored.request.state is not S.DELIVERING:
            return
        result = settle(self.grants_of(stored.assignment_id).values())
        is_add = not stored.request.request_type.is_remove
        assignment = draft or self.view.assignment(stored.assignment_id or "")
        if result is None:
            if is_add and draft is not None:
                delivering = {"state": AssignmentState.DELIVERING, "status": "Delivering"}
                self._put(draft.model_copy(update=delivering), stored, settled=False)
            return
        if is_add and assignment is not None:
            state = result.state.value
            outcome = {"state": result.assignment_state, "status": state[0].upper() + state[1:]}
            self._put(assignment.model_copy(update=outcome), stored)
        reason = result.reason()
        self.recorder.move(stored, result.state, cause.id, cause.traceparent, reason=reason)
        self.close_if_done(stored)

    def close_if_done(self, stored: StoredRequest) -> None:
        if stored.request.state not in OPEN_STATES:
            self.view.close_request(stored.request.id)

    def _add(
        self, stored: StoredRequest, only: set[str] | None
    ) -> AccessPackageAssignment | dict[str, str]:
        """Grant the package: the assignment to put, or a reason when it cannot start."""
        package = self.view.package(stored.access_package_id or "")
        if stored.target_id is None:
            stored.target_id = self._new_subject(stored)
        if package is None or stored.target_id is None:
            why = "the access package is gone" if package is None else "the target has no account"
            return {"code": ReasonCode.RESOURCE_UNAVAILABLE.value, "message": why}
        assignment_id = assignment_id_for(stored.id)
        stored.assignment_id = str(assignment_id)
        self._remember(
            grant_all(
                package,
                stored.target_id,
                assignment_id,
                stored.id,
                self.recorder.changes,
                self.now,
                only,
                self.grants_of(stored.assignment_id),
            )
        )
        existing = self.view.assignment(stored.assignment_id)
        if existing is not None:  # a reprocess: the same assignment, delivered further
            return existing
        body_assignment = stored.request.assignment or AccessPackageAssignment()
        return AccessPackageAssignment(
            id=str(assignment_id),
            schedule=self._schedule(stored),
            target_id=stored.target_id,
            access_package_id=package.id,
            assignment_policy_id=body_assignment.policy_ref,
        )

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

    def _remove(self, stored: StoredRequest, only: set[str] | None) -> None:
        existing = self.view.assignment(stored.assignment_id or "")
        if existing is None or existing.id is None or existing.target_ref is None:
            return  # already gone: removing it again is a no-op
        package = self.view.package(existing.access_package_id or "")
        self._remember(
            revoke_all(
                package,
                existing.target_ref,
                uuid.UUID(existing.id),
                stored.id,
                self.view,
                self.recorder.changes,
                self.now,
                self.grants_of(existing.id),
                only,
            )
        )
        if existing.state is not AssignmentState.EXPIRED:
            # Access ends now in accessflow's eyes (the slot is free for a new request);
            # the removal request stays delivering until outside revokes are confirmed.
            expired = {
                "state": AssignmentState.EXPIRED,
                "status": "Expired",
                "expired_date_time": self.now,
            }
            self._put(existing.model_copy(update=expired), stored)

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

    def _put(
        self, assignment: AccessPackageAssignment, cause: StoredRequest, *, settled: bool = True
    ) -> None:
        assert assignment.id is not None
        before = self.view.assignment(assignment.id)
        previous = before.state if before is not None else None
        self.recorder.changes.assignments[assignment.id] = assignment
        self.view.put_assignment(assignment)
        if previous != assignment.state:
            self.recorder.assignment_changed(
                assignment, previous, cause, self._traceparent, before_next_move=settled
            )
        if assignment.is_live:
            timer = expiry_timer(assignment, cause.id)
            if timer is not None:
                self.recorder.changes.timers.append(timer)
