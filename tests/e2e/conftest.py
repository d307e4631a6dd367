"""End-to-end support: accessflow's own processes (``accessflow migrate``, ``catalog apply``,
``worker``) run as a user runs them, against the test's isolated schema and topics on the
real broker and database; the test produces commands and reads the topics back."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from isolation import isolated_settings, subprocess_environment
from polling import eventually

from accessflow.adapters.kafka.options import client_options
from accessflow.service import commands
from accessflow.settings import Settings

SALES_PACKAGE = "a914b616-e04e-476b-aa37-91038f0b165b"
SALES_POLICY = "2264bf65-76ba-417b-a27d-54d291f0cbc8"
SALES_GROUP = "d82dafa9-7823-4f55-b4ce-9a1ef3bee1d2"


def user_id(n: int) -> str:
    return str(uuid.UUID(int=0xE2E0_0000_0000_4000_8000_0000_0000_0000 + n))


def generated_catalog(users: int) -> dict[str, Any]:
    """The "Sales reports" package and its self-service policy, with ``users`` members."""
    return {
        "users": [
            {"id": user_id(n), "displayName": f"User {n}", "mail": f"user{n}@example.test"}
            for n in range(users)
        ],
        "groups": [{"id": SALES_GROUP, "displayName": "Sales reports readers", "members": []}],
        "catalogs": [{"id": "a5e85994-c0cd-40c6-814e-c71e5f641b24", "displayName": "General"}],
        "accessPackages": [
            {
                "id": SALES_PACKAGE,
                "displayName": "Sales reports",
                "catalogId": "a5e85994-c0cd-40c6-814e-c71e5f641b24",
                "resourceRoleScopes": [
                    {
                        "role": {"originId": f"Member_{SALES_GROUP}", "originSystem": "AadGroup"},
                        "scope": {"originId": SALES_GROUP, "originSystem": "AadGroup"},
                    }
                ],
            }
        ],
        "assignmentPolicies": [
            {
                "id": SALES_POLICY,
                "accessPackageId": SALES_PACKAGE,
                "displayName": "All members, self-service",
                "allowedTargetScope": "allMemberUsers",
                "expiration": {"type": "afterDuration", "duration": "P90D"},
                "requestorSettings": {"enableTargetsToSelfAddAccess": True},
                "requestApprovalSettings": {"isApprovalRequiredForAdd": False, "stages": []},
            }
        ],
    }


def create_command(target: str, *, request_id: str | None = None) -> dict[str, Any]:
    """A wire-contract create command: ``target`` asks for Sales reports for themselves."""
    body = {
        "requestType": "userAdd",
        "justification": "e2e",
        "assignment": {
            "accessPackageId": SALES_PACKAGE,
            "assignmentPolicyId": SALES_POLICY,
            "targetId": target,
        },
    }
    return commands.create_command(target, body, source="urn:accessflow:e2e", request_id=request_id)


@dataclass
class WorkerProcess:
    proc: subprocess.Popen[bytes]
    log: Path

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def terminate(self, timeout: float = 60) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout=timeout)
        if code != 0:
            self._show_tail(code)
        return code

    def running(self) -> bool:
        code = self.proc.poll()
        if code is not None:
            self._show_tail(code)
        return code is None

    async def logged(self, event: str, seconds: float = 60) -> None:
        """Wait until the process has logged ``event`` (a slow start on a busy machine is fine;
        dying first, or never logging it, fails the test with the log's tail)."""

        def logged() -> bool:
            if any(line["event"] == event for line in self.lines()):
                return True
            assert self.running(), f"exited before logging {event}"
            return False

        try:
            await eventually(logged, seconds=seconds, what=f"{self.log.name} to log {event}")
        except AssertionError:
            if self.proc.poll() is None:  # an exit already showed the tail
                self._show_tail(-1)
            raise

    def _show_tail(self, code: int) -> None:
        """A failing assertion on a process's exit then shows why it exited."""
        tail = self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-40:]
        sys.stderr.write(f"--- {self.log.name} exited {code}; last lines:\n")
        sys.stderr.write("\n".join(tail) + "\n")

    def lines(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far. A running process may be half way through
        writing its last line (a buffer flushed mid-line): only complete lines count."""
        out = []
        for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines(True):
            if line.startswith("{") and line.endswith("\n"):
                out.append(json.loads(line))
        return out


@dataclass
class E2E:
    settings: Settings
    env: dict[str, str]
    tmp: Path
    workers: list[WorkerProcess] = field(default_factory=list)

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "accessflow.entrypoints.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, f"accessflow {' '.join(args)}:\n{result.stderr}"
        return result

    def prepare(self, catalog: dict[str, Any]) -> None:
        self.cli("migrate")
        path = self.tmp / "catalog.json"
        path.write_text(json.dumps(catalog), encoding="utf-8")
        self.cli("catalog", "apply", str(path))

    def start_worker(self, *args: str, env: dict[str, str] | None = None) -> WorkerProcess:
        return self.start_process("worker", *args, env=env)

    def start_process(self, *args: str, env: dict[str, str] | None = None) -> WorkerProcess:
        """``accessflow ARGS…`` in the background, its log lines kept for the test."""
        log = self.tmp / f"{args[0]}-{len(self.workers)}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "accessflow.entrypoints.cli", *args],
            env={**self.env, **(env or {})},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        worker = WorkerProcess(proc, log)
        self.workers.append(worker)
        return worker

    async def produce(
        self,
        messages: Iterable[tuple[bytes | None, bytes | None]],
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        producer = AIOKafkaProducer(enable_idempotence=True, **client_options(self.settings))
        await producer.start()
        try:
            futures = [
                await producer.send(self.settings.commands_topic, value, key=key, headers=headers)
                for key, value in messages
            ]
            await asyncio.gather(*futures)
        finally:
            await producer.stop()

    async def produce_commands(self, commands: Iterable[dict[str, Any]]) -> None:
        await self.produce((c["subject"].encode(), orjson.dumps(c)) for c in commands)

    async def read(self, topic: str) -> list[Any]:
        """Every record of ``topic``, from the beginning to its end as of now."""
        consumer = AIOKafkaConsumer(enable_auto_commit=False, **client_options(self.settings))
        await consumer.start()
        try:
            partitions = [
                TopicPartition(topic, p)
                for p in consumer.partitions_for_topic(topic) or await _partitions(consumer, topic)
            ]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            records: list[Any] = []
            while not await _at_end(consumer, ends):
                batch = await consumer.getmany(timeout_ms=1000)
                records.extend(r for rs in batch.values() for r in rs)
            return records
        finally:
            await consumer.stop()

    async def events(self) -> list[dict[str, Any]]:
        return [orjson.loads(r.value) for r in await self.read(self.settings.events_topic)]

    # The module-level helpers, reachable from tests (conftest modules are not importable).
    user_id = staticmethod(user_id)
    catalog = staticmethod(generated_catalog)
    create_command = staticmethod(create_command)

    @staticmethod
    def by_request(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        return by_request(events)

    async def query(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(
            self.settings.dsn, server_settings={"search_path": self.settings.database_schema}
        )
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()


async def _at_end(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()


@pytest.fixture
async def e2e(
    settings: Settings, subprocess_env: dict[str, str], tmp_path: Path
) -> AsyncIterator[E2E]:
    env = {**subprocess_env, "ACCESSFLOW_METRICS_PORT": "0", "PYTHONUNBUFFERED": "1"}
    harness = E2E(settings, env, tmp_path)
    try:
        yield harness
    finally:
        _stop(harness)


@pytest.fixture(scope="module")
async def e2e_module(backend: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[E2E]:
    """One harness (schema, topics, processes) shared by a whole module: for tests whose
    many cases or generated examples run against the same long-running processes."""
    async with isolated_settings(backend.kafka_bootstrap_servers, backend.database_url) as own:
        env = {**subprocess_environment(own), "ACCESSFLOW_METRICS_PORT": "0"}
        harness = E2E(own, {**env, "PYTHONUNBUFFERED": "1"}, tmp_path_factory.mktemp("e2e"))
        try:
            yield harness
        finally:
            _stop(harness)


def _stop(harness: E2E) -> None:
    for worker in harness.workers:
        if worker.proc.poll() is None:
            worker.proc.kill()
            worker.proc.wait(timeout=30)


def by_request(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """State-changed events grouped by request, deduped by id, ordered by sequence."""
    grouped: dict[str, dict[str, dict[str, Any]]] = {}
    for event in events:
        if event["type"] == "accessflow.assignmentRequest.stateChanged":
            grouped.setdefault(event["subject"], {})[event["id"]] = event
    return {
        rid: sorted(unique.values(), key=lambda e: e["data"]["sequence"])
        for rid, unique in grouped.items()
    }
