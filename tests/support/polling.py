"""Waiting for something another process does: one bounded polling loop for every test."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], T | Awaitable[T]],
    *,
    seconds: float = 30,
    interval: float = 0.1,
    what: str | Callable[[], str] = "the condition",
    retry_on: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``check`` (sync or async) every ``interval`` s until it returns something truthy,
    and return that. An exception of ``retry_on`` counts as "not yet"; any other, such as an
    assertion that a process still runs, fails at once. After ``seconds`` it fails naming
    ``what`` (a callable is asked at that moment, so it can show the state reached)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            result = check()
            if inspect.isawaitable(result):
                result = await result
        except retry_on:
            result = None
        if result:
            return result  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"gave up after {seconds} s waiting for {said}")
        await asyncio.sleep(interval)
