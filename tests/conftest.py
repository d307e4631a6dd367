"""Where integration and end-to-end tests get their real PostgreSQL and Kafka.

In order: the ``ACCESSFLOW_KAFKA_BOOTSTRAP_SERVERS`` / ``ACCESSFLOW_DATABASE_URL``
environment; testcontainers when a Docker engine answers; otherwise the project's local stack
(``deploy/local/stack up``, started if not running). The pytest header names the choice.
Every test gets its own schema and its own topics, so tests run in any order. Unit tests
never touch any of this: the fixtures are lazy.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from isolation import isolated_settings, subprocess_environment

from accessflow.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
STACK = ROOT / "deploy" / "local" / "stack"
KAFKA_IMAGE = "apache/kafka:4.1.0"
POSTGRES_IMAGE = "postgres:16"


@dataclass(frozen=True)
class Backend:
    name: str
    kafka_bootstrap_servers: str
    database_url: str


@cache
def _docker_answers() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        return subprocess.run([docker, "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@cache
def backend_choice() -> str:
    if os.environ.get("ACCESSFLOW_KAFKA_BOOTSTRAP_SERVERS") and os.environ.get(
        "ACCESSFLOW_DATABASE_URL"
    ):
        return "env"
    if _docker_answers():
        return "testcontainers"
    return "local-stack"


def pytest_report_header(config: pytest.Config) -> str:
    descriptions = {
        "env": "the ACCESSFLOW_* environment "
        f"(kafka={os.environ.get('ACCESSFLOW_KAFKA_BOOTSTRAP_SERVERS')})",
        "testcontainers": f"testcontainers ({KAFKA_IMAGE}, {POSTGRES_IMAGE})",
        "local-stack": f"the local stack ({STACK.relative_to(ROOT)}, started on first use)",
    }
    return f"accessflow backend: {descriptions[backend_choice()]}"


#: A test that uses one of these starts accessflow's own processes (``e2e``), or else needs
#: the real PostgreSQL and Kafka (``integration``), whichever folder it lives in; so
#: ``-m "not integration and not e2e"`` runs exactly the tests that need no services. A test
#: that starts services some other way says so with a marker of its own.
E2E_FIXTURES = frozenset({"e2e", "e2e_module"})
INTEGRATION_FIXTURES = frozenset({"backend", "settings"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT / "tests").parts
        if parts[0] == "deploy":  # every test there needs the tools deploy/tools/install builds
            item.add_marker(pytest.mark.deploy)
        if item.get_closest_marker("e2e") or item.get_closest_marker("integration"):
            continue
        used = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        if callspec is not None:  # a parametrized argument, not the fixture of that name
            used -= set(callspec.params)
        if used & E2E_FIXTURES:
            item.add_marker(pytest.mark.e2e)
        elif used & INTEGRATION_FIXTURES:
            item.add_marker(pytest.mark.integration)


def _local_stack() -> Backend:
    subprocess.run([str(STACK), "up"], check=True, capture_output=True, timeout=600)
    env = subprocess.run(
        [str(STACK), "env"], check=True, capture_output=True, text=True
    ).stdout.split()
    values = dict(item.split("=", 1) for item in env if "=" in item)
    return Backend(
        "local-stack",
        values["ACCESSFLOW_KAFKA_BOOTSTRAP_SERVERS"],
        values["ACCESSFLOW_DATABASE_URL"],
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _containers() -> Iterator[Backend]:  # pragma: no cover - needs a Docker engine
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs
    from testcontainers.postgres import PostgresContainer

    port = _free_port()
    # The image ignores its defaults once any KAFKA_* is set, so every setting is listed.
    kafka = DockerContainer(KAFKA_IMAGE).with_bind_ports(9092, port)
    for key, value in {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://127.0.0.1:{port}",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
    }.items():
        kafka = kafka.with_env(key, value)
    postgres = PostgresContainer(
        POSTGRES_IMAGE,
        username="accessflow",
        password="accessflow",
        dbname="accessflow",
        driver=None,
    )
    with postgres, kafka:
        wait_for_logs(kafka, "Kafka Server started", timeout=120)
        yield Backend("testcontainers", f"127.0.0.1:{port}", postgres.get_connection_url())


@pytest.fixture(scope="session")
def backend() -> Iterator[Backend]:
    """The real Kafka and PostgreSQL this session's integration tests use."""
    choice = backend_choice()
    if choice == "env":
        yield Backend(
            "env",
            os.environ["ACCESSFLOW_KAFKA_BOOTSTRAP_SERVERS"],
            os.environ["ACCESSFLOW_DATABASE_URL"],
        )
    elif choice == "testcontainers":
        yield from _containers()
    else:
        yield _local_stack()


@pytest.fixture
async def settings(backend: Backend) -> AsyncIterator[Settings]:
    """Settings for one test: its own schema and its own three topics, dropped afterwards."""
    async with isolated_settings(backend.kafka_bootstrap_servers, backend.database_url) as own:
        yield own


@pytest.fixture
def subprocess_env(settings: Settings) -> dict[str, str]:
    """The environment that points an ``accessflow`` child process at this test's settings."""
    return subprocess_environment(settings)
