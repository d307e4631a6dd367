"""Fresh schema and topics per phase, the generated catalog, and the clean-up afterwards.

Every name carries the run's tag (``bench_<tag>_<phase>`` schemas, ``bench.<tag>.<phase>.*``
topics and consumer groups), so a run never touches anyone else's data and its clean-up
can find everything it made, even after a crash half-way through.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from accessflow import bootstrap
from accessflow.adapters.kafka.options import client_options
from accessflow.adapters.postgres import pool
from accessflow.adapters.postgres.catalog_store import apply_catalog
from accessflow.domain.catalog import load_catalog
from accessflow.settings import Settings

PACKAGE = "a914b616-e04e-476b-aa37-91038f0b165b"
POLICY = "2264bf65-76ba-417b-a27d-54d291f0cbc8"
GROUP = "d82dafa9-7823-4f55-b4ce-9a1ef3bee1d2"
CATALOG = "a5e85994-c0cd-40c6-814e-c71e5f641b24"
# Variables a child must not inherit: one static member id shared by K workers would fence
# all but one of them, and K metrics servers cannot share one port.
_NOT_INHERITED = ("ACCESSFLOW_CONSUMER_INSTANCE_ID", "ACCESSFLOW_METRICS_PORT")


def new_tag() -> str:
    return uuid.uuid4().hex[:10]


def user_id(n: int) -> str:
    """The n-th generated member user: a stable GUID, so request n has its own target."""
    return str(uuid.UUID(int=0xBE4C_0000_0000_4000_8000_0000_0000_0000 + n))


@dataclass(frozen=True)
class Phase:
    """One phase's settings (its own schema, topics and consumer group) and child env."""

    name: str
    settings: Settings
    env: dict[str, str]


def make_phase(
    base: Settings, tag: str, name: str, *, partitions: int, log_level: str = "INFO"
) -> Phase:
    prefix = f"bench.{tag}.{name}"
    settings = base.model_copy(
        update={
            "database_schema": f"bench_{tag}_{name}",
            "commands_topic": f"{prefix}.commands",
            "events_topic": f"{prefix}.events",
            "dlq_topic": f"{prefix}.commands.dlq",
            "consumer_group_id": f"{prefix}.worker",
            "consumer_instance_id": None,
            "topic_partitions": partitions,
        }
    )
    env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    env.update(
        {
            **settings.connection_environment(),
            "ACCESSFLOW_TOPIC_PARTITIONS": str(partitions),
            "ACCESSFLOW_LOG_FORMAT": "json",  # the bench reads the workers' lines
            "ACCESSFLOW_LOG_LEVEL": log_level,
            "ACCESSFLOW_METRICS_PORT": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return Phase(name, settings, env)


def catalog_document(users: int) -> dict[str, Any]:
    """One access package (a group of the built-in directory), auto-approved for every
    member user, and ``users`` member users: request n targets user n."""
    return {
        "users": [
            {"id": user_id(n), "displayName": f"Bench user {n}", "mail": f"bench{n}@example.test"}
            for n in range(users)
        ],
        "groups": [{"id": GROUP, "displayName": "Bench readers", "members": []}],
        "catalogs": [{"id": CATALOG, "displayName": "Bench"}],
        "accessPackages": [
            {
                "id": PACKAGE,
                "displayName": "Bench reports",
                "catalogId": CATALOG,
                "resourceRoleScopes": [
                    {
                        "role": {"originId": f"Member_{GROUP}", "originSystem": "AadGroup"},
                        "scope": {"originId": GROUP, "originSystem": "AadGroup"},
                    }
                ],
            }
        ],
        "assignmentPolicies": [
            {
                "id": POLICY,
                "accessPackageId": PACKAGE,
                "displayName": "All members, self-service, no approval",
                "allowedTargetScope": "allMemberUsers",
                "expiration": {"type": "afterDuration", "duration": "P90D"},
                "requestorSettings": {"enableTargetsToSelfAddAccess": True},
                "requestApprovalSettings": {"isApprovalRequiredForAdd": False, "stages": []},
            }
        ],
    }


@dataclass(frozen=True)
class CatalogTiming:
    users: int
    validate_seconds: float  # the catalog file's checks (pydantic, cross-references)
    apply_seconds: float  # the bulk upsert (COPY into staging tables, one upsert each)

    @property
    def seconds(self) -> float:
        return self.validate_seconds + self.apply_seconds


async def prepare(phase: Phase, users: int) -> CatalogTiming:
    """Migrate the phase's fresh schema, create its topics, apply a catalog of ``users``."""
    await bootstrap.migrate_all(phase.settings)
    document = catalog_document(users)
    started = time.perf_counter()
    catalog = load_catalog(document)
    validated = time.perf_counter()
    conn = await pool.connect(phase.settings)
    try:
        await apply_catalog(conn, catalog)
    finally:
        await conn.close()
    return CatalogTiming(users, validated - started, time.perf_counter() - validated)


async def cleanup(base: Settings, tag: str) -> None:
    """Drop every schema and topic of run ``tag``; each half is tried even if the other fails."""
    errors: list[BaseException] = []
    try:
        conn = await pool.connect(base)
        try:
            rows = await conn.fetch(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1", f"bench\\_{tag}\\_%"
            )
            for row in rows:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{row["nspname"]}" CASCADE')
        finally:
            await conn.close()
    except Exception as exc:
        errors.append(exc)
    try:
        admin = AIOKafkaAdminClient(**client_options(base))
        await admin.start()
        try:
            mine = [t for t in await admin.list_topics() if t.startswith(f"bench.{tag}.")]
            if mine:
                await admin.delete_topics(mine)
        finally:
            await admin.close()
    except Exception as exc:
        errors.append(exc)
    if errors:
        raise errors[0]


async def wal_position(settings: Settings) -> int:
    """PostgreSQL's current write-ahead log position, in bytes (for WAL per request)."""
    conn = await pool.connect(settings)
    try:
        position: int = await conn.fetchval(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint"
        )
    finally:
        await conn.close()
    return position
