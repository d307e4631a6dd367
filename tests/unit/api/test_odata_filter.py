"""The $filter parser's bounds and literal checks: every refusal is the parser's own 400
(ApiError, target $filter), whatever the text; nothing PostgreSQL would refuse gets through."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accessflow.api.errors import ApiError
from accessflow.api.odata_filter import (
    MAX_COMPARISONS,
    MAX_DEPTH,
    MAX_LITERAL_CHARS,
    parse_filter,
)
from accessflow.api.routes_requests import REQUESTS
from accessflow.domain.filters import Comparison

FIELDS = REQUESTS.fields
PACKAGE = "a914b616-e04e-476b-aa37-91038f0b165b"


def refused(text: str) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse_filter(FIELDS, text)
    error = caught.value
    assert (error.status, error.reason, error.target) == (400, "UnsupportedQueryOption", "$filter")
    return error


def nested(depth: int) -> str:
    return "(" * depth + "state eq 'denied'" + ")" * depth


def test_parentheses_up_to_the_depth_bound_parse() -> None:
    assert parse_filter(FIELDS, nested(MAX_DEPTH)) == (Comparison("state", "eq", "denied"),)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 600, 5_000])
def test_deeper_parentheses_are_refused_without_recursing(depth: int) -> None:
    assert "deeper than 32" in refused(nested(depth)).message


def test_depth_counts_nesting_not_groups_side_by_side() -> None:
    side_by_side = " and ".join([nested(MAX_DEPTH)] * 3)
    assert len(parse_filter(FIELDS, side_by_side)) == 3


def test_conditions_up_to_the_bound_parse_and_one_more_is_refused() -> None:
    most = " and ".join(["state eq 'denied'"] * MAX_COMPARISONS)
    assert len(parse_filter(FIELDS, most)) == MAX_COMPARISONS
    assert "more than 50 conditions" in refused(most + " and state eq 'denied'").message


@pytest.mark.parametrize(
    ("literal", "problem"),
    [
        ("a\x00b", "NUL"),
        ("\ud800", "surrogate"),
        ("x" * (MAX_LITERAL_CHARS + 1), "longer than 256"),
    ],
    ids=["nul", "lone-surrogate", "too-long"],
)
@pytest.mark.parametrize("field", ["accessPackage/id", "requestor/objectId", "state"])
def test_a_quoted_value_postgresql_cannot_store_is_refused(
    field: str, literal: str, problem: str
) -> None:
    assert problem in refused(f"{field} eq '{literal}'").message


def test_a_value_at_the_literal_bound_is_accepted() -> None:
    value = "x" * MAX_LITERAL_CHARS
    assert parse_filter(FIELDS, f"accessPackage/id eq '{value}'")[0].value == value


@pytest.mark.parametrize(
    "moment",
    [
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00+00:01",
        "9999-12-31T23:59:59-14:00",
        "9999-12-31T23:59:59.999999-00:01",
        "'0001-01-01T00:00:00+14:00'",
    ],
)
def test_a_date_time_outside_the_utc_range_is_refused(moment: str) -> None:
    assert "outside the years" in refused(f"createdDateTime gt {moment}").message


@pytest.mark.parametrize(
    "moment",
    [
        "2026-01-01T00:00:00",  # no offset
        "'2026-01-01'",  # a date, no time
        "2026-01-01T00:00:00+24:00",  # offset out of range
        "2026-13-01T00:00:00Z",  # no such month
        "٢٠٢٦-01-01T00:00:00Z",  # Arabic-Indic digits
        "12345678901234567890123",  # a number too long to be one
        "'" + "9" * 5000 + "'",  # too long, and more digits than int() takes
    ],
)
def test_malformed_date_times_are_refused(moment: str) -> None:
    refused(f"createdDateTime gt {moment}")


def test_date_times_at_the_edges_of_the_range_parse_as_aware_utc_instants() -> None:
    first, last = parse_filter(
        FIELDS,
        "createdDateTime ge 0001-01-01T00:00:00Z and createdDateTime le 9999-12-31T09:59:59-14:00",
    )
    assert first.value == datetime(1, 1, 1, tzinfo=UTC)
    assert last.value.astimezone(UTC) == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_error_messages_quote_a_bounded_excerpt_of_the_text() -> None:
    assert len(refused("x" * 2_000 + " eq 'a'").message) < 300


# Text built from the filter grammar's own pieces reaches deeper into the parser than
# uniformly random characters do.
_PIECES = st.sampled_from(
    [
        "(",
        ")",
        " ",
        " and ",
        " or ",
        "not ",
        "state",
        "createdDateTime",
        "accessPackage/id",
        "eq",
        "gt",
        "'denied'",
        "'a''b'",
        "'\x00'",
        "'\ud800'",
        "0001-01-01T00:00:00+14:00",
        "2026-01-01T00:00:00Z",
        "-12.5",
        "contains(",
        ",",
    ]
)
_GRAMMAR_TEXT = st.lists(_PIECES, max_size=400).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=4096), _GRAMMAR_TEXT))
def test_any_text_parses_or_is_the_parsers_own_400(text: str) -> None:
    try:
        found = parse_filter(FIELDS, text)
    except ApiError as error:
        refusal = error
    else:
        refusal = None
    if refusal is not None:
        assert (refusal.status, refusal.target) == (400, "$filter")
        return
    assert 1 <= len(found) <= MAX_COMPARISONS
    for comparison in found:
        if isinstance(comparison.value, str):
            assert "\x00" not in comparison.value
            comparison.value.encode("utf-8")
        else:
            comparison.value.astimezone(UTC)
