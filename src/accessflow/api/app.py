"""The FastAPI application: Graph v1.0 paths under ``/v1.0/identityGovernance/
entitlementManagement/``, health endpoints, and the OpenAPI document.

``create_app`` builds everything from settings; its lifespan opens the asyncpg pool and the
idempotent producer and closes them in reverse. Tests may hand in their own pool or producer,
which the app then uses without owning.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from accessflow import __version__
from accessflow.adapters.kafka.limits import check_topic_limits, command_budget
from accessflow.adapters.postgres.pool import create_pool
from accessflow.adapters.postgres.store import PgUnitOfWork
from accessflow.api import (
    errors,
    routes_actions,
    routes_assignments,
    routes_catalogs,
    routes_counts,
    routes_packages,
    routes_requests,
)
from accessflow.api.auth import TokenVerifier
from accessflow.api.counting import json_errors_on_count_routes
from accessflow.api.deps import ApiContext, Context
from accessflow.api.exposure import check_exposure, warn_if_unauthenticated
from accessflow.api.links import add_links
from accessflow.api.middleware import RequestContext
from accessflow.api.publisher import Publisher
from accessflow.api.schemas import Health
from accessflow.api.spans import TraceRequests
from accessflow.logs import get_logger
from accessflow.settings import Settings

log = get_logger("accessflow.api")


def create_app(
    settings: Settings,
    *,
    producer: AIOKafkaProducer | None = None,
    pool: asyncpg.Pool | None = None,
    produce_timeout_seconds: float = 10.0,
) -> FastAPI:
    """The app for ``settings``. A ``producer`` or ``pool`` handed in is used, not owned;
    ``produce_timeout_seconds`` bounds how long a POST waits for Kafka before its 503.
    Raises :class:`SettingsError` for settings unsafe on ``settings.api_host``."""
    check_exposure(settings)
    warn_if_unauthenticated(settings)
    verifier = TokenVerifier(settings)
    context = ApiContext(
        settings=settings,
        verifier=verifier,
        publisher=Publisher(settings, producer, timeout_seconds=produce_timeout_seconds),
        pool=pool,
        uow=PgUnitOfWork(pool) if pool is not None else None,
    )
    app = FastAPI(
        title="accessflow",
        version=__version__,
        description="Microsoft Graph v1.0 entitlement management assignment requests, "
        "processed by an event-driven worker on Kafka and PostgreSQL.",
        lifespan=_lifespan(context, owns_pool=pool is None),
    )
    app.state.context = context
    app.state.settings = settings
    app.state.verifier = verifier
    errors.install(app)
    app.add_middleware(RequestContext, max_body_bytes=settings.api_max_body_bytes)
    app.add_middleware(TraceRequests)  # added last: the outermost
    # Literal segments ($count, filterByCurrentUser, additionalAccess) before {id} paths.
    app.include_router(routes_counts.router)
    app.include_router(routes_assignments.router)
    app.include_router(routes_packages.router)
    app.include_router(routes_catalogs.router)
    app.include_router(routes_requests.router)
    app.include_router(routes_actions.router)
    _health_routes(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _lifespan(
    context: ApiContext, *, owns_pool: bool
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Open the pool (unless one was handed in) and the producer; close them in reverse."""
    settings = context.settings

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if owns_pool:
                pool = await create_pool(settings)
                stack.push_async_callback(pool.close)
                context.pool, context.uow = pool, PgUnitOfWork(pool)
            stack.push_async_callback(context.publisher.close)
            # Kafka may be away at start: POSTs then answer 503 until it is back.
            if await context.publisher.start():
                # A commands topic that refuses commands the API accepts: refuse to start.
                await check_topic_limits(settings, [command_budget(settings)])
            else:
                log.warning("api.topic_limits_unchecked", topic=settings.commands_topic)
            if not context.verifier.configured and not settings.auth_dev_unauthenticated:
                log.warning("api.no_auth_keys", hint="every request will be refused with 401")
            log.info("api.started", host=settings.api_host, port=settings.api_port)
            yield
            if owns_pool:
                context.pool = None

    return lifespan


def _health_routes(app: FastAPI) -> None:
    public: dict[str, Any] = {"security": []}  # probes need no token

    @app.get(
        "/healthz",
        response_model=Health,
        tags=["health"],
        summary="Liveness",
        openapi_extra=public,
    )
    async def healthz() -> Health:
        return Health(status="ok")

    @app.get(
        "/readyz",
        response_model=Health,
        responses={503: {"model": Health, "description": "A dependency is unreachable"}},
        tags=["health"],
        summary="Readiness: PostgreSQL and Kafka reachable",
        openapi_extra=public,
    )
    async def readyz(ctx: Context) -> JSONResponse:
        checks = {"database": await _database_ok(ctx), "kafka": await ctx.publisher.ready()}
        ok = all(checks.values())
        body = Health(status="ok" if ok else "unavailable", checks=checks)
        return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


async def _database_ok(ctx: ApiContext) -> bool:
    try:
        async with asyncio.timeout(5):
            async with ctx.db.acquire() as conn:
                await conn.fetchval("SELECT 1")
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
        return False
    return True


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with the create body's schemas, the links from one answer to the
    next operations, and without the 422 responses that cannot happen (validation errors
    are answered 400 in Graph's shape)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components.update(routes_requests.CREATE_DEFINITIONS)
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    json_errors_on_count_routes(document)
    document["components"]["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    }
    document["security"] = [{"bearer": []}]
    add_links(document)
    app.openapi_schema = document
    return document
