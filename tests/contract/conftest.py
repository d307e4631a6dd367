"""One harness per adapter: the contract suite runs every test against the in-memory store
and against PostgreSQL (the test's own schema, migrated, with the example catalog)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from broker_support import BrokerHarness, KafkaHarness, MemoryHarness
from store_support import Harness, memory_harness, postgres_harness

from accessflow.settings import Settings


@pytest.fixture
def memory_store() -> Harness:
    return memory_harness()


@pytest.fixture
async def postgres_store(settings: Settings) -> AsyncIterator[Harness]:
    async with postgres_harness(settings) as harness:
        yield harness


@pytest.fixture(
    params=["memory", pytest.param("postgres", marks=pytest.mark.integration)],
)
def harness(request: pytest.FixtureRequest) -> Harness:
    """The adapter under test; the PostgreSQL run needs the real database."""
    chosen: Harness = request.getfixturevalue(f"{request.param}_store")
    return chosen


@pytest.fixture(
    params=["memory", pytest.param("kafka", marks=pytest.mark.integration)],
)
def broker(request: pytest.FixtureRequest) -> BrokerHarness:
    """The broker adapter under test; the Kafka run needs the real broker."""
    if request.param == "memory":
        return MemoryHarness()
    return KafkaHarness(request.getfixturevalue("settings"))
