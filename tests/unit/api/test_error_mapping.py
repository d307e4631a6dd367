"""Which exceptions become which answers: PostgreSQL's data errors (class 22, asyncpg's
parameter encoding errors included) are the client's 400; only an outage (connection class
08, operator intervention 57, too many connections 53300, the network, a closed pool) is a
503 with Retry-After; anything else is a 500. Checked for every asyncpg exception class."""

from __future__ import annotations

import contextlib
import inspect
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from structlog.testing import capture_logs

from accessflow.api import errors
from accessflow.api.middleware import RequestContext

POSTGRES_ERRORS = sorted(
    (
        cls
        for _, cls in inspect.getmembers(asyncpg.exceptions, inspect.isclass)
        if issubclass(cls, asyncpg.PostgresError) and getattr(cls, "sqlstate", None)
    ),
    key=lambda cls: cls.sqlstate,
)


def expected_status(sqlstate: str) -> int:
    if sqlstate.startswith("22"):
        return 400
    if sqlstate.startswith(("08", "57")) or sqlstate == "53300":
        return 503
    return 500


async def answer(exc: Exception, *, captured: bool = True) -> httpx.Response:
    app = FastAPI()
    errors.install(app)
    app.add_middleware(RequestContext, max_body_bytes=1024)

    @app.get("/raise")
    async def raising() -> None:
        raise exc

    transport = httpx.ASGITransport(app=app)
    # Captured, not rendered: a 500's traceback would otherwise be rendered with its locals.
    with capture_logs() if captured else contextlib.nullcontext():
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/raise")


@pytest.mark.parametrize("cls", POSTGRES_ERRORS, ids=lambda cls: f"{cls.sqlstate}-{cls.__name__}")
async def test_each_postgresql_error_class_has_its_status(cls: type[Exception]) -> None:
    sqlstate = getattr(cls, "sqlstate", "")
    response = await answer(cls("refused"))
    assert response.status_code == expected_status(sqlstate), response.text
    assert response.json()["error"]["innerError"]["request-id"] == response.headers["request-id"]
    assert ("retry-after" in response.headers) == (response.status_code == 503)


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence: 0x00"),
        asyncpg.exceptions.UntranslatableCharacterError("unsupported Unicode escape"),
        asyncpg.exceptions.DatetimeFieldOverflowError("date/time field value out of range"),
        asyncpg.exceptions.InvalidTextRepresentationError("invalid input syntax for type uuid"),
        asyncpg.exceptions.NumericValueOutOfRangeError("integer out of range"),
        asyncpg.exceptions.StringDataRightTruncationError("value too long"),
        asyncpg.exceptions.DataError("invalid input for query argument $1 (out of int32 range)"),
        asyncpg.exceptions._base.DataError("invalid input for query argument $1"),
    ],
    ids=lambda exc: type(exc).__name__,
)
async def test_a_data_error_is_a_400_logged_at_warning_with_its_sqlstate(exc: Exception) -> None:
    with capture_logs() as logs:
        response = await answer(exc, captured=False)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalidRequest"
    assert [d["code"] for d in error["details"]] == ["InvalidValue"]
    assert "query argument" not in error["message"]  # the database's words stay in the log
    [warning] = [line for line in logs if line["event"] == "http.data_error"]
    assert warning["log_level"] == "warning"
    assert warning["sqlstate"] == getattr(exc, "sqlstate", None)
    assert warning["error"] == type(exc).__name__


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connection refused"),
        OSError("Multiple exceptions: [Errno 111] Connect call failed"),
        TimeoutError(),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.TooManyConnectionsError("too many clients"),
        asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
        asyncpg.InterfaceError("pool is closed"),
        asyncpg.InternalClientError("unexpected connection state"),
    ],
    ids=lambda exc: type(exc).__name__,
)
async def test_an_outage_is_a_503_with_retry_after(exc: Exception) -> None:
    response = await answer(exc)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "serviceNotAvailable"
    assert response.headers["retry-after"].isdigit()


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        asyncpg.exceptions.UndefinedTableError("relation does not exist"),
        RecursionError(),
        OverflowError("date value out of range"),
        ValueError("a bug"),
    ],
    ids=lambda exc: type(exc).__name__,
)
async def test_anything_else_is_a_500_never_a_503(exc: Any) -> None:
    response = await answer(exc)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "generalException"
