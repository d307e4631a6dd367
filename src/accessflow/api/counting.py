"""``$count``: the ``/$count`` path segment of every collection, and pages of the applied
catalog (few objects, held in memory), keyset-paged by id, with ``@odata.count``.

``/$count`` answers the number alone as ``text/plain`` and accepts only ``$filter`` (OData
4.01 §11.2.10); ``$count=true`` on a collection adds ``@odata.count``, the total matching
the filter, on the first page (Graph's documented behaviour). ``ConsistencyLevel: eventual``
is accepted and not required: accessflow's counts are exact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse, PlainTextResponse

from accessflow.api import paging
from accessflow.api.deps import context_url
from accessflow.api.odata import CollectionSpec, QueryOptions
from accessflow.domain.filters import Comparison

T = TypeVar("T")

#: OpenAPI of a ``/$count`` operation.
COUNT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The number of items matching $filter",
        "content": {"text/plain": {"schema": {"type": "integer", "minimum": 0}}},
    }
}


def count_spec(spec: CollectionSpec) -> CollectionSpec:
    """The options ``…/$count`` takes: the collection's ``$filter``, nothing else."""
    return replace(
        spec,
        name=f"{spec.name}/$count",
        select=frozenset(),
        expand=frozenset(),
        orderby=None,
        paged=False,
    )


def count_response(total: int) -> PlainTextResponse:
    return PlainTextResponse(str(total))


def wants_count(options: QueryOptions) -> bool:
    return options.count and options.after is None


def matches(value: str | None, comparison: Comparison) -> bool:
    """An ``eq`` comparison of an id or name; the parser has folded the literal already."""
    return value is not None and value.casefold() == str(comparison.value).casefold()


def filtered(
    items: Sequence[T],
    filters: Sequence[Comparison],
    fields: Mapping[str, Callable[[T], str | None]],
) -> list[T]:
    return [i for i in items if all(matches(fields[c.field](i), c) for c in filters)]


def memory_page(
    request: Request,
    spec: CollectionSpec,
    options: QueryOptions,
    items: Sequence[T],
    key: Callable[[T], str],
    render: Callable[[T], dict[str, Any]],
    context: str | None = None,
) -> JSONResponse:
    """One page of ``items`` (already filtered and readable), in ``key`` order."""
    ordered = sorted(items, key=key)
    after = paging.id_after(options)
    rest = [i for i in ordered if after is None or key(i) > after]
    page = rest[: options.top]
    link = None
    if len(rest) > options.top:
        link = paging.next_link(request, spec, options, [key(page[-1])])
    total = len(ordered) if wants_count(options) else None
    body = paging.collection(
        context_url(request, context or spec.name), [render(i) for i in page], link, total
    )
    return JSONResponse(body)


def json_errors_on_count_routes(document: dict[str, Any]) -> None:
    """FastAPI documents every response of a ``text/plain`` operation as ``text/plain``;
    a ``/$count``'s errors are Graph's JSON like everyone else's."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status != "200" and "text/plain" in content:
                    content["application/json"] = content.pop("text/plain")
