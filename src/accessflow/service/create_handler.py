"""Handling ``accessflow.assignmentRequest.create``: submit, decide, and move on."""

from __future__ import annotations

import uuid
from datetime import datetime

from accessflow.domain import states
from accessflow.domain.approval_states import new_approval
from accessflow.domain.codes import ReasonCode
from accessflow.domain.create_body import CreateAssignmentRequest
from accessflow.domain.enums import RequestState, SubjectType
from accessflow.domain.errors import DomainError
from accessflow.domain.models.common import AccessPackageSubject
from accessflow.domain.models.packages import AccessPackage
from accessflow.domain.models.requests import AccessPackageAssignmentRequest
from accessflow.domain.rules import Decision, evaluate_create
from accessflow.domain.view import OpenRequest
from accessflow.service.approvals import stage_timers
from accessflow.service.commands import CreateData
from accessflow.service.fulfil import Fulfilment
from accessflow.service.ports import MutableView, StoredRequest
from accessflow.service.recorder import Recorder
from accessflow.service.types import Command

S = RequestState


class CreateHandler:
    def __init__(
        self,
        recorder: Recorder,
        view: MutableView,
        requests: dict[uuid.UUID, StoredRequest],
        fulfil: Fulfilment | None = None,
    ) -> None:
        self.recorder = recorder
        self.view = view
        self.requests = requests
        self.fulfil = fulfil or Fulfilment(recorder, view)

    def handle(self, cmd: Command, data: CreateData) -> None:
        if cmd.request_id in self.requests:
            raise DomainError(
                ReasonCode.ILLEGAL_TRANSITION,
                f"request {cmd.request_id} already exists; a create needs a new requestId",
            )
        now = self.recorder.now
        decision = evaluate_create(data.request, data.requestor, self.view, now)
        stored = self._submit(cmd, data, decision)
        self.requests[cmd.request_id] = stored
        self.recorder.created(stored, cmd.id, cmd.traceparent)
        if not decision.allowed:
            reason = {"code": str(decision.reason), "message": decision.message}
            self.recorder.move(stored, S.DENIED, cmd.id, cmd.traceparent, reason=reason)
            return
        if stored.target_id and stored.access_package_id and stored.request.request_type.is_add:
            self.view.put_open_request(
                OpenRequest(str(cmd.request_id), stored.target_id, stored.access_package_id)
            )
        if decision.approval is not None:
            stored.approval = new_approval(decision.approval, str(cmd.request_id))
            self.recorder.move(stored, S.PENDING_APPROVAL, cmd.id, cmd.traceparent)
            now = self.recorder.now
            self.recorder.changes.timers.extend(stage_timers(stored.approval, stored.id, now))
            return
        self.fulfil.proceed(stored, cmd)

    def _submit(self, cmd: Command, data: CreateData, decision: Decision) -> StoredRequest:
        body = data.request
        resolved = decision.resolved
        package_id = resolved.access_package_id if resolved else body.access_package_id
        package = self.view.package(package_id) if package_id else None
        request = submitted_request(
            body,
            decision,
            cmd.request_id,
            self.recorder.now,
            requestor=self._subject(data.requestor.object_id),
            access_package=_slim(package),
        )
        return StoredRequest(
            request=request,
            sequence=1,
            target_id=(resolved.target_id if resolved else None) or body.target_id,
            access_package_id=package_id,
            requestor_id=data.requestor.object_id,
            assignment_id=(resolved.assignment_id if resolved else None) or body.assignment_id,
        )

    def _subject(self, object_id: str) -> AccessPackageSubject:
        user = self.view.user(object_id)
        return AccessPackageSubject(
            object_id=object_id,
            display_name=user.display_name if user else None,
            email=user.mail if user else None,
            subject_type=SubjectType.USER,
        )


def submitted_request(
    body: CreateAssignmentRequest,
    decision: Decision,
    request_id: uuid.UUID,
    now: datetime,
    *,
    requestor: AccessPackageSubject | None = None,
    access_package: AccessPackage | None = None,
) -> AccessPackageAssignmentRequest:
    """The request as it is recorded on ``submitted``, its assignment naming what the rules
    resolved (package, policy, target): the worker's record and the API's create answer."""
    resolved = decision.resolved
    assignment = body.assignment.model_copy(
        update={
            "access_package_id": (
                resolved.access_package_id if resolved else body.access_package_id
            ),
            "assignment_policy_id": (
                resolved.assignment_policy_id if resolved else body.assignment_policy_id
            ),
            "target_id": (resolved.target_id if resolved else None) or body.target_id,
        }
    )
    return states.submit(
        body.model_copy(update={"assignment": assignment}),
        request_id=str(request_id),
        now=now,
        requestor=requestor,
        access_package=access_package,
    )


def create_lookups(
    requestor_id: str, body: CreateAssignmentRequest
) -> tuple[set[str], set[str], set[str]]:
    """The user ids, mails and assignment ids the create rules may look up: the view both
    the worker's batch and the API's pre-check read."""
    users = {requestor_id}
    if body.target_id:
        users.add(body.target_id)
    mails = {body.target_email} if body.target_email else set()
    assignments = {body.assignment_id} if body.assignment_id else set()
    return users, mails, assignments


def _slim(package: AccessPackage | None) -> AccessPackage | None:
    """Events carry the package's identity, not its whole resource list."""
    if package is None:
        return None
    return AccessPackage(id=package.id, display_name=package.display_name)
