"""``…/assignmentRequests``: create, list (OData subset, keyset pages), get, a request's
transition ``history``, and ``filterByCurrentUser(on=…)``. Non-admins see the requests they
made, that are for them, or that they are named to approve; admins see all."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from accessflow.adapters.postgres.pool import Conn
from accessflow.adapters.postgres.queries import count_requests, get_request, list_requests
from accessflow.adapters.postgres.queries_history import get_history
from accessflow.api import paging
from accessflow.api.auth import Principal
from accessflow.api.create_mapping import create_request
from accessflow.api.deps import PREFIX, Caller, Context, base_url, context_url, json_body
from accessflow.api.errors import ERROR_RESPONSES
from accessflow.api.odata import RANGE, CollectionSpec, FieldSpec
from accessflow.api.representation import (
    REQUEST_PROPERTIES,
    expand_requests,
    history_resource,
    request_resource,
)
from accessflow.api.schemas import (
    AssignmentRequestCollection,
    AssignmentRequestResource,
    HistoryCollection,
    create_body_schema,
)
from accessflow.domain.create_body import parse_create_request
from accessflow.domain.enums import RequestState, RequestType
from accessflow.service.actions import readable
from accessflow.service.read_model import PageQuery, RequestRow, Scope

router = APIRouter(prefix=PREFIX, tags=["assignmentRequests"], responses=ERROR_RESPONSES)
ENTITY = "assignmentRequests/$entity"
#: 1 to 200 printable ASCII characters (it is stored, and compared byte for byte).
IDEMPOTENCY_KEY = r"^[\x20-\x7e]+$"
#: As the request-context middleware checks it on every route (a GUID, as Graph asks).
CLIENT_REQUEST_ID = r"^[\x21-\x7e]+$"

REQUESTS = CollectionSpec(
    "assignmentRequests",
    fields={
        "state": FieldSpec("enum", enum=RequestState),
        "requestType": FieldSpec("enum", enum=RequestType),
        "createdDateTime": FieldSpec("datetime", ops=RANGE),
        "accessPackage/id": FieldSpec("id"),
        "requestor/objectId": FieldSpec("id"),
    },
    select=REQUEST_PROPERTIES,
    expand=frozenset({"accessPackage", "assignment", "requestor", "history"}),
    orderby="createdDateTime",
)
_CREATE_SCHEMA, CREATE_DEFINITIONS = create_body_schema()
_CREATE_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _CREATE_SCHEMA}},
    }
}


@router.post(
    "/assignmentRequests",
    status_code=201,
    response_model=AssignmentRequestResource,
    openapi_extra=_CREATE_BODY,
    summary="Create an accessPackageAssignmentRequest",
)
async def create(
    request: Request,
    ctx: Context,
    caller: Caller,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", max_length=200, pattern=IDEMPOTENCY_KEY)
    ] = None,
    client_request_id: Annotated[
        str | None, Header(alias="client-request-id", max_length=128, pattern=CLIENT_REQUEST_ID)
    ] = None,
    traceparent: Annotated[str | None, Header(max_length=100)] = None,
) -> JSONResponse:
    """Validate, check the rules over committed state, produce the create command and answer
    201 once Kafka acknowledged it. A repeated idempotency key returns the first answer."""
    body = parse_create_request(await json_body(request))
    key = idempotency_key or request.state.client_request_id
    created = await create_request(ctx, caller, body, key, traceparent)
    resource = {"@odata.context": context_url(request, ENTITY), **created.resource}
    location = f"{base_url(request)}{PREFIX}/assignmentRequests/{resource['id']}"
    headers = {"Location": location}
    if created.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(resource, status_code=201, headers=headers)


@router.get(
    "/assignmentRequests",
    response_model=AssignmentRequestCollection,
    openapi_extra=paging.openapi_parameters(REQUESTS),
    summary="List accessPackageAssignmentRequests",
)
async def list_all(request: Request, ctx: Context, caller: Caller) -> JSONResponse:
    scope: Scope = "visible"
    user = None if caller.is_admin else caller.object_id
    return await _page(request, ctx, user, scope)


@router.get(
    "/assignmentRequests/filterByCurrentUser(on='{on}')",
    response_model=AssignmentRequestCollection,
    openapi_extra=paging.openapi_parameters(REQUESTS),
    summary="Requests where the caller is the target, the creator, or an approver",
)
async def filter_by_current_user(
    request: Request,
    ctx: Context,
    caller: Caller,
    on: Literal["target", "createdBy", "approver"],
) -> JSONResponse:
    return await _page(request, ctx, caller.object_id, on)


ONE_REQUEST = CollectionSpec(
    "assignmentRequest", select=REQUESTS.select, expand=REQUESTS.expand, paged=False
)


@router.get(
    "/assignmentRequests/{request_id}",
    response_model=AssignmentRequestResource,
    openapi_extra=paging.openapi_parameters(ONE_REQUEST),
    summary="Get an accessPackageAssignmentRequest",
)
async def get_one(
    request: Request, ctx: Context, caller: Caller, request_id: uuid.UUID
) -> JSONResponse:
    options = paging.query_options(ONE_REQUEST, request)
    async with ctx.db.acquire() as conn:
        row = await readable_request(conn, caller, request_id)
        expanded = await expand_requests(conn, [row], options.expand)
    resource = request_resource(row.document, options.select, expanded[0])
    return JSONResponse({"@odata.context": context_url(request, ENTITY), **resource})


HISTORY = CollectionSpec("history", paged=False, countable=True)


@router.get(
    "/assignmentRequests/{request_id}/history",
    response_model=HistoryCollection,
    openapi_extra=paging.openapi_parameters(HISTORY),
    summary="A request's transitions (who caused each, when, why), oldest first",
)
async def get_history_of(
    request: Request, ctx: Context, caller: Caller, request_id: uuid.UUID
) -> JSONResponse:
    """Every transition the worker recorded for the request, in sequence order; readable by
    whoever may read the request, and kept after it completes."""
    options = paging.query_options(HISTORY, request)  # $count only: any other is a 400
    async with ctx.db.acquire() as conn:
        row = await readable_request(conn, caller, request_id)
        history = await get_history(conn, [row.id])
    value = [history_resource(h) for h in history.get(row.id, [])]
    context = context_url(request, f"assignmentRequests('{row.id}')/history")
    return JSONResponse(
        paging.collection(context, value, count=len(value) if options.count else None)
    )


async def readable_request(conn: Conn, caller: Principal, request_id: uuid.UUID) -> RequestRow:
    """The request, if it exists (404) and the caller may read it (403)."""
    return readable(await get_request(conn, request_id), caller.caller, request_id)


async def _page(request: Request, ctx: Context, user: str | None, scope: Scope) -> JSONResponse:
    options = paging.query_options(REQUESTS, request)
    query = PageQuery(
        filters=options.filters,
        limit=options.top,
        descending=options.descending,
        after=paging.keyset(options),
        user=user,
        scope=scope,
    )
    async with ctx.db.acquire() as conn:
        rows = await list_requests(conn, query)
        page = rows[: options.top]
        expanded = await expand_requests(conn, page, options.expand)
        # @odata.count: the whole filtered set, on the first page (Graph's behaviour).
        total = await count_requests(conn, query) if options.count and query.after is None else None
    value: list[dict[str, Any]] = [
        request_resource(row.document, options.select, extra)
        for row, extra in zip(page, expanded, strict=True)
    ]
    link = None
    if len(rows) > options.top:
        last = page[-1]
        link = paging.next_link(
            request, REQUESTS, options, [last.created_at.isoformat(), str(last.id)]
        )
    body = paging.collection(context_url(request, "assignmentRequests"), value, link, total)
    return JSONResponse(body)
