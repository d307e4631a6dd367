"""The OData query options accessflow supports, parsed and checked before any SQL exists.

``$filter`` is a small recursive-descent parser over this grammar (spec §6; Graph's literal
forms: quoted strings, unquoted date-times)::

    filter     := expression EOF
    expression := term ("and" term)*
    term       := "(" expression ")" | comparison
    comparison := property operator literal        property: a name or name/name

Each collection says which properties may be filtered, with which operators; anything else
(``or``, ``not``, functions, unknown properties or operators, ``$skip``, ``$search``,
``$count``…) is a 400, never silently ignored. The result is a tuple of
:class:`~accessflow.service.read_model.Comparison` whose values are typed and become
bound parameters; no client text reaches SQL.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import orjson

from accessflow.api.errors import ApiError, bad_request
from accessflow.domain.enums import GraphEnum
from accessflow.service.read_model import Comparison

DEFAULT_TOP = 100
MAX_TOP = 1000
Kind = Literal["enum", "id", "datetime"]
EQ = frozenset({"eq"})
RANGE = frozenset({"gt", "ge", "lt", "le"})
OPERATORS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})


@dataclass(frozen=True)
class FieldSpec:
    kind: Kind
    ops: frozenset[str] = EQ
    enum: type[GraphEnum] | None = None


@dataclass(frozen=True)
class CollectionSpec:
    name: str
    fields: Mapping[str, FieldSpec] = field(default_factory=dict)
    select: frozenset[str] = frozenset()
    expand: frozenset[str] = frozenset()
    orderby: str | None = None
    paged: bool = True

    @property
    def options(self) -> frozenset[str]:
        names = {"$top", "$skiptoken"} if self.paged else set()
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


def unsupported(option: str, message: str) -> ApiError:
    return bad_request("UnsupportedQueryOption", message, option)


def parse_options(spec: CollectionSpec, items: Sequence[tuple[str, str]]) -> QueryOptions:
    """Check the query string of a collection request and parse what it asks for."""
    raw: dict[str, str] = {}
    for name, value in items:
        if name not in spec.options:
            raise unsupported(name, f"the query option {name!r} is not supported here")
        if name in raw:
            raise unsupported(name, f"the query option {name} is given twice")
        raw[name] = value
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
        filters=parse_filter(spec, raw["$filter"]) if "$filter" in raw else (),
        select=_parse_select(spec, raw["$select"]) if "$select" in raw else None,
        expand=_parse_expand(spec, raw["$expand"]) if "$expand" in raw else frozenset(),
        top=_parse_top(raw.get("$top")),
        descending=_parse_orderby(spec, raw["$orderby"]) if "$orderby" in raw else False,
        after=after,
        raw=raw,
    )


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


def _parse_expand(spec: CollectionSpec, value: str) -> frozenset[str]:
    names = _names("$expand", value)
    for name in names:
        if "(" in name:
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


# ---- $filter -------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<paren>[()])
    |(?P<string>'(?:[^']|'')*')
    |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,12})?)?(?:Z|[+-]\d{2}:\d{2}))
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
    |(?P<number>-?\d+(?:\.\d+)?)""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    at: int


def _tokens(text: str) -> list[_Token]:
    out, at = [], 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise unsupported("$filter", f"$filter: unexpected {text[at : at + 10]!r} at {at}")
        kind = match.lastgroup or ""
        if kind != "space":
            out.append(_Token(kind, match.group(), at))
        at = match.end()
    return out


class _FilterParser:
    def __init__(self, spec: CollectionSpec, text: str) -> None:
        self.spec = spec
        self.tokens = _tokens(text)
        self.pos = 0

    def parse(self) -> tuple[Comparison, ...]:
        if not self.tokens:
            raise unsupported("$filter", "$filter is empty")
        found = self.expression()
        if self.pos < len(self.tokens):
            self.fail(self.tokens[self.pos], "expected 'and' or the end")
        return tuple(found)

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, what: str) -> _Token:
        token = self.peek()
        if token is None:
            raise unsupported("$filter", f"$filter ends where {what} was expected")
        self.pos += 1
        return token

    def fail(self, token: _Token, message: str) -> None:
        raise unsupported("$filter", f"$filter: {message} at {token.at} ({token.text!r})")

    def expression(self) -> list[Comparison]:
        found = self.term()
        while (token := self.peek()) is not None and token.kind == "name":
            word = token.text.lower()
            if word == "or":
                self.fail(token, "'or' is not supported; combine conditions with 'and'")
            if word != "and":
                break
            self.pos += 1
            found += self.term()
        return found

    def term(self) -> list[Comparison]:
        token = self.take("a condition")
        if token.text == "(":
            found = self.expression()
            if self.take("')'").text != ")":
                self.fail(self.tokens[self.pos - 1], "expected ')'")
            return found
        if token.kind != "name":
            self.fail(token, "expected a property name")
        if token.text.lower() == "not":
            self.fail(token, "'not' is not supported")
        nxt = self.peek()
        if nxt is not None and nxt.text == "(":
            self.fail(token, "functions are not supported")
        return [self.comparison(token)]

    def comparison(self, name: _Token) -> Comparison:
        spec = self.spec.fields.get(name.text)
        if spec is None:
            allowed = ", ".join(sorted(self.spec.fields))
            self.fail(name, f"cannot filter on {name.text!r}; supported: {allowed}")
            raise AssertionError  # pragma: no cover - fail raises
        op = self.take("an operator")
        if op.text not in OPERATORS:
            self.fail(op, "expected an operator (eq, gt, ge, lt, le)")
        if op.text not in spec.ops:
            self.fail(op, f"{name.text} supports only {', '.join(sorted(spec.ops))}")
        literal = self.take("a value")
        return Comparison(name.text, op.text, _value(name.text, spec, literal))


def _value(name: str, spec: FieldSpec, token: _Token) -> Any:
    text = token.text[1:-1].replace("''", "'") if token.kind == "string" else token.text
    if spec.kind == "datetime":
        if token.kind not in ("datetime", "string"):
            raise unsupported("$filter", f"{name} needs a date-time such as 2026-01-31T00:00:00Z")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise unsupported("$filter", f"{name}: {text!r} is not a date-time with an offset")
        return moment
    if token.kind != "string":
        raise unsupported("$filter", f"{name} needs a quoted string, e.g. {name} eq 'value'")
    if spec.kind == "enum" and spec.enum is not None:
        try:
            return spec.enum(text).value
        except ValueError:
            allowed = ", ".join(m.value for m in spec.enum)
            raise unsupported("$filter", f"{name}: {text!r} is not one of {allowed}") from None
    return text.lower()


def parse_filter(spec: CollectionSpec, text: str) -> tuple[Comparison, ...]:
    return _FilterParser(spec, text).parse()


# ---- paging --------------------------------------------------------------------------------


def encode_skiptoken(spec: CollectionSpec, options: QueryOptions, last: Sequence[str]) -> str:
    """The opaque ``$skiptoken`` of the next page: the query itself and the last row's key."""
    payload = orjson.dumps({"c": spec.name, "q": dict(options.raw), "k": list(last)})
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_skiptoken(spec: CollectionSpec, token: str) -> tuple[dict[str, str], tuple[str, ...]]:
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        query, key = payload["q"], payload["k"]
        valid = payload["c"] == spec.name and isinstance(query, dict) and isinstance(key, list)
    except (binascii.Error, ValueError, KeyError, TypeError):
        valid = False
    if not valid or "$skiptoken" in query or not all(isinstance(v, str) for v in key):
        raise unsupported("$skiptoken", "the $skiptoken is not one this collection issued")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in query.items()):
        raise unsupported("$skiptoken", "the $skiptoken is not one this collection issued")
    for name in query:
        if name not in spec.options:
            raise unsupported("$skiptoken", "the $skiptoken is not one this collection issued")
    return query, tuple(key)
