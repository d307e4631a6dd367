"""The OData query options accessflow supports, parsed and checked before any SQL exists.

Each collection says which options it takes; anything else (``$skip``, ``$search``…, a
repeated option, a value over its length in :data:`MAX_OPTION_CHARS`, a control character)
is a 400 naming the option, never silently ignored. ``$filter`` is parsed
by :mod:`accessflow.api.odata_filter` into :class:`~accessflow.domain.filters.Comparison`
values that become bound parameters; the ``$skiptoken`` carries the query and the last row's
key, and is checked like the options it carries.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import orjson

from accessflow.api.errors import ApiError
from accessflow.api.odata_filter import RANGE, FieldSpec, parse_filter, unsupported
from accessflow.domain.filters import Comparison

__all__ = ["RANGE", "CollectionSpec", "FieldSpec", "QueryOptions", "parse_options", "unsupported"]

DEFAULT_TOP = 100
MAX_TOP = 1000
#: The longest value of each option, in characters. ``$filter``: 50 conditions on GUIDs fit
#: in about 2,000; the others are lists of known names. A ``$skiptoken`` carries the other
#: options (as JSON, base64): the largest one accessflow issues is under 11,000 characters,
#: and 12 KiB still leaves room for the headers in the 16 KiB request head uvicorn accepts.
MAX_OPTION_CHARS: Mapping[str, int] = {
    "$filter": 2_048,
    "$select": 512,
    "$expand": 256,
    "$orderby": 64,
    "$top": 16,
    "$skiptoken": 12_288,
}
#: Any other option a collection takes.
DEFAULT_MAX_OPTION_CHARS = 256
# OData's whitespace is space and tab; no other control character means anything in a
# query option, and NUL cannot reach PostgreSQL.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass(frozen=True)
class CollectionSpec:
    name: str
    fields: Mapping[str, FieldSpec] = field(default_factory=dict)
    select: frozenset[str] = frozenset()
    expand: frozenset[str] = frozenset()
    orderby: str | None = None
    paged: bool = True
    countable: bool = False  # an unpaged collection that still answers $count=true

    @property
    def options(self) -> frozenset[str]:
        names = {"$top", "$skiptoken", "$count"} if self.paged else set()
        names |= {"$count"} if self.countable else set()
        names |= {"$filter"} if self.fields else set()
        names |= {"$select"} if self.select else set()
        names |= {"$expand"} if self.expand else set()
        names |= {"$orderby"} if self.orderby else set()
        return frozenset(names)


@dataclass(frozen=True)
class QueryOptions:
    filters: tuple[Comparison, ...] = ()
    select: tuple[str, ...] | None = None
    expand: frozenset[str] = frozenset()
    top: int = DEFAULT_TOP
    descending: bool = False
    after: tuple[str, ...] | None = None
    raw: Mapping[str, str] = field(default_factory=dict)
    count: bool = False


def _shown(name: str) -> str:
    return repr(name if len(name) <= 40 else name[:40] + "…")


def max_option_chars(name: str) -> int:
    return MAX_OPTION_CHARS.get(name, DEFAULT_MAX_OPTION_CHARS)


def checked_option(name: str, value: str) -> str:
    """``value`` if it is within the bounds of option ``name`` (a 400 naming it otherwise)."""
    limit = max_option_chars(name)
    if len(value) > limit:
        raise unsupported(name, f"{name} is longer than {limit} characters")
    if _CONTROL.search(value):
        raise unsupported(name, f"{name} contains a control character")
    return value


def parse_options(spec: CollectionSpec, items: Sequence[tuple[str, str]]) -> QueryOptions:
    """Check the query string of a collection request and parse what it asks for."""
    raw: dict[str, str] = {}
    for name, value in items:
        if name not in spec.options:
            raise unsupported(name[:40], f"the query option {_shown(name)} is not supported here")
        if name in raw:
            raise unsupported(name, f"the query option {name} is given twice")
        raw[name] = checked_option(name, value)
    if "$skiptoken" in raw:
        if len(raw) > 1:
            raise unsupported("$skiptoken", "$skiptoken carries the whole query; send it alone")
        raw, after = decode_skiptoken(spec, raw["$skiptoken"])
        return _parse(spec, raw, after)
    return _parse(spec, raw, None)


def _parse(
    spec: CollectionSpec, raw: dict[str, str], after: tuple[str, ...] | None
) -> QueryOptions:
    return QueryOptions(
        filters=parse_filter(spec.fields, raw["$filter"]) if "$filter" in raw else (),
        select=_parse_select(spec, raw["$select"]) if "$select" in raw else None,
        expand=_parse_expand(spec, raw["$expand"]) if "$expand" in raw else frozenset(),
        top=_parse_top(raw.get("$top")),
        descending=_parse_orderby(spec, raw["$orderby"]) if "$orderby" in raw else False,
        after=after,
        raw=raw,
        count=parse_count(raw.get("$count")),
    )


def parse_count(value: str | None) -> bool:
    """``$count=true`` asks for ``@odata.count``; OData allows only true and false."""
    if value is None:
        return False
    if value.strip().lower() not in ("true", "false"):
        raise unsupported("$count", "$count must be true or false")
    return value.strip().lower() == "true"


def _names(option: str, value: str) -> list[str]:
    names = [part.strip() for part in value.split(",")]
    if not value.strip() or any(not n for n in names):
        raise unsupported(option, f"{option} needs a comma-separated list of names")
    return names


def _parse_select(spec: CollectionSpec, value: str) -> tuple[str, ...]:
    names = _names("$select", value)
    for name in names:
        if name not in spec.select:
            allowed = ", ".join(sorted(spec.select))
            raise unsupported("$select", f"cannot $select {name!r}; supported: {allowed}")
    return tuple(dict.fromkeys(["id", *names]))


def _top_level_names(option: str, value: str) -> list[str]:
    """Comma-separated names, where commas inside parentheses (a nested ``$expand``) do not
    separate."""
    names, depth, start = [], 0, 0
    for at, char in enumerate(value):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            raise unsupported(option, f"{option}: unbalanced parentheses")
        if char == "," and depth == 0:
            names.append(value[start:at].strip())
            start = at + 1
    names.append(value[start:].strip())
    if depth != 0 or not value.strip() or any(not n for n in names):
        raise unsupported(option, f"{option} needs a comma-separated list of names")
    return names


def _parse_expand(spec: CollectionSpec, value: str) -> frozenset[str]:
    names = _top_level_names("$expand", value)
    for name in names:
        if "(" in name and name not in spec.expand:
            raise unsupported("$expand", "nested query options in $expand are not supported")
        if name not in spec.expand:
            allowed = ", ".join(sorted(spec.expand))
            raise unsupported("$expand", f"cannot $expand {name!r}; supported: {allowed}")
    return frozenset(names)


def _parse_top(value: str | None) -> int:
    if value is None:
        return DEFAULT_TOP
    if not re.fullmatch(r"[0-9]{1,7}", value.strip()) or not 1 <= int(value) <= MAX_TOP:
        raise unsupported("$top", f"$top must be a whole number from 1 to {MAX_TOP}")
    return int(value)


def _parse_orderby(spec: CollectionSpec, value: str) -> bool:
    match = re.fullmatch(r"\s*(\S+)(?:\s+(asc|desc))?\s*", value)
    if match is None or match[1] != spec.orderby:
        raise unsupported("$orderby", f"only $orderby={spec.orderby} [asc|desc] is supported")
    return match[2] == "desc"


# ---- paging --------------------------------------------------------------------------------


def encode_skiptoken(spec: CollectionSpec, options: QueryOptions, last: Sequence[str]) -> str:
    """The opaque ``$skiptoken`` of the next page: the query itself and the last row's key."""
    payload = orjson.dumps({"c": spec.name, "q": dict(options.raw), "k": list(last)})
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def foreign_skiptoken() -> ApiError:
    return unsupported("$skiptoken", "the $skiptoken is not one this collection issued")


def decode_skiptoken(spec: CollectionSpec, token: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """The query and the last row's key a ``$skiptoken`` carries. Tokens are not signed: a
    forged one can only ask for what the options themselves could, so its query is checked
    like a query string (here and by ``_parse``), and its key by the collection (paging)."""
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        query, key = payload["q"], payload["k"]
        valid = payload["c"] == spec.name and isinstance(query, dict) and isinstance(key, list)
    except (binascii.Error, ValueError, KeyError, TypeError):
        valid = False
    if not valid or "$skiptoken" in query or not all(isinstance(v, str) for v in key):
        raise foreign_skiptoken()
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in query.items()):
        raise foreign_skiptoken()
    for name, value in query.items():
        if name not in spec.options:
            raise foreign_skiptoken()
        checked_option(name, value)
    return query, tuple(key)
