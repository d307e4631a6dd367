"""The OData additions of the read side: ``$count`` values and nested ``$expand`` forms."""

from __future__ import annotations

import pytest

from accessflow.api.counting import count_spec
from accessflow.api.errors import ApiError
from accessflow.api.odata import CollectionSpec, FieldSpec, parse_options

PACKAGES = CollectionSpec(
    "accessPackages",
    fields={"displayName": FieldSpec("id")},
    select=frozenset({"displayName"}),
    expand=frozenset({"catalog", "resourceRoleScopes($expand=role,scope)"}),
)


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("TRUE", True), ("false", False)])
def test_count_is_true_or_false(value: str, expected: bool) -> None:
    assert parse_options(PACKAGES, [("$count", value)]).count is expected


@pytest.mark.parametrize("value", ["", "1", "yes", "true,false"])
def test_any_other_count_is_a_400_naming_it(value: str) -> None:
    with pytest.raises(ApiError) as refused:
        parse_options(PACKAGES, [("$count", value)])
    assert (refused.value.status, refused.value.target) == (400, "$count")


def test_a_declared_nested_expand_keeps_its_inner_commas() -> None:
    options = parse_options(
        PACKAGES, [("$expand", "catalog, resourceRoleScopes($expand=role,scope)")]
    )
    assert options.expand == {"catalog", "resourceRoleScopes($expand=role,scope)"}


@pytest.mark.parametrize(
    "value", ["resourceRoleScopes($top=1)", "catalog(", "catalog)", "catalog,,resourceRoleScopes"]
)
def test_undeclared_or_broken_expands_are_a_400(value: str) -> None:
    with pytest.raises(ApiError) as refused:
        parse_options(PACKAGES, [("$expand", value)])
    assert refused.value.target == "$expand"


def test_the_count_segment_takes_filter_and_nothing_else() -> None:
    segment = count_spec(PACKAGES)
    assert segment.options == {"$filter"}
    for option in ("$top", "$count", "$select", "$expand", "$skiptoken"):
        with pytest.raises(ApiError):
            parse_options(segment, [(option, "1")])
