"""Which failures the worker waits out, and how the retry loop behaves."""

from __future__ import annotations

import asyncio
import ssl

import asyncpg
import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    NotLeaderForPartitionError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)

from accessflow.adapters.kafka.access import KafkaAccessRefused
from accessflow.entrypoints.retry import Stopping, is_transient, retry_transient


@pytest.mark.parametrize(
    "error",
    [
        KafkaConnectionError(),
        NotLeaderForPartitionError(),
        ConnectionResetError(),
        TimeoutError(),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.TooManyConnectionsError("too many clients"),
        asyncpg.DeadlockDetectedError("deadlock"),
        asyncpg.InterfaceError("connection is closed"),
        asyncpg.InternalClientError(
            "cannot switch to state 12; another operation (2) is in progress"
        ),
    ],
    ids=type,
)
def test_outages_are_transient(error: Exception) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("a bug"),
        ValueError("bad value"),
        asyncpg.UniqueViolationError("duplicate key"),
        asyncpg.UndefinedTableError("no such table"),
    ],
    ids=type,
)
def test_bugs_and_constraint_violations_are_not_transient(error: Exception) -> None:
    assert not is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        SaslAuthenticationFailed("invalid credentials"),
        UnsupportedSaslMechanismError("PLAIN only"),
        ssl.SSLCertVerificationError(1, "certificate verify failed"),
        KafkaAccessRefused("Kafka at …: SASL authentication failed"),
        asyncpg.ClientConfigurationError('root certificate file "…" does not exist'),
    ],
    ids=type,
)
def test_refused_logins_and_certificates_are_not_transient(error: Exception) -> None:
    """Kafka errors and OSErrors are outages as a rule; these are not: a retry would loop
    forever on a configuration error."""
    assert not is_transient(error)


async def test_transient_failures_are_retried_until_success() -> None:
    """Two outages, then success: the operation's result comes back, after a fresh attempt
    each time (on_failure runs once per failed attempt)."""
    attempts, resets = [], []

    async def operation() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise KafkaConnectionError()
        return "done"

    async def reset() -> None:
        resets.append(1)

    result = await retry_transient(
        operation, what="test", stop=asyncio.Event(), on_failure=reset, max_wait=0.01
    )
    assert (result, len(attempts), len(resets)) == ("done", 3, 2)


async def test_a_bug_is_raised_at_once() -> None:
    attempts = []

    async def operation() -> None:
        attempts.append(1)
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError):
        await retry_transient(operation, what="test", stop=asyncio.Event())
    assert len(attempts) == 1


async def test_stopping_interrupts_the_wait() -> None:
    """A process asked to stop does not sit out the backoff: Stopping comes out at once."""
    stop = asyncio.Event()

    async def operation() -> None:
        stop.set()
        raise KafkaConnectionError()

    with pytest.raises(Stopping):
        await retry_transient(operation, what="test", stop=stop, max_wait=30)
