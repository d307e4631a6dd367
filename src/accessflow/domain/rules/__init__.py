"""Validation and eligibility rules: pure functions of a request, the caller, a read-only
:class:`~accessflow.domain.view.DirectoryView` and ``now``, returning a :class:`Decision`."""

from accessflow.domain.rules.approval import plan_approval, start_state
from accessflow.domain.rules.decision import (
    ApprovalPlan,
    Caller,
    Decision,
    PlannedStage,
    Resolved,
)
from accessflow.domain.rules.evaluate import evaluate_create
from accessflow.domain.rules.schedule import requested_end
from accessflow.domain.rules.subjects import resolve_subjects

__all__ = [
    "ApprovalPlan",
    "Caller",
    "Decision",
    "PlannedStage",
    "Resolved",
    "evaluate_create",
    "plan_approval",
    "requested_end",
    "resolve_subjects",
    "start_state",
]
