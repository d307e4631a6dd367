"""The size budget's settings and the start-up comparison (the broker side is in
tests/integration/test_topic_limits.py)."""

from __future__ import annotations

import os

import pytest

from accessflow.adapters.kafka.limits import (
    RECORD_OVERHEAD_BYTES,
    command_budget,
    event_budget,
    problems,
)
from accessflow.adapters.kafka.producer import MAX_REQUEST_SIZE
from accessflow.domain.limits import EVENT_BYTES_NEEDED
from accessflow.settings import ENV_PREFIX, SettingsError, load_settings

KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith(ENV_PREFIX):
            monkeypatch.delenv(name)


def test_the_default_budgets_fit_a_stock_broker_and_the_producer() -> None:
    settings = load_settings()

    for budget in (event_budget(settings), command_budget(settings)):
        assert problems(budget, KAFKA_DEFAULT_MAX_MESSAGE_BYTES) == []


def test_the_event_budget_may_not_be_set_below_the_worst_case() -> None:
    with pytest.raises(SettingsError, match="ACCESSFLOW_MAX_EVENT_BYTES"):
        load_settings(max_event_bytes=EVENT_BYTES_NEEDED - 1)


def test_a_budget_over_the_producers_request_size_is_named() -> None:
    too_big = MAX_REQUEST_SIZE - RECORD_OVERHEAD_BYTES + 1
    budget = event_budget(load_settings(max_event_bytes=too_big))

    [problem] = problems(budget, 10 * too_big)
    assert "ACCESSFLOW_MAX_EVENT_BYTES" in problem
    assert f"max_request_size ({MAX_REQUEST_SIZE})" in problem


def test_a_smaller_topic_is_named_with_its_value_and_the_fix() -> None:
    budget = command_budget(load_settings(commands_topic="orders"))

    [problem] = problems(budget, 600_000)
    assert "topic orders has max.message.bytes=600000" in problem
    assert "ACCESSFLOW_MAX_COMMAND_BYTES=1000000" in problem
    assert f"max.message.bytes={1_000_000 + RECORD_OVERHEAD_BYTES}" in problem
