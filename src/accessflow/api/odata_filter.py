"""``$filter``: a small recursive-descent parser over this grammar (spec §6; Graph's literal
forms: quoted strings, unquoted date-times)::

    filter     := expression EOF
    expression := term ("and" term)*
    term       := "(" expression ")" | comparison
    comparison := property operator literal        property: a name or name/name

Each collection says which properties may be filtered, with which operators; anything else
(``or``, ``not``, functions, unknown properties or operators) is a 400, never silently
ignored. The work per filter is bounded: the text by the option's length
(:data:`accessflow.api.odata.MAX_OPTION_CHARS`), parentheses by :data:`MAX_DEPTH`, conditions
by :data:`MAX_COMPARISONS`, and every literal is checked for what PostgreSQL accepts before
it becomes a bound parameter (:mod:`accessflow.domain.storable`). The result is a tuple of
:class:`~accessflow.domain.filters.Comparison`; no client text reaches SQL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NoReturn

from accessflow.api.errors import ApiError, bad_request
from accessflow.domain.enums import GraphEnum
from accessflow.domain.filters import Comparison
from accessflow.domain.storable import moment_problem, text_problem

#: Parentheses nested deeper than this are refused. ODataLib's parser takes a recursion
#: limit and ASP.NET OData refuses filters over 100 syntax-tree nodes by default
#: (``MaxNodeCount``); Graph publishes no number. 32 levels is far more than a filter of
#: and-joined conditions can use, and far below Python's recursion limit.
MAX_DEPTH = 32
#: Conditions in one filter: about ASP.NET OData's 100 nodes (50 comparisons, 49 ``and``).
MAX_COMPARISONS = 50
#: A quoted value: the ids and enum values it can match are far shorter.
MAX_LITERAL_CHARS = 256

Kind = Literal["enum", "id", "datetime"]
EQ = frozenset({"eq"})
RANGE = frozenset({"gt", "ge", "lt", "le"})
OPERATORS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})


@dataclass(frozen=True)
class FieldSpec:
    kind: Kind
    ops: frozenset[str] = EQ
    enum: type[GraphEnum] | None = None


def unsupported(option: str, message: str) -> ApiError:
    return bad_request("UnsupportedQueryOption", message, option)


_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<paren>[()])
    |(?P<string>'(?:[^']|'')*')
    |(?P<datetime>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}
        (?::[0-9]{2}(?:\.[0-9]{1,12})?)?(?:Z|[+-][0-9]{2}:[0-9]{2}))
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
    |(?P<number>-?[0-9]{1,19}(?:\.[0-9]{1,19})?)""",
    re.VERBOSE | re.ASCII,
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
    def __init__(self, fields: Mapping[str, FieldSpec], text: str) -> None:
        self.fields = fields
        self.tokens = _tokens(text)
        self.pos = 0
        self.depth = 0
        self.comparisons = 0

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

    def fail(self, token: _Token, message: str) -> NoReturn:
        shown = token.text if len(token.text) <= 40 else token.text[:40] + "…"
        raise unsupported("$filter", f"$filter: {message} at {token.at} ({shown!r})")

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
            return self.group(token)
        if token.kind != "name":
            self.fail(token, "expected a property name")
        if token.text.lower() == "not":
            self.fail(token, "'not' is not supported")
        nxt = self.peek()
        if nxt is not None and nxt.text == "(":
            self.fail(token, "functions are not supported")
        return [self.comparison(token)]

    def group(self, opening: _Token) -> list[Comparison]:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(opening, f"parentheses nest deeper than {MAX_DEPTH} levels")
        found = self.expression()
        if self.take("')'").text != ")":
            self.fail(self.tokens[self.pos - 1], "expected ')'")
        self.depth -= 1
        return found

    def comparison(self, name: _Token) -> Comparison:
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            self.fail(name, f"more than {MAX_COMPARISONS} conditions")
        spec = self.fields.get(name.text)
        if spec is None:
            allowed = ", ".join(sorted(self.fields))
            self.fail(name, f"cannot filter on this property; supported: {allowed}")
        op = self.take("an operator")
        if op.text not in OPERATORS:
            self.fail(op, "expected an operator (eq, gt, ge, lt, le)")
        if op.text not in spec.ops:
            self.fail(op, f"{name.text} supports only {', '.join(sorted(spec.ops))}")
        literal = self.take("a value")
        return Comparison(name.text, op.text, literal_value(name.text, spec, literal))


def literal_value(name: str, spec: FieldSpec, token: _Token) -> Any:
    """The typed value of ``token`` for property ``name``, checked for what PostgreSQL
    accepts (a 400 naming ``$filter`` otherwise)."""
    text = token.text[1:-1].replace("''", "'") if token.kind == "string" else token.text
    if token.kind == "string" and (problem := text_problem(text, MAX_LITERAL_CHARS)):
        raise unsupported("$filter", f"{name}: the quoted value {problem}")
    if spec.kind == "datetime":
        return _moment(name, token, text)
    if token.kind != "string":
        raise unsupported("$filter", f"{name} needs a quoted string, e.g. {name} eq 'value'")
    if spec.kind == "enum" and spec.enum is not None:
        try:
            return spec.enum(text).value
        except ValueError:
            allowed = ", ".join(m.value for m in spec.enum)
            raise unsupported("$filter", f"{name}: {text!r} is not one of {allowed}") from None
    return text.lower()


def _moment(name: str, token: _Token, text: str) -> datetime:
    if token.kind not in ("datetime", "string"):
        raise unsupported("$filter", f"{name} needs a date-time such as 2026-01-31T00:00:00Z")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise unsupported(
            "$filter", f"{name}: {text!r} is not a date-time with an offset"
        ) from None
    if problem := moment_problem(moment):
        raise unsupported("$filter", f"{name}: {text!r} {problem}")
    return moment


def parse_filter(fields: Mapping[str, FieldSpec], text: str) -> tuple[Comparison, ...]:
    """The conditions of ``text`` over ``fields``; any problem is an :class:`ApiError`."""
    return _FilterParser(fields, text).parse()
