"""Actions on a request (cancel, reprocess) and its approval (get, stages, decide).

Each action is a use case of :mod:`accessflow.service.actions` (check what committed state
can already tell, then produce the command); the routes only map HTTP onto it and back.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from accessflow.adapters.postgres.queries import count_requests, list_requests
from accessflow.api import paging
from accessflow.api.auth import Principal
from accessflow.api.deps import PREFIX, Caller, Context, context_url, json_body, no_body
from accessflow.api.errors import ERROR_RESPONSES, bad_request
from accessflow.api.odata import CollectionSpec
from accessflow.api.publisher import command_traceparent
from accessflow.api.representation import approval_resource, stage_resource
from accessflow.api.schemas import (
    ApprovalCollection,
    ApprovalResource,
    ApprovalStageCollection,
    ApprovalStageResource,
    StageDecision,
)
from accessflow.domain.models.requests import to_graph
from accessflow.service import actions
from accessflow.service.actions import Action
from accessflow.service.read_model import PageQuery, RequestRow

router = APIRouter(prefix=PREFIX, responses=ERROR_RESPONSES)
Traceparent = Annotated[str | None, Header(max_length=100)]
APPROVALS = "accessPackageAssignmentApprovals"


def _action(caller: Principal, request_id: uuid.UUID, traceparent: str | None) -> Action:
    return Action(caller.caller, request_id, datetime.now(UTC), command_traceparent(traceparent))


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
    await no_body(request)
    await actions.cancel(ctx.channels, _action(caller, request_id, traceparent))
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
    await no_body(request)
    window = timedelta(days=ctx.settings.reprocess_window_days)
    await actions.reprocess(ctx.channels, _action(caller, request_id, traceparent), window)
    return Response(status_code=202)


# ---- approvals -----------------------------------------------------------------------------


async def _approval(ctx: Context, caller: Principal, approval_id: uuid.UUID) -> RequestRow:
    return await actions.approval_of(ctx.channels.read, caller.caller, approval_id)


APPROVAL_PAGE = CollectionSpec(APPROVALS)
STAGES = CollectionSpec("stages", paged=False, countable=True)


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
        total = await count_requests(conn, query) if options.count and query.after is None else None
    page = rows[: options.top]
    value = [approval_resource(row, caller) for row in page]
    link = None
    if len(rows) > options.top:
        last = [page[-1].created_at.isoformat(), str(page[-1].id)]
        link = paging.next_link(request, APPROVAL_PAGE, options, last)
    return JSONResponse(paging.collection(context_url(request, APPROVALS), value, link, total))


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
    openapi_extra=paging.openapi_parameters(STAGES),
    summary="List the stages of an approval",
)
async def list_stages(
    request: Request, ctx: Context, caller: Caller, approval_id: uuid.UUID
) -> JSONResponse:
    options = paging.query_options(STAGES, request)  # $count only: any other is a 400
    row = await _approval(ctx, caller, approval_id)
    stages = actions.stages_of(row)
    value = [to_graph(stage_resource(s, caller, len(stages))) for s in stages]
    fragment = f"{APPROVALS}('{approval_id}')/stages"
    count = len(value) if options.count else None
    return JSONResponse(paging.collection(context_url(request, fragment), value, count=count))


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
    stages = actions.stages_of(row)
    stage = actions.stage_of(stages, stage_id)
    return JSONResponse(to_graph(stage_resource(stage, caller, len(stages))))


async def _decision(request: Request) -> StageDecision:
    """The strict PATCH body: an unknown property or another reviewResult is a 400."""
    try:
        return StageDecision.model_validate(await json_body(request))
    except ValidationError as exc:
        first = exc.errors()[0]
        target = ".".join(str(p) for p in first["loc"]) or None
        raise bad_request("InvalidRequest", first["msg"], target) from None


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
    body = await _decision(request)
    decision = actions.StageReview(stage_id, body.review_result, body.justification)
    await actions.decide(ctx.channels, _action(caller, approval_id, traceparent), decision)
    return Response(status_code=204)
