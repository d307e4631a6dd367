"""What every handler needs: the app's resources, the caller, the body, and URLs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
import orjson
from fastapi import Depends, Request

from accessflow.adapters.postgres.read_model import PgReadModel
from accessflow.adapters.postgres.store import PgUnitOfWork
from accessflow.api.auth import Principal, TokenVerifier, authenticate
from accessflow.api.errors import ApiError, bad_request
from accessflow.api.publisher import SOURCE, Publisher
from accessflow.service.read_model import Channels
from accessflow.settings import Settings

PREFIX = "/v1.0/identityGovernance/entitlementManagement"
METADATA = "/v1.0/$metadata#identityGovernance/entitlementManagement"


@dataclass
class ApiContext:
    settings: Settings
    verifier: TokenVerifier
    publisher: Publisher
    pool: asyncpg.Pool | None = None
    uow: PgUnitOfWork | None = None

    @property
    def db(self) -> asyncpg.Pool:
        if self.pool is None:  # pragma: no cover - the lifespan sets it before serving
            raise RuntimeError("the API's database pool is not open")
        return self.pool

    @property
    def catalog(self) -> PgUnitOfWork:
        if self.uow is None:  # pragma: no cover - the lifespan sets it before serving
            raise RuntimeError("the API's database pool is not open")
        return self.uow

    @property
    def channels(self) -> Channels:
        """The ports the API's use cases read and produce through."""
        read = PgReadModel(self.db, self.catalog)
        return Channels(read=read, keys=read, publisher=self.publisher, source=SOURCE)


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(get_context)]
Caller = Annotated[Principal, Depends(authenticate)]


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def context_url(request: Request, fragment: str) -> str:
    """``@odata.context``: ``…/$metadata#identityGovernance/entitlementManagement/…``."""
    return f"{base_url(request)}{METADATA}/{fragment}"


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object: 415 for another media type, 400 for broken JSON."""
    media = _media_type(request)
    if media != "application/json":
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"expected Content-Type application/json, got {media or 'none'}",
        )
    raw = await request.body()
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request("MalformedJson", f"the body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise bad_request("InvalidRequest", "the body must be a JSON object")
    return value


async def no_body(request: Request) -> None:
    """Actions without a body (cancel, reprocess) accept an empty one or ``{}``."""
    raw = await request.body()
    if raw.strip() and raw.strip() != b"{}":
        if _media_type(request) != "application/json":
            raise ApiError(415, "UnsupportedMediaType", "this action takes no body")
        raise bad_request("InvalidRequest", "this action takes no body")
