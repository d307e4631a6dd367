"""Graph representations built from what the worker stored: requests (with ``$select`` and
``$expand``), their transition history, assignments, and approvals (``approval`` /
``approvalStage``, spec §4.8)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from accessflow.adapters.postgres.pool import Conn
from accessflow.adapters.postgres.queries import get_assignments, get_catalog_objects
from accessflow.adapters.postgres.queries_history import get_history
from accessflow.api.auth import Principal
from accessflow.domain.models.approvals import UNREVIEWED_ID, Approval, ApprovalStage, Identity
from accessflow.domain.models.base import format_utc
from accessflow.domain.models.requests import to_graph
from accessflow.service.read_model import HistoryRow, RequestRow

#: Navigation properties: only present when asked for with ``$expand``.
NAVIGATION = ("accessPackage", "assignment", "requestor", "history")
REQUEST_PROPERTIES = frozenset(
    {
        "id",
        "requestType",
        "state",
        "status",
        "createdDateTime",
        "completedDateTime",
        "justification",
        "schedule",
        "answers",
        "customExtensionCalloutInstances",
    }
)


def request_resource(
    document: Mapping[str, Any],
    select: Sequence[str] | None = None,
    expanded: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    out = {k: v for k, v in document.items() if k not in NAVIGATION}
    if select is not None:
        out = {k: out.get(k) for k in select}
    out.update(expanded or {})
    return out


async def expand_requests(
    conn: Conn, rows: Sequence[RequestRow], expand: Iterable[str]
) -> list[dict[str, Any]]:
    """The navigation properties each row asked for, read in one query per kind."""
    wanted = set(expand)
    packages: dict[str, dict[str, Any]] = {}
    assignments: dict[str, Any] = {}
    history: dict[uuid.UUID, list[HistoryRow]] = {}
    if "accessPackage" in wanted:
        ids = {r.access_package_id for r in rows if r.access_package_id}
        packages = await get_catalog_objects(conn, "accessPackage", ids)
    if "assignment" in wanted:
        found = await get_assignments(conn, {r.assignment_id for r in rows if r.assignment_id})
        assignments = {k: v.document for k, v in found.items()}
    if "history" in wanted:
        history = await get_history(conn, [r.id for r in rows])
    out = []
    for row in rows:
        extra: dict[str, Any] = {}
        if "accessPackage" in wanted:
            package_id = (row.access_package_id or "").lower()
            extra["accessPackage"] = packages.get(package_id, row.document.get("accessPackage"))
        if "assignment" in wanted:
            assignment_id = (row.assignment_id or "").lower()
            extra["assignment"] = assignments.get(assignment_id, row.document.get("assignment"))
        if "requestor" in wanted:
            extra["requestor"] = row.document.get("requestor")
        if "history" in wanted:
            extra["history"] = [history_resource(h) for h in history.get(row.id, [])]
        out.append(extra)
    return out


def history_resource(row: HistoryRow) -> dict[str, Any]:
    """One transition: what it moved from and to, why (``reason``), what caused it, when."""
    return {
        "sequence": row.sequence,
        "previousState": row.previous_state,
        "state": row.state,
        "status": row.status,
        "reason": row.reason,
        "causationId": row.causation_id,
        "causeType": row.cause_type,
        "occurredDateTime": format_utc(row.occurred_at),
    }


def may_decide(stage: Mapping[str, Any], user: str) -> bool:
    allowed = list(stage.get("approvers", []))
    if stage.get("escalated"):
        allowed += stage.get("escalationApprovers", [])
    return user.casefold() in {a.casefold() for a in allowed}


def approval_resource(row: RequestRow, caller: Principal) -> dict[str, Any]:
    stages = (row.approval or {}).get("stages", [])
    approval = Approval(
        id=str(row.id), stages=[stage_resource(s, caller, len(stages)) for s in stages]
    )
    result: dict[str, Any] = to_graph(approval)
    return result


def stage_resource(stage: Mapping[str, Any], caller: Principal, count: int) -> ApprovalStage:
    reviewer = stage.get("reviewedBy")
    return ApprovalStage(
        id=stage["id"],
        assigned_to_me=may_decide(stage, caller.object_id)
        and stage.get("reviewResult") == "NotReviewed",
        display_name=f"Stage {int(stage.get('index', 0)) + 1} of {count}",
        justification=stage.get("justification"),
        reviewed_by=Identity(id=reviewer or UNREVIEWED_ID),
        reviewed_date_time=stage.get("reviewedDateTime"),
        review_result=stage.get("reviewResult", "NotReviewed"),
        status=stage.get("status", "Initializing"),
    )
