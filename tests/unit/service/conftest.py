"""Fixtures for the handlers' unit tests: an in-memory store over the example catalog."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# pytest's importlib mode does not put test folders on sys.path: the shared helpers live in
# tests/support and beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from command_support import example_catalog

from accessflow.adapters.memory import InMemoryUnitOfWork
from accessflow.domain.catalog import Catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return example_catalog()


@pytest.fixture
def uow(catalog: Catalog) -> InMemoryUnitOfWork:
    return InMemoryUnitOfWork(catalog)
