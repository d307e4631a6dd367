"""What the rules return: a :class:`Decision` with a stable reason code, and on approval the
resolved :class:`ApprovalPlan`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn

from pydantic import Field

from accessflow.domain.codes import ReasonCode
from accessflow.domain.enums import RequestState
from accessflow.domain.errors import ErrorDetail, RuleViolationError
from accessflow.domain.models.base import InboundModel
from accessflow.domain.models.text import IdText


class Caller(InboundModel):
    """Who sends the request, as the producing service vouches for it (``data.requestor``).
    ``isAdmin``: the caller holds an entitlement-management role, needed for admin* types."""

    object_id: IdText = Field(min_length=1)
    is_admin: bool = False


@dataclass(frozen=True)
class PlannedStage:
    """One approval stage with its approvers resolved to user ids (requestor and target
    removed, since nobody approves their own request)."""

    index: int
    approvers: frozenset[str]
    escalation_approvers: frozenset[str]
    used_fallback: bool
    duration_before_automatic_denial: timedelta | None
    duration_before_escalation: timedelta | None
    is_escalation_enabled: bool
    is_approver_justification_required: bool


@dataclass(frozen=True)
class ApprovalPlan:
    stages: tuple[PlannedStage, ...]


@dataclass(frozen=True)
class Resolved:
    """The ids a request turned out to be about, after defaults and look-ups."""

    access_package_id: str
    assignment_policy_id: str
    target_id: str | None  # None: adminAdd for a subject not yet in the directory
    target_email: str | None = None
    assignment_id: str | None = None
    on_behalf: bool = False


@dataclass(frozen=True)
class Decision:
    """Allowed (``reason is None``) with where the request goes next, or denied with why."""

    next_state: RequestState
    reason: ReasonCode | None = None
    message: str = ""
    path: str | None = None
    resolved: Resolved | None = None
    approval: ApprovalPlan | None = None

    @property
    def allowed(self) -> bool:
        return self.reason is None

    def raise_if_denied(self) -> None:
        if self.reason is not None:
            details = [ErrorDetail(self.path, self.message)] if self.path is not None else []
            raise RuleViolationError(self.reason, self.message, details=details)

    @classmethod
    def deny(cls, violation: RuleViolationError) -> Decision:
        path = violation.details[0].path if violation.details else None
        return cls(RequestState.DENIED, violation.code, violation.message, path)


def deny(code: ReasonCode, message: str, path: str | None = None) -> NoReturn:
    """Stop evaluating: the request is refused with ``code``."""
    details = [ErrorDetail(path, message)] if path is not None else []
    raise RuleViolationError(code, message, details=details)
