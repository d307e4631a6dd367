"""``…/assignmentPolicies`` and ``…/catalogs``: list, ``$count``, get, and a catalog's
``accessPackages``. What a caller may read is :mod:`accessflow.api.catalog_access`'s rule."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from accessflow.api import paging
from accessflow.api.catalog_access import caller_access
from accessflow.api.catalog_resources import (
    CATALOG_EXPAND,
    CATALOG_PROPERTIES,
    POLICY_EXPAND,
    POLICY_PROPERTIES,
    catalog_resource,
    package_resource,
    policy_resource,
)
from accessflow.api.counting import COUNT_RESPONSES, count_response, count_spec, filtered
from accessflow.api.counting import memory_page as page_of
from accessflow.api.deps import PREFIX, Caller, Context, context_url
from accessflow.api.errors import ERROR_RESPONSES
from accessflow.api.odata import CollectionSpec, FieldSpec
from accessflow.api.routes_packages import PACKAGE_FIELDS, PACKAGES
from accessflow.api.schemas_reads import (
    AccessPackageCatalogResource,
    AccessPackageCollection,
    AssignmentPolicyCollection,
    AssignmentPolicyResource,
    CatalogsCollection,
)
from accessflow.domain.catalog import fold
from accessflow.domain.models.packages import AccessPackageCatalog
from accessflow.domain.models.policies import AccessPackageAssignmentPolicy

router = APIRouter(prefix=PREFIX, tags=["catalog"], responses=ERROR_RESPONSES)

POLICY_FIELDS = {
    "displayName": lambda p: p.display_name,
    "accessPackage/id": lambda p: p.package_id,
}
POLICIES = CollectionSpec(
    "assignmentPolicies",
    fields={name: FieldSpec("id") for name in POLICY_FIELDS},
    select=POLICY_PROPERTIES,
    expand=POLICY_EXPAND,
)
ONE_POLICY = CollectionSpec(
    "assignmentPolicy", select=POLICIES.select, expand=POLICIES.expand, paged=False
)
CATALOG_FIELDS = {"displayName": lambda c: c.display_name}
CATALOGS = CollectionSpec(
    "catalogs",
    fields={name: FieldSpec("id") for name in CATALOG_FIELDS},
    select=CATALOG_PROPERTIES,
    expand=CATALOG_EXPAND,
)
ONE_CATALOG = CollectionSpec("catalog", select=CATALOGS.select, expand=CATALOGS.expand, paged=False)
CATALOG_PACKAGES = CollectionSpec(
    "catalogAccessPackages", fields=PACKAGES.fields, select=PACKAGES.select, expand=PACKAGES.expand
)


def _policy_key(policy: AccessPackageAssignmentPolicy) -> str:
    return fold(policy.id)


def _catalog_key(catalog: AccessPackageCatalog) -> str:
    return fold(catalog.id)


@router.get(
    "/assignmentPolicies",
    response_model=AssignmentPolicyCollection,
    openapi_extra=paging.openapi_parameters(POLICIES),
    summary="List the assignment policies the caller may read",
)
async def list_policies(request: Request, ctx: Context, caller: Caller) -> JSONResponse:
    options = paging.query_options(POLICIES, request)
    access = await caller_access(ctx, caller)
    readable = [p for p in access.policies() if access.may_read_policy(p)]
    return page_of(
        request, POLICIES, options, filtered(readable, options.filters, POLICY_FIELDS),
        _policy_key, lambda p: policy_resource(p, access, options.expand, options.select),
    )  # fmt: skip


@router.get(
    "/assignmentPolicies/$count",
    response_class=PlainTextResponse,
    responses=COUNT_RESPONSES,
    openapi_extra=paging.openapi_parameters(count_spec(POLICIES)),
    summary="How many assignment policies the caller may read (text/plain)",
)
async def count_policies(request: Request, ctx: Context, caller: Caller) -> PlainTextResponse:
    options = paging.query_options(count_spec(POLICIES), request)
    access = await caller_access(ctx, caller)
    readable = [p for p in access.policies() if access.may_read_policy(p)]
    return count_response(len(filtered(readable, options.filters, POLICY_FIELDS)))


@router.get(
    "/assignmentPolicies/{policy_id}",
    response_model=AssignmentPolicyResource,
    openapi_extra=paging.openapi_parameters(ONE_POLICY),
    summary="Get an assignment policy",
)
async def get_policy(
    request: Request, ctx: Context, caller: Caller, policy_id: str
) -> JSONResponse:
    options = paging.query_options(ONE_POLICY, request)
    access = await caller_access(ctx, caller)
    body = policy_resource(access.policy(policy_id), access, options.expand, options.select)
    context = context_url(request, "assignmentPolicies/$entity")
    return JSONResponse({"@odata.context": context, **body})


@router.get(
    "/catalogs",
    response_model=CatalogsCollection,
    openapi_extra=paging.openapi_parameters(CATALOGS),
    summary="List the catalogs holding a package the caller may read",
)
async def list_catalogs(request: Request, ctx: Context, caller: Caller) -> JSONResponse:
    options = paging.query_options(CATALOGS, request)
    access = await caller_access(ctx, caller)
    readable = [c for c in access.catalogs() if access.may_read_catalog(c)]
    return page_of(
        request, CATALOGS, options, filtered(readable, options.filters, CATALOG_FIELDS),
        _catalog_key, lambda c: catalog_resource(c, access, options.expand, options.select),
    )  # fmt: skip


@router.get(
    "/catalogs/$count",
    response_class=PlainTextResponse,
    responses=COUNT_RESPONSES,
    openapi_extra=paging.openapi_parameters(count_spec(CATALOGS)),
    summary="How many catalogs the caller may read (text/plain)",
)
async def count_catalogs(request: Request, ctx: Context, caller: Caller) -> PlainTextResponse:
    options = paging.query_options(count_spec(CATALOGS), request)
    access = await caller_access(ctx, caller)
    readable = [c for c in access.catalogs() if access.may_read_catalog(c)]
    return count_response(len(filtered(readable, options.filters, CATALOG_FIELDS)))


@router.get(
    "/catalogs/{catalog_id}",
    response_model=AccessPackageCatalogResource,
    openapi_extra=paging.openapi_parameters(ONE_CATALOG),
    summary="Get a catalog",
)
async def get_catalog(
    request: Request, ctx: Context, caller: Caller, catalog_id: str
) -> JSONResponse:
    options = paging.query_options(ONE_CATALOG, request)
    access = await caller_access(ctx, caller)
    body = catalog_resource(access.catalog(catalog_id), access, options.expand, options.select)
    return JSONResponse({"@odata.context": context_url(request, "catalogs/$entity"), **body})


@router.get(
    "/catalogs/{catalog_id}/accessPackages",
    response_model=AccessPackageCollection,
    openapi_extra=paging.openapi_parameters(CATALOG_PACKAGES),
    summary="The access packages of a catalog that the caller may read",
)
async def catalog_packages(
    request: Request, ctx: Context, caller: Caller, catalog_id: str
) -> JSONResponse:
    options = paging.query_options(CATALOG_PACKAGES, request)
    access = await caller_access(ctx, caller)
    catalog = access.catalog(catalog_id)
    visible = [p for p in access.packages_in(catalog.id) if access.listed_package(p)]
    return page_of(
        request, CATALOG_PACKAGES, options, filtered(visible, options.filters, PACKAGE_FIELDS),
        lambda p: fold(p.id),
        lambda p: package_resource(p, access, options.expand, options.select),
        context=f"catalogs('{catalog.id}')/accessPackages",
    )  # fmt: skip
