"""The in-memory DirectoryView: look-ups by id ignore case; only live assignments count."""

from __future__ import annotations

from domain_support import (
    ALEX,
    EXAMPLE_CATALOG,
    FALCON,
    KAYO,
    MEGAN,
    SALES,
    SALES_ASSIGNMENT,
    SALES_POLICY,
    assignment,
)

from accessflow.adapters.catalog_file import read_catalog_file
from accessflow.domain import (
    AccessPackageAssignment,
    DirectoryView,
    InMemoryView,
    OpenRequest,
)


def view_with(
    *assignments: AccessPackageAssignment, open_requests: tuple[OpenRequest, ...] = ()
) -> InMemoryView:
    catalog = read_catalog_file(EXAMPLE_CATALOG)
    return InMemoryView(catalog, assignments=assignments, open_requests=open_requests)


def test_in_memory_view_satisfies_the_protocol() -> None:
    view: DirectoryView = view_with()
    assert view.user(MEGAN.upper()) is not None


def test_directory_look_ups_ignore_case() -> None:
    view = view_with()
    assert view.manager_of(MEGAN.upper()) == ALEX
    assert view.user_by_mail("MEGAN.BOWEN@WOODGROVEBANK.COM") is not None
    assert view.package(SALES.upper()) is not None
    assert view.policy(SALES_POLICY.upper()) is not None
    assert next(p.id for p in view.policies_of(SALES.upper())) == SALES_POLICY
    assert view.user("nobody") is None
    assert view.group_members("nobody") == frozenset()


def test_assignments_of_lists_live_assignments_only() -> None:
    live = assignment(SALES_ASSIGNMENT, MEGAN, SALES, SALES_POLICY)
    gone = assignment("a2", MEGAN, FALCON, "p", state="expired")
    view = view_with(live, gone)
    assert [a.id for a in view.assignments_of(MEGAN.upper())] == [SALES_ASSIGNMENT]
    assert view.assignment("A2") is not None
    view.remove_assignment(SALES_ASSIGNMENT.upper())
    assert view.assignments_of(MEGAN) == []


def test_open_requests_are_tracked_until_closed() -> None:
    view = view_with(open_requests=(OpenRequest("r1", KAYO, SALES),))
    assert view.has_open_request(KAYO.upper(), SALES.upper())
    assert not view.has_open_request(KAYO, FALCON)
    assert view.open_request_packages(KAYO) == frozenset({SALES})
    view.close_request("R1")
    assert not view.has_open_request(KAYO, SALES)
