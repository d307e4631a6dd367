"""The one place where errors become HTTP responses, all in Graph's error shape (spec §6.1).

Domain errors carry their :class:`ReasonCode`, whose ``http_status`` and ``graph_code`` say
how they surface; the API's own refusals (authentication, media type, body size, query
options, idempotency) are :class:`ApiError`; framework errors (validation, unknown route,
wrong method) are translated here too. ``error.details[].code`` is the stable,
machine-readable reason clients branch on.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from accessflow.domain.codes import ReasonCode
from accessflow.domain.errors import DomainError, format_loc
from accessflow.domain.models.base import format_utc
from accessflow.logs import get_logger

log = get_logger("accessflow.api")

#: Seconds a client should wait before retrying after a 503 (Kafka or the database away).
RETRY_AFTER_SECONDS = 5

_STATUS_CODES: dict[int, tuple[str, str]] = {
    # status: (Graph error.code, details[].code)
    400: ("invalidRequest", "InvalidRequest"),
    401: ("unauthenticated", "Unauthenticated"),
    403: ("accessDenied", "AccessDenied"),
    404: ("itemNotFound", "ResourceNotFound"),
    405: ("notAllowed", "MethodNotAllowed"),
    409: ("conflict", "Conflict"),
    413: ("invalidRequest", "PayloadTooLarge"),
    415: ("invalidRequest", "UnsupportedMediaType"),
    500: ("generalException", "InternalError"),
    503: ("serviceNotAvailable", "ServiceUnavailable"),
}


class ErrorDetailBody(BaseModel):
    code: str
    message: str
    target: str | None = None


class InnerError(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    date: str
    request_id: str = Field(alias="request-id")
    client_request_id: str | None = Field(default=None, alias="client-request-id")


class MainError(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    code: str
    message: str
    target: str | None = None
    details: list[ErrorDetailBody] = Field(default_factory=list)
    inner_error: InnerError = Field(alias="innerError")


class GraphErrorResponse(BaseModel):
    """``{"error": {"code", "message", "details", "innerError"}}``, as Graph answers."""

    error: MainError


class ApiError(Exception):
    """A refusal of the API itself (not of the domain), with its status and detail code."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        *,
        target: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.target = target
        self.headers = dict(headers or {})


def bad_request(reason: str, message: str, target: str | None = None) -> ApiError:
    return ApiError(400, reason, message, target=target)


def unauthenticated(message: str, *, invalid: bool) -> ApiError:
    challenge = 'Bearer error="invalid_token"' if invalid else "Bearer"
    reason = "InvalidToken" if invalid else "MissingToken"
    return ApiError(401, reason, message, headers={"WWW-Authenticate": challenge})


def service_unavailable(message: str) -> DomainError:
    return DomainError(ReasonCode.RESOURCE_UNAVAILABLE, message)


def request_ids(scope: Scope) -> tuple[str, str | None]:
    """The ``request-id`` the context middleware gave this request, and the client's id."""
    state = scope.get("state") or {}
    return str(state.get("request_id") or uuid.uuid4()), state.get("client_request_id")


def error_body(
    scope: Scope,
    status: int,
    message: str,
    details: Sequence[ErrorDetailBody] = (),
    *,
    code: str | None = None,
) -> dict[str, Any]:
    request_id, client_request_id = request_ids(scope)
    inner: dict[str, Any] = {"date": format_utc(datetime.now(UTC)), "request-id": request_id}
    if client_request_id is not None:
        inner["client-request-id"] = client_request_id
    graph_code = code or _STATUS_CODES.get(status, ("generalException", ""))[0]
    return {
        "error": {
            "code": graph_code,
            "message": message,
            "details": [d.model_dump(exclude_none=True) for d in details],
            "innerError": inner,
        }
    }


def error_response(
    scope: Scope,
    status: int,
    message: str,
    details: Sequence[ErrorDetailBody] = (),
    *,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    out = dict(headers or {})
    if status == 503:
        out.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))
    body = error_body(scope, status, message, details, code=code)
    return JSONResponse(body, status_code=status, headers=out)


def domain_details(exc: DomainError) -> list[ErrorDetailBody]:
    reason = exc.code.value
    if not exc.details:
        return [ErrorDetailBody(code=reason, message=exc.message)]
    return [
        ErrorDetailBody(code=reason, message=d.message, target=d.path or None) for d in exc.details
    ]


async def _on_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    code = exc.code
    return error_response(
        request.scope, code.http_status, exc.message, domain_details(exc), code=code.graph_code
    )


async def _on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    detail = ErrorDetailBody(code=exc.reason, message=exc.message, target=exc.target)
    return error_response(request.scope, exc.status, exc.message, [detail], headers=exc.headers)


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = list(_validation_details(exc.errors()))
    return error_response(request.scope, 400, "the request is not valid", details)


def _validation_details(errors: Iterable[Any]) -> Iterable[ErrorDetailBody]:
    for error in errors:
        loc = list(error.get("loc", ()))
        where = loc[0] if loc else "request"
        target = format_loc(loc[1:]) or str(where)
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        yield ErrorDetailBody(code="InvalidRequest", message=f"{where}: {message}", target=target)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    _, reason = _STATUS_CODES.get(status, ("generalException", "HttpError"))
    message = {
        404: f"no resource at {request.url.path}",
        405: f"{request.method} is not supported on {request.url.path}",
    }.get(status, str(exc.detail))
    detail = ErrorDetailBody(code=reason, message=message)
    return error_response(request.scope, status, message, [detail], headers=exc.headers)


# The database restarting or away: refused connections, "the database system is starting
# up / shutting down" (operator intervention, class 57, statement timeouts included), dropped
# connections (class 08), a full server (53300), a pool that timed out or is closed. Only
# these are 503: retrying later can help.
_UNREACHABLE: tuple[type[Exception], ...] = (
    OSError,  # refused, reset, unreachable; TimeoutError (pool acquire) is one too
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # a connection the server dropped while it was idle
)
# A value PostgreSQL refused (class 22: NUL in text, a date out of range, a malformed
# number…), or one asyncpg could not encode as a parameter (an int over its column's width,
# a lone surrogate: asyncpg raises these as a class 22 DataError too). Retrying the same
# request can never help: it is the client's, a 400. It also means a check is missing where
# the value came in, hence the warning. asyncpg's client-side ``_base.DataError`` is an
# InterfaceError subclass: registered so it is not taken for an outage.
_CLIENT_DATA: tuple[type[Exception], ...] = (
    asyncpg.exceptions.DataError,
    asyncpg.exceptions._base.DataError,
)
DATA_ERROR_MESSAGE = "a value in the request is not one the database can store"


async def _on_unreachable(request: Request, exc: Exception) -> Response:
    """PostgreSQL (or the network to it) is away: retriable, like Kafka being down."""
    message = "the database is unavailable; try again"
    detail = ErrorDetailBody(code=ReasonCode.RESOURCE_UNAVAILABLE.value, message=message)
    return error_response(request.scope, 503, message, [detail])


async def _on_client_data(request: Request, exc: Exception) -> Response:
    """A value of the request that PostgreSQL refused: the client's error, never an outage."""
    log.warning(
        "http.data_error",
        sqlstate=getattr(exc, "sqlstate", None),
        error=type(exc).__name__,
        detail=str(exc)[:200],
        path=request.url.path,
        request_id=request_ids(request.scope)[0],
    )
    detail = ErrorDetailBody(code="InvalidValue", message=DATA_ERROR_MESSAGE)
    return error_response(request.scope, 400, DATA_ERROR_MESSAGE, [detail])


def install(app: FastAPI) -> None:
    """Register every handler: after this, no error leaves the app in another shape."""
    for unreachable in _UNREACHABLE:
        app.add_exception_handler(unreachable, _on_unreachable)
    for client_data in _CLIENT_DATA:
        app.add_exception_handler(client_data, _on_client_data)
    app.add_exception_handler(DomainError, _on_domain_error)
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)


def internal_error_body(scope: Scope) -> bytes:
    """The 500 body the context middleware sends when something unexpected escaped."""
    detail = ErrorDetailBody(code="InternalError", message="an unexpected error occurred")
    return orjson.dumps(error_body(scope, 500, "an unexpected error occurred", [detail]))


def bad_client_request_id_body(scope: Scope) -> bytes:
    message = "client-request-id must be 1 to 128 printable ASCII characters (a GUID)"
    detail = ErrorDetailBody(code="InvalidRequest", message=message, target="client-request-id")
    return orjson.dumps(error_body(scope, 400, message, [detail]))


def too_large_body(scope: Scope, limit: int) -> bytes:
    message = f"the request body is larger than {limit} bytes"
    detail = ErrorDetailBody(code="PayloadTooLarge", message=message)
    return orjson.dumps(error_body(scope, 413, message, [detail]))


#: Declared on every operation so the OpenAPI document describes the error bodies.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": GraphErrorResponse, "description": f"Graph error ({code})"}
    for status, (code, _) in _STATUS_CODES.items()
}
