"""Property tests: no document crashes the catalog loader."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from accessflow.domain import Catalog, CatalogValidationError, load_catalog

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=10)
    | st.sampled_from(
        [
            "Member",
            "Guest",
            "allMemberUsers",
            "P1D",
            "#microsoft.graph.singleUser",
            "AadGroup",
            "u1",
        ]
    )
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=20,
)
FIELDS = [
    "id",
    "displayName",
    "mail",
    "userType",
    "managerId",
    "members",
    "catalogId",
    "accessPackageId",
    "resourceRoleScopes",
    "incompatibleAccessPackages",
    "allowedTargetScope",
    "specificAllowedTargets",
    "requestApprovalSettings",
    "requestorSettings",
    "questions",
    "expiration",
]
entries = st.dictionaries(st.sampled_from(FIELDS), json_values | st.sampled_from(["u1", "c1"]))
documents = st.dictionaries(
    st.sampled_from(["users", "groups", "catalogs", "accessPackages", "assignmentPolicies", "x"]),
    st.lists(entries, max_size=3) | json_values,
    max_size=5,
)


@settings(max_examples=400, deadline=None)
@given(documents | json_values)
def test_any_document_loads_or_raises_the_catalog_error_with_paths(document: Any) -> None:
    failure: CatalogValidationError | None = None
    try:
        catalog = load_catalog(document)
    except CatalogValidationError as error:
        failure = error
    if failure is None:
        assert isinstance(catalog, Catalog)
    else:
        assert failure.details
        assert all(isinstance(d.path, str) and d.message for d in failure.details)
