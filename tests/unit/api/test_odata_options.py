"""Query options other than the filter itself: each option's length, control characters,
unknown names, and $skiptoken tokens (garbage, forged, or carrying what a query string could
not) are the parser's own 400 naming the option; the largest token accessflow can issue is
one it accepts back."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accessflow.api import paging
from accessflow.api.errors import ApiError
from accessflow.api.odata import (
    MAX_OPTION_CHARS,
    QueryOptions,
    decode_skiptoken,
    encode_skiptoken,
    parse_options,
)
from accessflow.api.odata_filter import MAX_COMPARISONS, MAX_LITERAL_CHARS
from accessflow.api.routes_packages import PACKAGES
from accessflow.api.routes_requests import REQUESTS

ROW = ["2026-01-01T00:00:00+00:00", "a914b616-e04e-476b-aa37-91038f0b165b"]


def refused(items: Sequence[tuple[str, str]], spec: Any = REQUESTS) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse_options(spec, items)
    assert (caught.value.status, caught.value.reason) == (400, "UnsupportedQueryOption")
    return caught.value


def token(payload: Any) -> str:
    """A token as a client could forge it (the stdlib escapes lone surrogates; orjson won't)."""
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize("option", sorted(MAX_OPTION_CHARS))
def test_each_option_over_its_length_is_refused_naming_it(option: str) -> None:
    error = refused([(option, "x" * (MAX_OPTION_CHARS[option] + 1))])
    assert error.target == option
    assert f"longer than {MAX_OPTION_CHARS[option]}" in error.message


@pytest.mark.parametrize("char", ["\x00", "\n", "\r", "\x1b", "\x7f"])
def test_control_characters_are_refused_in_any_option(char: str) -> None:
    assert refused([("$filter", f"state eq 'a{char}'")]).target == "$filter"
    assert refused([("$select", f"id,{char}state")]).target == "$select"


def test_a_tab_is_whitespace_as_odata_says() -> None:
    options = parse_options(REQUESTS, [("$filter", "state\teq\t'denied'")])
    assert options.filters[0].value == "denied"


def test_an_unknown_option_is_named_in_a_bounded_message() -> None:
    error = refused([("$" + "x" * 10_000, "1")])
    assert len(error.message) < 120
    assert error.target is not None
    assert len(error.target) <= 40


def test_top_is_bounded_and_whole() -> None:
    assert parse_options(REQUESTS, [("$top", "1000")]).top == 1000
    for value in ("0", "1001", "99999999999999999999", "1e3", "٣", "-1", " "):
        assert refused([("$top", value)]).target == "$top"


@pytest.mark.parametrize(
    "bad",
    [
        "garbage!",
        "€€€",  # not ASCII: base64 refuses it
        token([1, 2]),
        token("text"),
        token({"c": "assignmentRequests", "q": {}, "k": [1]}),
        token({"c": "accessPackages", "q": {}, "k": ROW}),
        token({"c": "assignmentRequests", "q": {"$skiptoken": "x"}, "k": ROW}),
        token({"c": "assignmentRequests", "q": {"$skip": "10"}, "k": ROW}),
        token({"c": "assignmentRequests", "q": {"$filter": 5}, "k": ROW}),
        token({"c": "assignmentRequests", "q": {"$filter": "x" * 3000}, "k": ROW}),
        token({"c": "assignmentRequests", "q": {"$filter": "state eq 'a\x00'"}, "k": ROW}),
        token({"c": "assignmentRequests", "q": {"$filter": "(" * 600}, "k": ROW}),
        "[" * 3000,
    ],
)
def test_a_garbage_or_forged_skiptoken_is_refused(bad: str) -> None:
    assert refused([("$skiptoken", bad)]).target in ("$skiptoken", "$filter")


@pytest.mark.parametrize(
    "key",
    [
        [],
        ["2026-01-01T00:00:00+00:00"],
        [*ROW, "extra"],
        ["2026-01-01T00:00:00", ROW[1]],  # no offset
        ["0001-01-01T00:00:00+14:00", ROW[1]],  # before year 1 in UTC
        ["9999-12-31T23:59:59-14:00", ROW[1]],  # after year 9999 in UTC
        ["yesterday", ROW[1]],
        [ROW[0], "not-a-guid"],
        [ROW[0], "a914b616-e04e-476b-aa37-91038f0b165b\x00"],
    ],
)
def test_a_forged_request_key_is_refused_before_it_reaches_sql(key: list[str]) -> None:
    forged = token({"c": "assignmentRequests", "q": {}, "k": key})
    with pytest.raises(ApiError) as caught:
        paging.keyset(parse_options(REQUESTS, [("$skiptoken", forged)]))
    assert (caught.value.status, caught.value.target) == (400, "$skiptoken")


@pytest.mark.parametrize("key", [[], ["a", "b"], ["a\x00"], ["\ud800"], ["x" * 257]])
def test_a_forged_catalog_key_is_refused_before_it_reaches_sql(key: list[str]) -> None:
    forged = token({"c": "accessPackages", "q": {}, "k": key})
    with pytest.raises(ApiError) as caught:
        paging.id_after(parse_options(PACKAGES, [("$skiptoken", forged)]))
    assert (caught.value.status, caught.value.target) == (400, "$skiptoken")


def test_the_keys_accessflow_issues_are_accepted_back() -> None:
    options = parse_options(
        REQUESTS, [("$skiptoken", token({"c": "assignmentRequests", "q": {}, "k": ROW}))]
    )
    position = paging.keyset(options)
    assert position is not None
    assert str(position.id) == ROW[1]
    catalog = parse_options(
        PACKAGES, [("$skiptoken", token({"c": "accessPackages", "q": {}, "k": ["pkg-1"]}))]
    )
    assert paging.id_after(catalog) == "pkg-1"


def _largest_query() -> list[tuple[str, str]]:
    """Every option at its worst for the token's size: literals of four-byte characters,
    as many conditions as fit in $filter's length."""
    condition = f"accessPackage/id eq '{'𝄞' * MAX_LITERAL_CHARS}'"
    count = min(MAX_COMPARISONS, (MAX_OPTION_CHARS["$filter"] + 5) // (len(condition) + 5))
    return [
        ("$filter", " and ".join([condition] * count)),
        ("$select", ",".join(["customExtensionCalloutInstances"] * 16)),
        ("$expand", "accessPackage,assignment,requestor,history"),
        ("$orderby", "createdDateTime desc"),
        ("$top", "1000"),
    ]


def test_the_largest_skiptoken_accessflow_issues_is_within_its_bound_and_accepted() -> None:
    items = _largest_query()
    options = parse_options(REQUESTS, items)
    issued = encode_skiptoken(REQUESTS, options, ROW)
    assert len(issued) <= MAX_OPTION_CHARS["$skiptoken"]
    again = parse_options(REQUESTS, [("$skiptoken", issued)])
    assert again.filters == options.filters
    assert again.after == tuple(ROW)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["$filter", "$select", "$expand", "$top", "$orderby", "$skiptoken"]),
            st.text(max_size=600),
        ),
        max_size=4,
    )
)
def test_any_query_string_parses_or_is_the_parsers_own_400(items: list[tuple[str, str]]) -> None:
    try:
        options = parse_options(REQUESTS, items)
        paging.keyset(options)
    except ApiError as error:
        refusal = error
    else:
        refusal = None
    if refusal is not None:
        assert refusal.status == 400
        return
    assert isinstance(options, QueryOptions)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_any_decoded_token_is_accepted_or_the_parsers_own_400(raw: bytes) -> None:
    text = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    try:
        query, key = decode_skiptoken(REQUESTS, text)
    except ApiError as error:
        refusal = error
    else:
        refusal = None
    if refusal is not None:
        assert (refusal.status, refusal.target) == (400, "$skiptoken")
        return
    assert all(isinstance(k, str) for k in key)
    assert all(isinstance(v, str) for v in query.values())
