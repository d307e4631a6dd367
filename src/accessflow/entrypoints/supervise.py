"""Running a process's loops side by side, so that one failing loop stops the others and
every drain step still runs.

Each loop takes a stop event and drains before it returns. A loop that fails sets the
process's stop event (the others then finish their in-flight work and return); the *last*
loop (the outbox relay) is stopped only once every other loop has returned, so it publishes
what they committed on their way out. Failures are raised after everything has returned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from accessflow.logs import get_logger

log = get_logger("accessflow.worker")


@dataclass(frozen=True, slots=True)
class Loop:
    name: str
    run: Callable[[asyncio.Event], Awaitable[None]]


async def supervise(loops: Sequence[Loop], stop: asyncio.Event, *, last: Loop | None) -> None:
    """Run ``loops`` until ``stop`` (or one of them fails), then ``last`` until it drains.

    Raises the failure of a loop (an ``ExceptionGroup`` when several failed) once all have
    returned.
    """
    failures: list[Exception] = []

    async def guarded(loop: Loop, its_stop: asyncio.Event) -> None:
        try:
            await loop.run(its_stop)
        except Exception as exc:
            log.error("worker.component_failed", component=loop.name, error=repr(exc))
            failures.append(exc)
            stop.set()

    last_stop = asyncio.Event()
    async with asyncio.TaskGroup() as outer:
        if last is not None:
            outer.create_task(guarded(last, last_stop))
        try:
            async with asyncio.TaskGroup() as group:
                for loop in loops:
                    group.create_task(guarded(loop, stop))
        finally:
            last_stop.set()
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise ExceptionGroup("worker components failed", failures)
