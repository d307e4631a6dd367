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
    foreign_skiptoken,
    parse_options,
)
from accessflow.domain.storable import moment_problem, text_problem
from accessflow.service.read_model import Keyset

#: A catalog page's key is an object id (the domain bounds ids to 256 characters).
MAX_KEY_CHARS = 256

_DESCRIPTIONS = {
    "$filter": "Conditions joined with 'and' (see docs/api.md for the properties)",
    "$select": "Comma-separated properties to return",
    "$expand": "Comma-separated navigation properties to include",
    "$orderby": "createdDateTime [asc|desc]",
    "$skiptoken": "Opaque: taken from @odata.nextLink, sent alone",
    "$count": "true: add @odata.count, the total matching $filter (first page only)",
}


def openapi_parameters(spec: CollectionSpec) -> dict[str, Any]:
    """``openapi_extra`` declaring the collection's query options."""
    parameters: list[dict[str, Any]] = []
    for name in sorted(spec.options):
        schema: dict[str, Any] = {"type": "string"}
        if name == "$top":
            schema = {"type": "integer", "minimum": 1, "maximum": MAX_TOP}
        elif name == "$count":
            schema = {"type": "string", "enum": ["true", "false"]}
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
    """The position after which this page starts, from the ``$skiptoken``: a creation time
    PostgreSQL can compare (with an offset, in range) and a GUID, or a 400."""
    if options.after is None:
        return None
    try:
        created, row_id = options.after
        moment = datetime.fromisoformat(created)
        position = Keyset(moment, uuid.UUID(row_id))
    except ValueError:
        raise foreign_skiptoken() from None
    if moment_problem(moment) is not None:
        raise foreign_skiptoken()
    return position


def id_after(options: QueryOptions) -> str | None:
    """The id after which a page ordered by id starts, from the ``$skiptoken``, or a 400."""
    if options.after is None:
        return None
    if len(options.after) != 1 or text_problem(options.after[0], MAX_KEY_CHARS) is not None:
        raise foreign_skiptoken()
    return options.after[0]


def next_link(
    request: Request, spec: CollectionSpec, options: QueryOptions, last: Sequence[str]
) -> str:
    token = encode_skiptoken(spec, options, last)
    return f"{base_url(request)}{request.url.path}?$skiptoken={token}"


def collection(
    context: str, value: list[dict[str, Any]], link: str | None = None, count: int | None = None
) -> dict[str, Any]:
    """A Graph collection body; ``count`` is ``@odata.count`` (``$count=true``)."""
    body: dict[str, Any] = {"@odata.context": context}
    if count is not None:
        body["@odata.count"] = count
    body["value"] = value
    if link is not None:
        body["@odata.nextLink"] = link
    return body
