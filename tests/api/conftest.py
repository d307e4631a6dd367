"""The HTTP API on the real stack: each test gets its own schema and topics (``settings``),
migrated, with ``examples/catalog.yaml`` applied, and an in-process app served through
httpx's ASGI transport (lifespan included). ``e2e`` (a real ``accessflow worker``) is reused
from ``tests/e2e/conftest.py``."""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from api_support import ADMIN_ROLE, CATALOG, ROOT, SECRET, Api
from polling import eventually
from pydantic import SecretStr

from accessflow import bootstrap
from accessflow.adapters.catalog_file import read_catalog_file
from accessflow.adapters.postgres.catalog_store import apply_catalog
from accessflow.adapters.postgres.pool import connect
from accessflow.api import create_app
from accessflow.settings import Settings

_E2E = importlib.util.spec_from_file_location("e2e_conftest", ROOT / "tests/e2e/conftest.py")
assert _E2E is not None
assert _E2E.loader is not None
_e2e_module = importlib.util.module_from_spec(_E2E)
sys.modules[_E2E.name] = _e2e_module  # its dataclasses look their module up by name
_E2E.loader.exec_module(_e2e_module)
e2e = _e2e_module.e2e  # the fixture: accessflow's own processes against this test's stack
e2e_module = _e2e_module.e2e_module  # the same, shared by a whole module


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"auth_hs256_secret": SecretStr(SECRET), "auth_admin_role": ADMIN_ROLE}
    )


@pytest.fixture
async def prepared(api_settings: Settings) -> Settings:
    """Migrated schema and topics, with the example catalog applied."""
    await bootstrap.migrate_all(api_settings)
    conn = await connect(api_settings)
    try:
        await apply_catalog(conn, read_catalog_file(CATALOG))
    finally:
        await conn.close()
    return api_settings


@pytest.fixture
def make_api(prepared: Settings) -> Callable[..., Any]:
    """``async with make_api(**setting_overrides, producer=…) as api``: a started app."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Api]:
        options = {
            k: overrides.pop(k)
            for k in ("producer", "pool", "produce_timeout_seconds")
            if k in overrides
        }
        settings = prepared.model_copy(update=overrides)
        app = create_app(settings, **options)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                yield Api(app, c, settings)

    return start


@pytest.fixture
async def api(make_api: Callable[..., Any]) -> AsyncIterator[Api]:
    async with make_api() as started:
        yield started


@dataclass
class Served:
    url: str
    settings: Settings
    process: Any


@pytest.fixture
def served(e2e: Any) -> Served:
    """``accessflow api`` as users run it (uvicorn on a free port), after ``accessflow
    migrate`` and ``catalog apply examples/catalog.yaml``; ready once /healthz answers."""
    e2e.cli("migrate")
    e2e.cli("catalog", "apply", str(CATALOG))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {"ACCESSFLOW_AUTH_HS256_SECRET": SECRET, "ACCESSFLOW_AUTH_ADMIN_ROLE": ADMIN_ROLE}
    process = e2e.start_process("api", "--port", str(port), env=env)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert process.proc.poll() is None, process.log.read_text()
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200

    asyncio.run(
        eventually(healthy, what="accessflow api to start", retry_on=(httpx.TransportError,))
    )
    settings = e2e.settings.model_copy(
        update={"auth_hs256_secret": SecretStr(SECRET), "auth_admin_role": ADMIN_ROLE}
    )
    return Served(url, settings, process)
