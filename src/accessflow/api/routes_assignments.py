"""``…/assignments``: list, ``$count``, get, ``filterByCurrentUser(on='target'|'createdBy')``
and ``additionalAccess(accessPackageId=…,incompatibleAccessPackageId=…)``, with
``$expand=target,accessPackage,assignmentPolicy``.

Non-admins read the assignments they are the target of, and (``createdBy``, or by id) those
an add request of theirs created; admins read all. ``additionalAccess`` follows the list's
rule: a non-admin sees only their own assignments in it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from accessflow.adapters.postgres.pool import Conn
from accessflow.adapters.postgres.queries import (
    assignment_requestors,
    count_assignments,
    get_assignments,
    list_assignments,
)
from accessflow.adapters.postgres.queries_directory import get_users
from accessflow.api import paging
from accessflow.api.auth import Principal
from accessflow.api.catalog_access import catalog_access
from accessflow.api.catalog_resources import package_resource, policy_resource, subject_resource
from accessflow.api.counting import COUNT_RESPONSES, count_response, count_spec, wants_count
from accessflow.api.deps import PREFIX, Caller, Context, context_url
from accessflow.api.errors import ERROR_RESPONSES, bad_request
from accessflow.api.odata import CollectionSpec, FieldSpec, QueryOptions
from accessflow.api.schemas import AssignmentCollection, AssignmentResource
from accessflow.domain.catalog import fold
from accessflow.domain.codes import ReasonCode
from accessflow.domain.enums import AssignmentState
from accessflow.domain.errors import DomainError
from accessflow.domain.filters import Comparison
from accessflow.service.read_model import AssignmentRow, PageQuery, Scope

router = APIRouter(prefix=PREFIX, tags=["assignments"], responses=ERROR_RESPONSES)

ASSIGNMENT_PROPERTIES = frozenset(
    {"id", "state", "status", "schedule", "expiredDateTime", "customExtensionCalloutInstances"}
)
NAVIGATION = frozenset({"target", "accessPackage", "assignmentPolicy"})
ASSIGNMENTS = CollectionSpec(
    "assignments",
    fields={
        "state": FieldSpec("enum", enum=AssignmentState),
        "accessPackage/id": FieldSpec("id"),
        "assignmentPolicy/id": FieldSpec("id"),
        "target/objectId": FieldSpec("id"),
    },
    select=ASSIGNMENT_PROPERTIES,
    expand=NAVIGATION,
)
ONE_ASSIGNMENT = CollectionSpec(
    "assignment", select=ASSIGNMENTS.select, expand=ASSIGNMENTS.expand, paged=False
)
_MAX_ID = 200


@router.get(
    "/assignments",
    response_model=AssignmentCollection,
    openapi_extra=paging.openapi_parameters(ASSIGNMENTS),
    summary="List accessPackageAssignments (non-admins: their own)",
)
async def list_all(request: Request, ctx: Context, caller: Caller) -> JSONResponse:
    user = None if caller.is_admin else caller.object_id
    return await _page(request, ctx, caller, PageQuery(user=user), "assignments")


@router.get(
    "/assignments/$count",
    response_class=PlainTextResponse,
    responses=COUNT_RESPONSES,
    openapi_extra=paging.openapi_parameters(count_spec(ASSIGNMENTS)),
    summary="How many assignments the caller may read (text/plain)",
)
async def count_all(request: Request, ctx: Context, caller: Caller) -> PlainTextResponse:
    options = paging.query_options(count_spec(ASSIGNMENTS), request)
    query = PageQuery(filters=options.filters, user=None if caller.is_admin else caller.object_id)
    async with ctx.db.acquire() as conn:
        return count_response(await count_assignments(conn, query))


@router.get(
    "/assignments/filterByCurrentUser(on='{on}')",
    response_model=AssignmentCollection,
    openapi_extra=paging.openapi_parameters(ASSIGNMENTS),
    summary="The caller's assignments (target: current and expired) or those they created",
)
async def filter_by_current_user(
    request: Request, ctx: Context, caller: Caller, on: Literal["target", "createdBy"]
) -> JSONResponse:
    scope: Scope = on
    query = PageQuery(user=caller.object_id, scope=scope)
    return await _page(request, ctx, caller, query, "assignments")


@router.get(
    "/assignments/additionalAccess(accessPackageId='{package_id}',"
    "incompatibleAccessPackageId='{other_id}')",
    response_model=AssignmentCollection,
    openapi_extra=paging.openapi_parameters(ASSIGNMENTS),
    summary="Assignments of one package whose target also holds another (live)",
)
async def additional_access(
    request: Request, ctx: Context, caller: Caller, package_id: str, other_id: str
) -> JSONResponse:
    """Who would conflict if the two packages were made incompatible: live assignments of
    ``accessPackageId`` whose target also holds ``incompatibleAccessPackageId``."""
    for name, value in (("accessPackageId", package_id), ("incompatibleAccessPackageId", other_id)):
        # Printable only: PostgreSQL refuses a NUL in text, which must be a 400, not a 500.
        if not value.strip() or len(value) > _MAX_ID or not value.isprintable():
            raise bad_request(
                "InvalidRequest",
                f"{name} must be an id of 1 to {_MAX_ID} printable characters",
                name,
            )
    if fold(package_id) == fold(other_id):
        raise bad_request(
            "InvalidRequest",
            "accessPackageId and incompatibleAccessPackageId must differ",
            "incompatibleAccessPackageId",
        )
    query = PageQuery(
        filters=(Comparison("accessPackage/id", "eq", package_id.lower()),),
        user=None if caller.is_admin else caller.object_id,
        holding=other_id,
    )
    return await _page(request, ctx, caller, query, "assignments")


@router.get(
    "/assignments/{assignment_id}",
    response_model=AssignmentResource,
    openapi_extra=paging.openapi_parameters(ONE_ASSIGNMENT),
    summary="Get an accessPackageAssignment",
)
async def get_one(
    request: Request, ctx: Context, caller: Caller, assignment_id: uuid.UUID
) -> JSONResponse:
    options = paging.query_options(ONE_ASSIGNMENT, request)
    async with ctx.db.acquire() as conn:
        found = await get_assignments(conn, [str(assignment_id)])
        row = found.get(str(assignment_id))
        if row is None:
            raise DomainError(ReasonCode.ASSIGNMENT_NOT_FOUND, f"no assignment {assignment_id}")
        if not await _may_read(conn, caller, row):
            raise DomainError(
                ReasonCode.REQUESTOR_NOT_ALLOWED,
                "only the target, whoever requested it, or an admin may read this",
            )
        [body] = await _resources(ctx, conn, caller, [row], options)
    return JSONResponse({"@odata.context": context_url(request, "assignments/$entity"), **body})


async def _may_read(conn: Conn, caller: Principal, row: AssignmentRow) -> bool:
    if caller.is_admin or caller.is_(row.target_id):
        return True
    return any(caller.is_(r) for r in await assignment_requestors(conn, row.id))


async def _page(
    request: Request, ctx: Context, caller: Principal, base: PageQuery, context: str
) -> JSONResponse:
    options = paging.query_options(ASSIGNMENTS, request)
    query = PageQuery(
        filters=(*base.filters, *options.filters),
        limit=options.top,
        after=paging.keyset(options),
        user=base.user,
        scope=base.scope,
        holding=base.holding,
    )
    async with ctx.db.acquire() as conn:
        rows = await list_assignments(conn, query)
        page = rows[: options.top]
        value = await _resources(ctx, conn, caller, page, options)
        total = await count_assignments(conn, query) if wants_count(options) else None
    link = None
    if len(rows) > options.top:
        last = [page[-1].created_at.isoformat(), str(page[-1].id)]
        link = paging.next_link(request, ASSIGNMENTS, options, last)
    return JSONResponse(paging.collection(context_url(request, context), value, link, total))


async def _resources(
    ctx: Context,
    conn: Conn,
    caller: Principal,
    rows: Sequence[AssignmentRow],
    options: QueryOptions,
) -> list[dict[str, Any]]:
    """The rows as Graph assignments, with ``$select`` and ``$expand`` applied."""
    out = []
    for row in rows:
        document = dict(row.document)
        if options.select is not None:
            document = {k: document.get(k) for k in options.select}
        out.append(document)
    if not options.expand:
        return out
    access = await catalog_access(ctx, conn, caller)
    users = await get_users(conn, [r.target_id for r in rows]) if "target" in options.expand else {}
    for row, document in zip(rows, out, strict=True):
        if "target" in options.expand:
            document["target"] = subject_resource(row.target_id, users.get(row.target_id.lower()))
        if "accessPackage" in options.expand:
            package = access.objects.packages.get(fold(row.document.get("accessPackageId") or ""))
            document["accessPackage"] = package_resource(package, access) if package else None
        if "assignmentPolicy" in options.expand:
            policy_id = row.document.get("assignmentPolicyId") or ""
            policy = access.objects.policies.get(fold(policy_id))
            document["assignmentPolicy"] = policy_resource(policy, access) if policy else None
    return out
