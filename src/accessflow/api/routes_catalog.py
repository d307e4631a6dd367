"""Reads of what the worker delivered and what the catalog offers: ``…/assignments``,
``…/accessPackages`` and ``…/assignmentPolicies``. Non-admins see their own assignments;
everyone may browse the catalog (it is how requestors find what to ask for)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from accessflow.adapters.postgres.queries import (
    PageQuery,
    get_assignments,
    list_assignments,
    list_catalog_objects,
)
from accessflow.api import paging
from accessflow.api.deps import PREFIX, Caller, Context, context_url
from accessflow.api.errors import ERROR_RESPONSES
from accessflow.api.odata import CollectionSpec, FieldSpec
from accessflow.api.schemas import AssignmentCollection, AssignmentResource, CatalogCollection
from accessflow.domain.codes import ReasonCode
from accessflow.domain.enums import AssignmentState
from accessflow.domain.errors import DomainError

router = APIRouter(prefix=PREFIX, responses=ERROR_RESPONSES)

ASSIGNMENTS = CollectionSpec(
    "assignments",
    fields={
        "state": FieldSpec("enum", enum=AssignmentState),
        "accessPackage/id": FieldSpec("id"),
        "target/objectId": FieldSpec("id"),
    },
)
PACKAGES = CollectionSpec("accessPackages")
POLICIES = CollectionSpec("assignmentPolicies")


@router.get(
    "/assignments",
    tags=["assignments"],
    response_model=AssignmentCollection,
    openapi_extra=paging.openapi_parameters(ASSIGNMENTS),
    summary="List accessPackageAssignments",
)
async def assignments(request: Request, ctx: Context, caller: Caller) -> JSONResponse:
    options = paging.query_options(ASSIGNMENTS, request)
    query = PageQuery(
        filters=options.filters,
        limit=options.top,
        after=paging.keyset(options),
        user=None if caller.is_admin else caller.object_id,
    )
    async with ctx.db.acquire() as conn:
        rows = await list_assignments(conn, query)
    page = rows[: options.top]
    link = None
    if len(rows) > options.top:
        last = [page[-1].created_at.isoformat(), str(page[-1].id)]
        link = paging.next_link(request, ASSIGNMENTS, options, last)
    value = [row.document for row in page]
    return JSONResponse(paging.collection(context_url(request, "assignments"), value, link))


@router.get(
    "/assignments/{assignment_id}",
    tags=["assignments"],
    response_model=AssignmentResource,
    summary="Get an accessPackageAssignment",
)
async def assignment(
    request: Request, ctx: Context, caller: Caller, assignment_id: uuid.UUID
) -> JSONResponse:
    async with ctx.db.acquire() as conn:
        found = await get_assignments(conn, [str(assignment_id)])
    row = found.get(str(assignment_id))
    if row is None:
        raise DomainError(ReasonCode.ASSIGNMENT_NOT_FOUND, f"no assignment {assignment_id}")
    if not (caller.is_admin or caller.is_(row.target_id)):
        raise DomainError(
            ReasonCode.REQUESTOR_NOT_ALLOWED, "only the target or an admin may read this"
        )
    body = {"@odata.context": context_url(request, "assignments/$entity"), **row.document}
    return JSONResponse(body)


async def _catalog(request: Request, ctx: Context, spec: CollectionSpec, kind: str) -> JSONResponse:
    options = paging.query_options(spec, request)
    after = paging.id_after(options)
    async with ctx.db.acquire() as conn:
        rows = await list_catalog_objects(conn, kind, after, options.top)
    page: list[dict[str, Any]] = rows[: options.top]
    link = None
    if len(rows) > options.top:
        link = paging.next_link(request, spec, options, [str(page[-1]["id"]).lower()])
    return JSONResponse(paging.collection(context_url(request, spec.name), page, link))


@router.get(
    "/accessPackages",
    tags=["catalog"],
    response_model=CatalogCollection,
    openapi_extra=paging.openapi_parameters(PACKAGES),
    summary="List access packages",
)
async def access_packages(request: Request, ctx: Context, caller: Caller) -> JSONResponse:
    return await _catalog(request, ctx, PACKAGES, "accessPackage")


@router.get(
    "/assignmentPolicies",
    tags=["catalog"],
    response_model=CatalogCollection,
    openapi_extra=paging.openapi_parameters(POLICIES),
    summary="List access package assignment policies",
)
async def assignment_policies(request: Request, ctx: Context, caller: Caller) -> JSONResponse:
    return await _catalog(request, ctx, POLICIES, "assignmentPolicy")
