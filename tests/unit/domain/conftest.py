"""Fixtures for the domain's unit tests: the example catalog and views over it."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import yaml
from domain_support import EXAMPLE_CATALOG, MakeView, standard_assignments

from accessflow.domain import (
    AccessPackageAssignment,
    InMemoryView,
    OpenRequest,
    load_catalog,
)


@pytest.fixture(scope="session")
def example_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(EXAMPLE_CATALOG.read_text(encoding="utf-8"))
    return document


@pytest.fixture
def make_view(example_document: dict[str, Any]) -> MakeView:
    """A view over the example catalog, after ``edit(document)`` if given."""

    def make(
        edit: Callable[[dict[str, Any]], None] | None = None,
        *,
        assignments: Iterable[AccessPackageAssignment] | None = None,
        open_requests: Iterable[OpenRequest] = (),
    ) -> InMemoryView:
        document = copy.deepcopy(example_document)
        if edit is not None:
            edit(document)
        return InMemoryView(
            load_catalog(document),
            assignments=standard_assignments() if assignments is None else assignments,
            open_requests=open_requests,
        )

    return make


@pytest.fixture
def view(make_view: MakeView) -> InMemoryView:
    return make_view()
