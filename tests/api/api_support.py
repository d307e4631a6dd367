"""Ids of examples/catalog.yaml and helpers shared by the API tests (imported by name:
this folder is on pytest's ``pythonpath``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI

from accessflow.adapters.postgres.pool import connect
from accessflow.api.auth import mint_token
from accessflow.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "examples" / "catalog.yaml"
GRAPH_EXAMPLES = ROOT / "tests" / "fixtures" / "graph_create"
SECRET = "test-secret-that-is-long-enough-for-hs256"
BASE = "/v1.0/identityGovernance/entitlementManagement"
REQUESTS = f"{BASE}/assignmentRequests"

# Users, packages, policies and assignments of examples/catalog.yaml.
PATTI = "0f6cc311-4e6f-47f2-a8a9-e45bdaae57f6"
ALEX = "44da820a-dfee-4709-88d8-4e365feb9c00"
MEGAN = "46184453-e63b-4f20-86c2-a3a00ff7e1f3"
KAYO = "46184453-e63b-4f20-86c2-c557ed5d5df9"
LEE = "0460f89a-f623-43bb-bcf3-8c348a8d3cc0"
IDRIS = "21aceaba-fe13-4e3b-aa8c-4c588d5e7387"
ISAIAH = "adb28321-32e5-4571-a1c7-4adfad6b2db3"
NESTOR = "1108e79f-4f6f-4a9e-8944-35d12ce867ad"
JORDAN = "cdb02fd0-01ec-4bf4-896b-b8b30b5d74c5"
SALES = "a914b616-e04e-476b-aa37-91038f0b165b"
SALES_POLICY = "2264bf65-76ba-417b-a27d-54d291f0cbc8"
FINANCE = "977c7ff4-ef8f-4910-9d31-49048ddf3120"
FINANCE_POLICY = "3d904b06-ff76-4b98-a54c-52445dd7ea48"
FALCON = "5b98f958-0dea-4a5b-836e-109dccbd530c"
FALCON_POLICY = "c5f7847f-83a8-4315-a754-d94a6f39b875"
SALES_ASSIGNMENT = "a6bb6942-3ae1-4259-9908-0133aaee9377"  # Megan, Sales reports
FINANCE_ASSIGNMENT = "44c741c1-2cf4-40db-83b6-e0112f8e5a83"  # Megan, Finance data
FALCON_ASSIGNMENT = "329f8dac-8062-4c1b-a9b8-39b7132f9bff"  # Kayo, Project Falcon
ADMIN_ROLE = "EntitlementManagement.Admin"


def sales_body(target: str | None = None, **extra: Any) -> dict[str, Any]:
    assignment: dict[str, Any] = {"accessPackageId": SALES, "assignmentPolicyId": SALES_POLICY}
    if target is not None:
        assignment["targetId"] = target
    return {"requestType": "userAdd", "assignment": assignment, **extra}


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings

    def auth(self, user: str, *, admin: bool = False, **headers: str) -> dict[str, str]:
        token = mint_token(self.settings, user, [ADMIN_ROLE] if admin else [])
        return {"Authorization": f"Bearer {token}", **headers}

    async def post(self, path: str, body: Any, user: str, **kw: Any) -> httpx.Response:
        headers = self.auth(user, admin=kw.pop("admin", False), **kw.pop("headers", {}))
        return await self.client.post(path, json=body, headers=headers, **kw)

    async def get(self, path: str, user: str, **kw: Any) -> httpx.Response:
        headers = self.auth(user, admin=kw.pop("admin", False), **kw.pop("headers", {}))
        return await self.client.get(path, headers=headers, **kw)

    async def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await connect(self.settings)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    async def commands(self) -> list[dict[str, Any]]:
        return await read_topic(self.settings, self.settings.commands_topic)


async def existing_assignments(api: Api) -> None:
    """The assignments Graph's update and remove examples name (Megan's Sales reports and
    Finance data, Kayo's Project Falcon)."""
    rows = [
        (SALES_ASSIGNMENT, SALES, SALES_POLICY, MEGAN),
        (FINANCE_ASSIGNMENT, FINANCE, FINANCE_POLICY, MEGAN),
        (FALCON_ASSIGNMENT, FALCON, FALCON_POLICY, KAYO),
    ]
    for assignment_id, package, policy, target in rows:
        document = {
            "id": assignment_id,
            "state": "delivered",
            "status": "Delivered",
            "targetId": target,
            "accessPackageId": package,
            "assignmentPolicyId": policy,
        }
        await api.sql(
            "INSERT INTO assignments (id, access_package_id, assignment_policy_id, target_id, "
            "state, created_at, updated_at, document) "
            "VALUES ($1, $2, $3, $4, 'delivered', now(), now(), $5)",
            uuid.UUID(assignment_id),
            package,
            policy,
            target,
            document,
        )


async def read_topic(settings: Settings, topic: str) -> list[dict[str, Any]]:
    """Every record of ``topic`` as decoded JSON, from the beginning to its current end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[Any] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batch = await consumer.getmany(timeout_ms=1000)
            records.extend(r for rs in batch.values() for r in rs)
        return [orjson.loads(r.value) for r in records]
    finally:
        await consumer.stop()


def new_id() -> str:
    return str(uuid.uuid4())
