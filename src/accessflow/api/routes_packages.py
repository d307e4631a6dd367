"""``…/accessPackages``: list, ``$count``, get, ``filterByCurrentUser(on='allowedRequestor')``,
``incompatibleAccessPackages``, ``incompatibleGroups`` and ``getApplicablePolicyRequirements``.
What a caller may read is :mod:`accessflow.api.catalog_access`'s rule."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import ValidationError

from accessflow.api import paging
from accessflow.api.catalog_access import caller_access, catalog_access
from accessflow.api.catalog_resources import (
    PACKAGE_EXPAND,
    PACKAGE_PROPERTIES,
    incompatible_packages,
    package_resource,
    requirements_resource,
)
from accessflow.api.counting import COUNT_RESPONSES, count_response, count_spec, filtered
from accessflow.api.counting import memory_page as page_of
from accessflow.api.deps import PREFIX, Caller, Context, context_url
from accessflow.api.errors import ERROR_RESPONSES, ApiError, bad_request
from accessflow.api.odata import CollectionSpec, FieldSpec
from accessflow.api.schemas_reads import (
    AccessPackageCollection,
    AccessPackageResource,
    GroupCollection,
    RequirementsBody,
    RequirementsCollection,
)
from accessflow.domain.catalog import fold
from accessflow.domain.codes import ReasonCode
from accessflow.domain.errors import DomainError
from accessflow.domain.models.packages import AccessPackage
from accessflow.domain.rules.applicable import applicable_policies

router = APIRouter(prefix=PREFIX, tags=["catalog"], responses=ERROR_RESPONSES)

PACKAGE_FIELDS = {
    "displayName": lambda p: p.display_name,
    "catalog/id": lambda p: p.catalog_ref,
}
PACKAGES = CollectionSpec(
    "accessPackages",
    fields={name: FieldSpec("id") for name in PACKAGE_FIELDS},
    select=PACKAGE_PROPERTIES,
    expand=PACKAGE_EXPAND,
)
ONE_PACKAGE = CollectionSpec(
    "accessPackage", select=PACKAGES.select, expand=PACKAGES.expand, paged=False
)
INCOMPATIBLE = CollectionSpec("incompatibleAccessPackages", select=PACKAGES.select)
GROUPS = CollectionSpec("incompatibleGroups")
REQUIREMENTS = CollectionSpec("requirements", paged=False)


def _inlined(schema: Any, definitions: dict[str, Any]) -> Any:
    """A JSON Schema with its ``$defs`` references replaced by their definitions (the
    OpenAPI document resolves ``#/…`` from its own root, where no ``$defs`` is)."""
    if isinstance(schema, dict):
        ref = schema.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return _inlined(definitions[ref.removeprefix("#/$defs/")], definitions)
        return {k: _inlined(v, definitions) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_inlined(v, definitions) for v in schema]
    return schema


_SCHEMA = RequirementsBody.model_json_schema()
_BODY = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": _inlined(_SCHEMA, _SCHEMA.pop("$defs"))}},
    }
}


def _key(package: AccessPackage) -> str:
    return fold(package.id)


@router.get(
    "/accessPackages",
    response_model=AccessPackageCollection,
    openapi_extra=paging.openapi_parameters(PACKAGES),
    summary="List the access packages the caller may read",
)
async def list_packages(request: Request, ctx: Context, caller: Caller) -> JSONResponse:
    options = paging.query_options(PACKAGES, request)
    access = await caller_access(ctx, caller)
    visible = [p for p in access.packages() if access.listed_package(p)]
    found = filtered(visible, options.filters, PACKAGE_FIELDS)
    return page_of(
        request, PACKAGES, options, found, _key,
        lambda p: package_resource(p, access, options.expand, options.select),
    )  # fmt: skip


@router.get(
    "/accessPackages/$count",
    response_class=PlainTextResponse,
    responses=COUNT_RESPONSES,
    openapi_extra=paging.openapi_parameters(count_spec(PACKAGES)),
    summary="How many access packages the caller may read (text/plain)",
)
async def count_packages(request: Request, ctx: Context, caller: Caller) -> PlainTextResponse:
    options = paging.query_options(count_spec(PACKAGES), request)
    access = await caller_access(ctx, caller)
    visible = [p for p in access.packages() if access.listed_package(p)]
    return count_response(len(filtered(visible, options.filters, PACKAGE_FIELDS)))


@router.get(
    "/accessPackages/filterByCurrentUser(on='{on}')",
    response_model=AccessPackageCollection,
    openapi_extra=paging.openapi_parameters(PACKAGES),
    summary="The access packages the caller may request (for themselves)",
)
async def requestable_packages(
    request: Request, ctx: Context, caller: Caller, on: Literal["allowedRequestor"]
) -> JSONResponse:
    options = paging.query_options(PACKAGES, request)
    access = await caller_access(ctx, caller)
    mine = [p for p in access.packages() if not p.is_hidden and access.requestable(p.id)]
    found = filtered(mine, options.filters, PACKAGE_FIELDS)
    return page_of(
        request, PACKAGES, options, found, _key,
        lambda p: package_resource(p, access, options.expand, options.select),
        context="accessPackages",
    )  # fmt: skip


@router.get(
    "/accessPackages/{package_id}",
    response_model=AccessPackageResource,
    openapi_extra=paging.openapi_parameters(ONE_PACKAGE),
    summary="Get an access package",
)
async def get_package(
    request: Request, ctx: Context, caller: Caller, package_id: str
) -> JSONResponse:
    options = paging.query_options(ONE_PACKAGE, request)
    access = await caller_access(ctx, caller)
    package = access.package(package_id)
    body = package_resource(package, access, options.expand, options.select)
    return JSONResponse({"@odata.context": context_url(request, "accessPackages/$entity"), **body})


@router.get(
    "/accessPackages/{package_id}/incompatibleAccessPackages",
    response_model=AccessPackageCollection,
    openapi_extra=paging.openapi_parameters(INCOMPATIBLE),
    summary="The access packages this one is incompatible with (that the caller may read)",
)
async def incompatible(
    request: Request, ctx: Context, caller: Caller, package_id: str
) -> JSONResponse:
    options = paging.query_options(INCOMPATIBLE, request)
    access = await caller_access(ctx, caller)
    package = access.package(package_id)
    return page_of(
        request, INCOMPATIBLE, options, incompatible_packages(package, access), _key,
        lambda p: package_resource(p, access, select=options.select),
        context=f"accessPackages('{package.id}')/incompatibleAccessPackages",
    )  # fmt: skip


@router.get(
    "/accessPackages/{package_id}/incompatibleGroups",
    response_model=GroupCollection,
    openapi_extra=paging.openapi_parameters(GROUPS),
    summary="Groups whose members may not request this package (always empty: not modelled)",
)
async def incompatible_groups(
    request: Request, ctx: Context, caller: Caller, package_id: str
) -> JSONResponse:
    options = paging.query_options(GROUPS, request)
    access = await caller_access(ctx, caller)
    package = access.package(package_id)
    return page_of(
        request, GROUPS, options, [], str, lambda g: {"id": g},
        context=f"accessPackages('{package.id}')/incompatibleGroups",
    )  # fmt: skip


@router.post(
    "/accessPackages/{package_id}/getApplicablePolicyRequirements",
    response_model=RequirementsCollection,
    openapi_extra=_BODY,
    summary="The policies the caller (or, on behalf, subject.objectId) may request through",
)
async def applicable_requirements(
    request: Request, ctx: Context, caller: Caller, package_id: str
) -> JSONResponse:
    """One entry per policy through which the caller may request the package, by the same
    eligibility rules the worker applies; empty when none admits them."""
    paging.query_options(REQUIREMENTS, request)  # no query options: any is a 400
    subject = await _subject(request)
    async with ctx.db.acquire() as conn:
        access = await catalog_access(ctx, conn, caller, [subject] if subject else [])
    package = access.objects.packages.get(fold(package_id))
    policies = applicable_policies(package_id, caller.caller, access.view, subject)
    # Unknown, or unreadable with nothing to offer: 404, as GET answers for it.
    if package is None or not (policies or access.may_read_package(package)):
        raise DomainError(ReasonCode.ACCESS_PACKAGE_NOT_FOUND, f"no access package {package_id}")
    context = context_url(
        request, "Collection(microsoft.graph.accessPackageAssignmentRequestRequirements)"
    )
    return JSONResponse(paging.collection(context, [requirements_resource(p) for p in policies]))


async def _subject(request: Request) -> str | None:
    """The beta body ``{"subject": {"objectId": …}}``: evaluate for that user, as an
    on-behalf requestor would ask. No body (v1.0) or ``{}``: the caller."""
    raw = await request.body()
    if not raw.strip():
        return None
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise ApiError(415, "UnsupportedMediaType", "a body must be application/json")
    try:
        body = RequirementsBody.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise bad_request("InvalidRequest", f"{where}: {first['msg']}", where or None) from None
    return body.subject.object_id if body.subject is not None else None
