"""Stable, machine-readable reason codes and how each surfaces as a Graph error.

Microsoft documents no create-specific error codes (spec §3.4, §7), so the Graph ``code``
values below use the generic Graph vocabulary (plus ``conflict`` for 409s); the PascalCase
reason code is what events and ``error.details`` carry. Clients branch on these, never on
messages, so a member is never renamed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class CodeInfo(NamedTuple):
    http_status: int
    graph_code: str
    retriable: bool
    meaning: str


class ReasonCode(StrEnum):
    # Malformed input.
    INVALID_REQUEST = "InvalidRequest"
    REQUEST_TYPE_NOT_SUPPORTED = "RequestTypeNotSupported"
    INVALID_COMMAND = "InvalidCommand"
    INVALID_CATALOG = "InvalidCatalog"
    # Things referenced that do not exist.
    ACCESS_PACKAGE_NOT_FOUND = "AccessPackageNotFound"
    POLICY_NOT_FOUND = "PolicyNotFound"
    ASSIGNMENT_NOT_FOUND = "AssignmentNotFound"
    TARGET_NOT_FOUND = "TargetNotFound"
    REQUEST_NOT_FOUND = "RequestNotFound"
    APPROVAL_STAGE_NOT_FOUND = "ApprovalStageNotFound"
    # Eligibility.
    REQUEST_TYPE_NOT_ALLOWED = "RequestTypeNotAllowed"
    REQUESTOR_NOT_ALLOWED = "RequestorNotAllowed"
    TARGET_NOT_IN_SCOPE = "TargetNotInScope"
    NOT_AN_APPROVER = "NotAnApprover"
    # Request content.
    JUSTIFICATION_REQUIRED = "JustificationRequired"
    ANSWER_REQUIRED = "AnswerRequired"
    INVALID_ANSWER = "InvalidAnswer"
    CUSTOM_SCHEDULE_NOT_ALLOWED = "CustomScheduleNotAllowed"
    INVALID_SCHEDULE = "InvalidSchedule"
    # Conflicts with existing state.
    EXISTING_OPEN_REQUEST = "ExistingOpenRequest"
    ALREADY_ASSIGNED = "AlreadyAssigned"
    INCOMPATIBLE_ACCESS_PACKAGE = "IncompatibleAccessPackage"
    APPROVER_NOT_FOUND = "ApproverNotFound"
    ILLEGAL_TRANSITION = "IllegalTransition"
    STAGE_ALREADY_DECIDED = "StageAlreadyDecided"
    REPROCESS_WINDOW_EXPIRED = "ReprocessWindowExpired"
    # Outcomes the worker records as the reason of a terminal state.
    APPROVER_DENIED = "ApproverDenied"
    APPROVAL_TIMED_OUT = "ApprovalTimedOut"
    CANCELED_BY_REQUESTOR = "CanceledByRequestor"
    RESOURCE_UNAVAILABLE = "ResourceUnavailable"
    RESOURCE_GRANT_FAILED = "ResourceGrantFailed"

    @property
    def info(self) -> CodeInfo:
        return CODE_INFO[self]

    @property
    def http_status(self) -> int:
        return CODE_INFO[self].http_status

    @property
    def graph_code(self) -> str:
        return CODE_INFO[self].graph_code

    @property
    def retriable(self) -> bool:
        return CODE_INFO[self].retriable

    @property
    def meaning(self) -> str:
        return CODE_INFO[self].meaning


_R = ReasonCode
_BAD, _DENIED, _MISSING, _CONFLICT = "invalidRequest", "accessDenied", "itemNotFound", "conflict"

CODE_INFO: dict[ReasonCode, CodeInfo] = {
    _R.INVALID_REQUEST: CodeInfo(400, _BAD, False, "The body is not a valid request."),
    _R.REQUEST_TYPE_NOT_SUPPORTED: CodeInfo(
        400, "notSupported", False, "system* and onBehalfAdd are never accepted from clients."
    ),
    _R.INVALID_COMMAND: CodeInfo(400, _BAD, False, "A command's data is malformed."),
    _R.INVALID_CATALOG: CodeInfo(400, _BAD, False, "The catalog file has problems."),
    _R.ACCESS_PACKAGE_NOT_FOUND: CodeInfo(404, _MISSING, False, "No such access package."),
    _R.POLICY_NOT_FOUND: CodeInfo(
        404, _MISSING, False, "No such policy, or it belongs to another access package."
    ),
    _R.ASSIGNMENT_NOT_FOUND: CodeInfo(
        404, _MISSING, False, "Update or remove of an assignment that does not exist."
    ),
    _R.TARGET_NOT_FOUND: CodeInfo(404, _MISSING, False, "The target user is not known."),
    _R.REQUEST_NOT_FOUND: CodeInfo(404, _MISSING, False, "No such assignment request."),
    _R.APPROVAL_STAGE_NOT_FOUND: CodeInfo(404, _MISSING, False, "No such approval stage."),
    _R.REQUEST_TYPE_NOT_ALLOWED: CodeInfo(
        403, _DENIED, False, "The policy's requestorSettings do not enable this request type."
    ),
    _R.REQUESTOR_NOT_ALLOWED: CodeInfo(
        403, _DENIED, False, "The caller may not make this request for this target."
    ),
    _R.TARGET_NOT_IN_SCOPE: CodeInfo(
        403, _DENIED, False, "The target is outside the policy's allowed targets."
    ),
    _R.NOT_AN_APPROVER: CodeInfo(
        403, _DENIED, False, "The reviewer is not an approver of this stage (or is the requestor)."
    ),
    _R.JUSTIFICATION_REQUIRED: CodeInfo(400, _BAD, False, "The policy requires a justification."),
    _R.ANSWER_REQUIRED: CodeInfo(400, _BAD, False, "A required question is unanswered."),
    _R.INVALID_ANSWER: CodeInfo(
        400, _BAD, False, "An answer names an unknown question, an invalid choice or fails regex."
    ),
    _R.CUSTOM_SCHEDULE_NOT_ALLOWED: CodeInfo(
        400, _BAD, False, "The policy does not allow a custom assignment schedule."
    ),
    _R.INVALID_SCHEDULE: CodeInfo(400, _BAD, False, "The schedule is malformed or out of bounds."),
    _R.EXISTING_OPEN_REQUEST: CodeInfo(
        409, _CONFLICT, False, "An open request exists for the same target and package."
    ),
    _R.ALREADY_ASSIGNED: CodeInfo(409, _CONFLICT, False, "The target already has the package."),
    _R.INCOMPATIBLE_ACCESS_PACKAGE: CodeInfo(
        409, _CONFLICT, False, "The target holds or requested an incompatible package."
    ),
    _R.APPROVER_NOT_FOUND: CodeInfo(
        409, _CONFLICT, False, "An approval stage resolves to no approver, fallbacks included."
    ),
    _R.ILLEGAL_TRANSITION: CodeInfo(
        409, _CONFLICT, False, "The request's state does not allow this operation."
    ),
    _R.STAGE_ALREADY_DECIDED: CodeInfo(
        409, _CONFLICT, False, "The approval stage was already decided."
    ),
    _R.REPROCESS_WINDOW_EXPIRED: CodeInfo(
        400, _BAD, False, "Reprocess asked for after the reprocess window closed."
    ),
    _R.APPROVER_DENIED: CodeInfo(409, _CONFLICT, False, "An approver denied the request."),
    _R.APPROVAL_TIMED_OUT: CodeInfo(
        409, _CONFLICT, False, "No decision before the stage's durationBeforeAutomaticDenial."
    ),
    _R.CANCELED_BY_REQUESTOR: CodeInfo(409, _CONFLICT, False, "The request was canceled."),
    _R.RESOURCE_UNAVAILABLE: CodeInfo(
        503, "serviceNotAvailable", True, "A resource could not be reached; retried."
    ),
    _R.RESOURCE_GRANT_FAILED: CodeInfo(
        500, "generalException", False, "A resource refused the grant."
    ),
}
