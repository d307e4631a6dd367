"""The durable-timer loop that runs beside the consumer in every worker process.

Any number of workers may run it: due timers are claimed with ``FOR UPDATE SKIP LOCKED``, and
a timer's effect and its ``fired_at`` commit together, so each fires exactly once in effect.
The clock is a parameter (tests pass a movable one instead of sleeping).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from accessflow.entrypoints.retry import every
from accessflow.logs import get_logger
from accessflow.service.handlers import handle_due_timers
from accessflow.service.ports import UnitOfWork

log = get_logger("accessflow.timers")


class TimerLoop:
    def __init__(
        self,
        uow: UnitOfWork,
        clock: Callable[[], datetime],
        on_committed: Callable[[], None] = lambda: None,
        *,
        poll_seconds: float = 1.0,
        batch_size: int = 200,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._on_committed = on_committed
        self._poll = poll_seconds
        self._batch = batch_size

    async def fire_due(self) -> int:
        """Fire what is due now, one transaction per batch; returns how many fired."""
        fired = 0
        while True:
            outcomes, _ = await handle_due_timers(self._uow, self._clock(), self._batch)
            if not outcomes:
                return fired
            fired += len(outcomes)
            self._on_committed()
            for outcome in outcomes:
                log.info(
                    "timer.fired",
                    request_id=str(outcome.request_id),
                    timer=outcome.command_id,
                    from_state=outcome.from_state,
                    to_state=outcome.to_state,
                    transitions=outcome.transitions,
                )
            if len(outcomes) < self._batch:
                return fired

    async def run(self, stop: asyncio.Event) -> None:
        await every(self._poll, self.fire_due, what="timers.fire", stop=stop)
