"""Collection plumbing shared by the list operations: the OpenAPI parameters a collection
declares, its query options, keyset cursors and the ``@odata.nextLink``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fastapi import Request

from accessflow.api.deps import base_url
from accessflow.api.odata import (
    MAX_TOP,
    CollectionSpec,
    QueryOptions,
    encode_skiptoken,
    parse_options,
    unsupported,
)
from accessflow.service.read_model import Keyset

_DESCRIPTIONS = {
    "$filter": "Conditions joined with 'and' (see docs/api.md for the properties)",
    "$select": "Comma-separated properties to return",
    "$expand": "Comma-separated navigation properties to include",
    "$orderby": "createdDateTime [asc|desc]",
    "$skiptoken": "Opaque: taken from @odata.nextLink, sent alone",
}


def openapi_parameters(spec: CollectionSpec) -> dict[str, Any]:
    """``openapi_extra`` declaring the collection's query options."""
    parameters: list[dict[str, Any]] = []
    for name in sorted(spec.options):
        schema: dict[str, Any] = {"type": "string"}
        if name == "$top":
            schema = {"type": "integer", "minimum": 1, "maximum": MAX_TOP}
        parameters.append(
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": schema,
                "description": _DESCRIPTIONS.get(name, "Page size (default 100)"),
            }
        )
    return {"parameters": parameters}


def query_options(spec: CollectionSpec, request: Request) -> QueryOptions:
    return parse_options(spec, request.query_params.multi_items())


def keyset(options: QueryOptions) -> Keyset | None:
    """The position after which this page starts, from the ``$skiptoken``."""
    if options.after is None:
        return None
    try:
        created, row_id = options.after
        return Keyset(datetime.fromisoformat(created), uuid.UUID(row_id))
    except ValueError:
        raise unsupported(
            "$skiptoken", "the $skiptoken is not one this collection issued"
        ) from None


def next_link(
    request: Request, spec: CollectionSpec, options: QueryOptions, last: Sequence[str]
) -> str:
    token = encode_skiptoken(spec, options, last)
    return f"{base_url(request)}{request.url.path}?$skiptoken={token}"


def collection(
    context: str, value: list[dict[str, Any]], link: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"@odata.context": context, "value": value}
    if link is not None:
        body["@odata.nextLink"] = link
    return body
