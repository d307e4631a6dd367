"""Retries for the long-running loops: capped exponential backoff with jitter (tenacity),
interrupted as soon as the process is asked to stop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
from aiokafka.errors import KafkaError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from accessflow.adapters.kafka.access import REFUSALS
from accessflow.adapters.kafka.errors import is_permanent
from accessflow.logs import get_logger

T = TypeVar("T")
log = get_logger(__name__)


class Stopping(Exception):  # noqa: N818 - a signal, not an error
    """Raised out of a retry loop when the process is stopping."""


# SQLSTATE classes that say "the server, not the statement": connection exceptions (08),
# insufficient resources (53), operator intervention such as a shutdown (57), system
# errors (58), and serialization failures/deadlocks (40).
_TRANSIENT_SQLSTATE_CLASSES = ("08", "53", "57", "58", "40")


def is_transient(exc: BaseException) -> bool:
    """Outages of the broker or the database: wait and try again, never skip.

    A Kafka refusal (too large, invalid record, topic invalid or not authorised) is not an
    outage: the same send fails the same way forever, so it is raised for the caller to
    handle (the relay parks a refused event) or to stop on. Nor is a refused login, a
    server certificate that fails verification, or unusable client TLS settings (a missing
    sslrootcert): waiting changes none of it.
    """
    if is_permanent(exc) or isinstance(exc, (*REFUSALS, asyncpg.ClientConfigurationError)):
        return False
    if isinstance(exc, KafkaError | OSError | asyncio.TimeoutError | ConnectionError):
        return True
    if isinstance(
        exc,
        asyncpg.InterfaceError
        | asyncpg.InternalClientError
        | asyncpg.exceptions.OutdatedSchemaCacheError,
    ):
        # The client lost its connection (or its cached plan) under us. InternalClientError
        # ("cannot switch to state …; another operation is in progress") is what a connection
        # the server dropped while it sat idle raises on its next use: drop it, reconnect.
        return True
    if isinstance(exc, asyncpg.PostgresError):
        sqlstate = getattr(exc, "sqlstate", None) or ""
        return sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES or isinstance(
            exc, asyncpg.PostgresConnectionError
        )
    return False


async def retry_transient(
    operation: Callable[[], Awaitable[T]],
    *,
    what: str,
    stop: asyncio.Event,
    on_failure: Callable[[], Awaitable[None]] | None = None,
    max_wait: float = 10.0,
) -> T:
    """Run ``operation`` until it succeeds, backing off between transient failures.

    ``on_failure`` runs after each failed attempt (for example, to drop a broken client so
    the next attempt makes a fresh one). A non-transient error is raised at once.
    """

    async def sleep(seconds: float) -> None:
        try:
            await asyncio.wait_for(stop.wait(), timeout=seconds)
        except TimeoutError:
            return
        raise Stopping(what)

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "retry.scheduled",
            operation=what,
            attempt=state.attempt_number,
            wait_s=round(state.upcoming_sleep, 2),
            error=f"{type(exc).__name__}: {exc}",
        )

    async def after_failure(state: RetryCallState) -> None:
        if on_failure is not None:
            await on_failure()

    retrying = AsyncRetrying(
        retry=retry_if_exception(is_transient),
        wait=wait_exponential_jitter(multiplier=0.1, max=max_wait, jitter=0.5),
        sleep=sleep,
        before_sleep=before_sleep,
        after=after_failure,
        reraise=True,
    )

    async def attempt() -> T:
        # tenacity awaits only coroutine *functions*; a lambda returning a coroutine is not.
        return await operation()

    return await retrying(attempt)


async def every(
    seconds: float, step: Callable[[], Awaitable[object]], *, what: str, stop: asyncio.Event
) -> None:
    """Run ``step`` now and then every ``seconds`` until ``stop``, riding out outages as
    :func:`retry_transient` does (the loops beside the consumer: timers, housekeeping)."""
    with contextlib.suppress(Stopping):
        while not stop.is_set():
            await retry_transient(step, what=what, stop=stop)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=seconds)
