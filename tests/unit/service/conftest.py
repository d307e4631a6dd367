"""Fixtures for the handlers' unit tests: an in-memory store over the example catalog."""

from __future__ import annotations

import pytest
from command_support import example_catalog

from accessflow.adapters.memory import InMemoryUnitOfWork
from accessflow.domain.catalog import Catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return example_catalog()


@pytest.fixture
def uow(catalog: Catalog) -> InMemoryUnitOfWork:
    return InMemoryUnitOfWork(catalog)
