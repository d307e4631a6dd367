"""The housekeeping loop around a fake pruning: what it logs and counts, the clock it
passes, and how it ends (PostgreSQL's side is tests/integration/test_retention.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from structlog.testing import capture_logs

from accessflow.entrypoints.housekeeping import HousekeepingLoop
from accessflow.entrypoints.observability import Health, Metrics

NOW = datetime(2031, 3, 1, 12, tzinfo=UTC)


class FakePrune:
    """Deletes ``deletes`` (table → rows) on every pass, then raises ``error`` if set."""

    def __init__(self, deletes: dict[str, int], error: BaseException | None = None) -> None:
        self.deletes = deletes
        self.error = error
        self.passes: list[datetime] = []

    async def __call__(self, now: datetime, counts: dict[str, int]) -> None:
        self.passes.append(now)
        counts.update(self.deletes)
        if self.error is not None:
            raise self.error


def _pruned(metrics: Metrics, table: str) -> float | None:
    return metrics.registry.get_sample_value("accessflow_rows_pruned_total", {"table": table})


async def test_a_pass_that_deleted_rows_logs_one_line_and_counts_them() -> None:
    metrics = Metrics(Health())
    prune = FakePrune({"processed_commands": 7, "api_idempotency": 0, "timers": 3})
    loop = HousekeepingLoop(prune, lambda: NOW, metrics)

    with capture_logs() as logs:
        counts = await loop.prune_once()

    assert prune.passes == [NOW]
    assert counts == {"processed_commands": 7, "api_idempotency": 0, "timers": 3}
    assert [line for line in logs if line["event"] == "housekeeping.pruned"] == [
        {
            "event": "housekeeping.pruned",
            "log_level": "info",
            "processed_commands": 7,
            "api_idempotency": 0,
            "timers": 3,
        }
    ]
    assert _pruned(metrics, "processed_commands") == 7
    assert _pruned(metrics, "timers") == 3
    assert loop.pruned_total == 10


async def test_a_pass_with_nothing_to_delete_logs_nothing() -> None:
    metrics = Metrics(Health())
    loop = HousekeepingLoop(
        FakePrune(dict.fromkeys(["processed_commands", "timers"], 0)), lambda: NOW, metrics
    )

    with capture_logs() as logs:
        await loop.prune_once()

    assert logs == []
    assert _pruned(metrics, "processed_commands") is None


async def test_what_an_interrupted_pass_deleted_is_still_counted() -> None:
    """Each chunk commits on its own: an outage mid-pass does not un-delete the earlier ones."""
    metrics = Metrics(Health())
    prune = FakePrune({"processed_commands": 5000}, error=ConnectionResetError("gone"))
    loop = HousekeepingLoop(prune, lambda: NOW, metrics)

    with capture_logs() as logs, pytest.raises(ConnectionResetError):
        await loop.prune_once()

    assert [line["processed_commands"] for line in logs] == [5000]
    assert _pruned(metrics, "processed_commands") == 5000


async def test_the_loop_runs_a_pass_every_interval_until_stopped() -> None:
    stop = asyncio.Event()

    class StopAfterThree(FakePrune):
        async def __call__(self, now: datetime, counts: dict[str, int]) -> None:
            await super().__call__(now, counts)
            if len(self.passes) == 3:
                stop.set()

    prune = StopAfterThree({})
    loop = HousekeepingLoop(prune, lambda: NOW, interval_seconds=0.01)

    await asyncio.wait_for(loop.run(stop), timeout=5)

    assert prune.passes == [NOW, NOW, NOW]


async def test_a_non_transient_failure_ends_the_loop_with_it() -> None:
    """So that the supervisor stops the worker, as for the timer loop (a bug, not an
    outage, which retry_transient waits out)."""
    loop = HousekeepingLoop(FakePrune({}, error=RuntimeError("a bug")), lambda: NOW)

    with pytest.raises(RuntimeError, match="a bug"):
        await asyncio.wait_for(loop.run(asyncio.Event()), timeout=5)
