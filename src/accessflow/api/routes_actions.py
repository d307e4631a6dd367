"""Actions on a request (cancel, reprocess) and its approval (get, stages, decide).

Each action checks synchronously what committed state can already tell (the request exists,
the caller may act, the state allows it) and then produces its command; the worker remains
the authority and re-checks everything when it applies the command.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from accessflow.adapters.postgres.queries import PageQuery, RequestRow, get_request, list_requests
from accessflow.api import paging
from accessflow.api.auth import Principal
from accessflow.api.deps import PREFIX, Caller, Context, context_url, json_body, no_body
from accessflow.api.errors import ERROR_RESPONSES, bad_request
from accessflow.api.odata import CollectionSpec
from accessflow.api.publisher import command, valid_traceparent
from accessflow.api.representation import approval_resource, is_named_approver, stage_resource
from accessflow.api.routes_requests import readable_request
from accessflow.api.schemas import (
    ApprovalCollection,
    ApprovalResource,
    ApprovalStageCollection,
    ApprovalStageResource,
    StageDecision,
)
from accessflow.domain import approval_states, states
from accessflow.domain.codes import ReasonCode
from accessflow.domain.enums import RequestState
from accessflow.domain.errors import DomainError, IllegalTransition
from accessflow.domain.models.requests import AccessPackageAssignmentRequest, to_graph
from accessflow.service.commands import CANCEL, DECIDE, REPROCESS

router = APIRouter(prefix=PREFIX, responses=ERROR_RESPONSES)
Traceparent = Annotated[str | None, Header(max_length=100)]
APPROVALS = "accessPackageAssignmentApprovals"


def _may_act(row: RequestRow, caller: Principal) -> None:
    if not (caller.is_admin or caller.is_(row.requestor_id) or caller.is_(row.target_id)):
        raise DomainError(
            ReasonCode.REQUESTOR_NOT_ALLOWED,
            "only the requestor, the target or an admin may do this",
        )


async def _act(
    request: Request, ctx: Context, caller: Principal, request_id: uuid.UUID
) -> RequestRow:
    await no_body(request)
    async with ctx.db.acquire() as conn:
        row = await readable_request(conn, caller, request_id)
    _may_act(row, caller)
    return row


@router.post(
    "/assignmentRequests/{request_id}/cancel",
    tags=["assignmentRequests"],
    response_class=Response,
    responses={200: {"description": "The cancel command was accepted"}},
    summary="Cancel a request (submitted, pendingApproval or scheduled)",
)
async def cancel(
    request: Request,
    ctx: Context,
    caller: Caller,
    request_id: uuid.UUID,
    traceparent: Traceparent = None,
) -> Response:
    row = await _act(request, ctx, caller, request_id)
    state = RequestState(row.state)
    if state not in states.CANCELLABLE_STATES:
        raise IllegalTransition(
            state, RequestState.CANCELED, f"a {state} request cannot be canceled"
        )
    data = {"requestor": to_graph(caller.caller)}
    await ctx.publisher.publish(command(CANCEL, row.id, data, valid_traceparent(traceparent)))
    return Response(status_code=200)


@router.post(
    "/assignmentRequests/{request_id}/reprocess",
    tags=["assignmentRequests"],
    status_code=202,
    response_class=Response,
    responses={202: {"description": "The reprocess command was accepted"}},
    summary="Reprocess a deliveryFailed or partiallyDelivered request",
)
async def reprocess(
    request: Request,
    ctx: Context,
    caller: Caller,
    request_id: uuid.UUID,
    traceparent: Traceparent = None,
) -> Response:
    row = await _act(request, ctx, caller, request_id)
    stored = AccessPackageAssignmentRequest.model_validate(row.document)
    # Refused here too (not only by the worker), so the caller gets a Graph error at once.
    window = timedelta(days=ctx.settings.reprocess_window_days)
    states.reprocess(stored, now=datetime.now(UTC), window=window)
    data = {"requestor": to_graph(caller.caller)}
    await ctx.publisher.publish(command(REPROCESS, row.id, data, valid_traceparent(traceparent)))
    return Response(status_code=202)


# ---- approvals -----------------------------------------------------------------------------


async def _approval(
    ctx: Context, caller: Principal, approval_id: uuid.UUID, *, read: bool = True
) -> RequestRow:
    """The request that owns the approval (404s); ``read``: and the caller may read it
    (deciding checks instead that the caller approves the stage: NotAnApprover)."""
    async with ctx.db.acquire() as conn:
        if read:
            row = await readable_request(conn, caller, approval_id)
        else:
            found = await get_request(conn, approval_id)
            if found is None:
                raise DomainError(ReasonCode.REQUEST_NOT_FOUND, f"no approval {approval_id}")
            row = found
    if not row.approval:
        raise DomainError(ReasonCode.REQUEST_NOT_FOUND, f"request {approval_id} has no approval")
    return row


def _stages(row: RequestRow) -> list[dict[str, Any]]:
    stages: list[dict[str, Any]] = (row.approval or {}).get("stages", [])
    return stages


APPROVAL_PAGE = CollectionSpec(APPROVALS)


@router.get(
    f"/{APPROVALS}/filterByCurrentUser(on='approver')",
    tags=["approvals"],
    response_model=ApprovalCollection,
    openapi_extra=paging.openapi_parameters(APPROVAL_PAGE),
    summary="Approvals the caller can decide now",
)
async def my_approvals(request: Request, ctx: Context, caller: Caller) -> JSONResponse:
    options = paging.query_options(APPROVAL_PAGE, request)
    query = PageQuery(
        limit=options.top, after=paging.keyset(options), user=caller.object_id, scope="approver"
    )
    async with ctx.db.acquire() as conn:
        rows = await list_requests(conn, query)
    page = rows[: options.top]
    value = [approval_resource(row, caller) for row in page]
    link = None
    if len(rows) > options.top:
        last = [page[-1].created_at.isoformat(), str(page[-1].id)]
        link = paging.next_link(request, APPROVAL_PAGE, options, last)
    return JSONResponse(paging.collection(context_url(request, APPROVALS), value, link))


@router.get(
    f"/{APPROVALS}/{{approval_id}}",
    tags=["approvals"],
    response_model=ApprovalResource,
    summary="Get the approval of a request (its id is the request's id)",
)
async def get_approval(
    request: Request, ctx: Context, caller: Caller, approval_id: uuid.UUID
) -> JSONResponse:
    row = await _approval(ctx, caller, approval_id)
    body = {"@odata.context": context_url(request, f"{APPROVALS}/$entity")}
    return JSONResponse({**body, **approval_resource(row, caller)})


@router.get(
    f"/{APPROVALS}/{{approval_id}}/stages",
    tags=["approvals"],
    response_model=ApprovalStageCollection,
    summary="List the stages of an approval",
)
async def list_stages(
    request: Request, ctx: Context, caller: Caller, approval_id: uuid.UUID
) -> JSONResponse:
    row = await _approval(ctx, caller, approval_id)
    stages = _stages(row)
    value = [to_graph(stage_resource(s, caller, len(stages))) for s in stages]
    fragment = f"{APPROVALS}('{approval_id}')/stages"
    return JSONResponse(paging.collection(context_url(request, fragment), value))


@router.get(
    f"/{APPROVALS}/{{approval_id}}/stages/{{stage_id}}",
    tags=["approvals"],
    response_model=ApprovalStageResource,
    summary="Get one approval stage",
)
async def get_stage(
    ctx: Context, caller: Caller, approval_id: uuid.UUID, stage_id: uuid.UUID
) -> JSONResponse:
    row = await _approval(ctx, caller, approval_id)
    stages = _stages(row)
    stage = _stage(stages, stage_id)
    return JSONResponse(to_graph(stage_resource(stage, caller, len(stages))))


async def _decision(request: Request) -> StageDecision:
    """The strict PATCH body: an unknown property or another reviewResult is a 400."""
    try:
        return StageDecision.model_validate(await json_body(request))
    except ValidationError as exc:
        first = exc.errors()[0]
        target = ".".join(str(p) for p in first["loc"]) or None
        raise bad_request("InvalidRequest", first["msg"], target) from None


def _stage(stages: list[dict[str, Any]], stage_id: uuid.UUID) -> dict[str, Any]:
    for stage in stages:
        if str(stage["id"]).casefold() == str(stage_id):
            return stage
    raise DomainError(ReasonCode.APPROVAL_STAGE_NOT_FOUND, f"no approval stage {stage_id}")


@router.patch(
    f"/{APPROVALS}/{{approval_id}}/stages/{{stage_id}}",
    tags=["approvals"],
    status_code=204,
    response_class=Response,
    responses={204: {"description": "The decision command was accepted"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": StageDecision.model_json_schema()}},
        }
    },
    summary="Approve or deny a stage: {'reviewResult': 'Approve'|'Deny', 'justification'}",
)
async def decide(
    request: Request,
    ctx: Context,
    caller: Caller,
    approval_id: uuid.UUID,
    stage_id: uuid.UUID,
    traceparent: Traceparent = None,
) -> Response:
    decision = await _decision(request)
    row = await _approval(ctx, caller, approval_id, read=False)
    stage = _stage(_stages(row), stage_id)
    if not is_named_approver(stage, caller.object_id):
        raise DomainError(ReasonCode.NOT_AN_APPROVER, "the caller is not an approver of this stage")
    if stage.get("reviewResult") != "NotReviewed":
        raise DomainError(
            ReasonCode.STAGE_ALREADY_DECIDED,
            f"stage {stage_id} was already {stage['reviewResult']}",
        )
    if row.state != RequestState.PENDING_APPROVAL.value:
        raise IllegalTransition(row.state, row.state, "the request is not pending approval")
    # The worker's own check, on the committed approval (left as it is): decided (409), not
    # the current stage (409), not (yet) an approver (403), justification missing (400).
    approval_states.decide(
        approval_states.ApprovalRecord.from_json(row.approval or {}),
        stage["id"],
        caller.object_id,
        decision.review_result == "Approve",
        decision.justification,
        datetime.now(UTC),
    )
    data = {
        "stageId": stage["id"],
        "reviewResult": decision.review_result,
        "justification": decision.justification,
        "reviewer": to_graph(caller.caller),
    }
    await ctx.publisher.publish(command(DECIDE, row.id, data, valid_traceparent(traceparent)))
    return Response(status_code=204)
