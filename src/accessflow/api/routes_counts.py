"""``…/assignmentRequests/$count``: how many requests the caller may read, as ``text/plain``
(the same rule and ``$filter`` as the listing). Registered before the request routes, whose
``{request_id}`` segment would otherwise take ``$count``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from accessflow.adapters.postgres.queries import count_requests
from accessflow.api import paging
from accessflow.api.counting import COUNT_RESPONSES, count_response, count_spec
from accessflow.api.deps import PREFIX, Caller, Context
from accessflow.api.errors import ERROR_RESPONSES
from accessflow.api.routes_requests import REQUESTS
from accessflow.service.read_model import PageQuery

router = APIRouter(prefix=PREFIX, tags=["assignmentRequests"], responses=ERROR_RESPONSES)
REQUEST_COUNT = count_spec(REQUESTS)


@router.get(
    "/assignmentRequests/$count",
    response_class=PlainTextResponse,
    responses=COUNT_RESPONSES,
    openapi_extra=paging.openapi_parameters(REQUEST_COUNT),
    summary="How many assignment requests the caller may read (text/plain)",
)
async def count_all(request: Request, ctx: Context, caller: Caller) -> PlainTextResponse:
    options = paging.query_options(REQUEST_COUNT, request)
    query = PageQuery(filters=options.filters, user=None if caller.is_admin else caller.object_id)
    async with ctx.db.acquire() as conn:
        return count_response(await count_requests(conn, query))
