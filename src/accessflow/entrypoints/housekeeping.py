"""The housekeeping loop that runs beside the consumer in every worker process: every
``ACCESSFLOW_HOUSEKEEPING_INTERVAL_SECONDS`` it deletes the rows that have outlived their
retention (adapters/postgres/retention.py says which, and why they may go).

Any number of workers may run it: a chunk is only deleted under an advisory lock, so one
prunes at a time and the others' passes end at once. A pass with nothing to delete is a
few short transactions and logs nothing. The clock is a parameter (tests pass a fixed
one), as is the pruning itself (unit tests pass a fake).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

from accessflow.entrypoints.observability import Metrics
from accessflow.entrypoints.retry import every
from accessflow.logs import get_logger

log = get_logger("accessflow.housekeeping")

#: Deletes what is old at the given moment, adding each committed chunk's count to the
#: dict (table → rows) as it goes.
Prune = Callable[[datetime, dict[str, int]], Awaitable[None]]


class HousekeepingLoop:
    def __init__(
        self,
        prune: Prune,
        clock: Callable[[], datetime],
        metrics: Metrics | None = None,
        *,
        interval_seconds: float = 600.0,
    ) -> None:
        self._prune = prune
        self._clock = clock
        self._metrics = metrics
        self._interval = interval_seconds
        self.pruned_total = 0

    async def prune_once(self) -> dict[str, int]:
        """One pass; returns the rows it deleted per table. What a pass deleted before an
        outage interrupted it is logged and counted all the same (the retry is a new pass)."""
        counts: dict[str, int] = {}
        try:
            await self._prune(self._clock(), counts)
        finally:
            self._report(counts)
        return counts

    def _report(self, counts: dict[str, int]) -> None:
        deleted = sum(counts.values())
        if not deleted:
            return
        self.pruned_total += deleted
        log.info("housekeeping.pruned", **counts)
        if self._metrics is not None:
            for table, n in counts.items():
                self._metrics.rows_pruned.labels(table=table).inc(n)

    async def run(self, stop: asyncio.Event) -> None:
        await every(self._interval, self.prune_once, what="housekeeping.prune", stop=stop)
