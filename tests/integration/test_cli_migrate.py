"""`accessflow migrate` as an operator runs it: schema, topics, idempotence, clear errors."""

from __future__ import annotations

import subprocess
import sys

from aiokafka.admin import AIOKafkaAdminClient

from accessflow.settings import Settings


def _accessflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "accessflow.entrypoints.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_migrate_creates_schema_and_topics_and_is_idempotent(
    settings: Settings, subprocess_env: dict[str, str]
) -> None:
    """First run applies migrations and creates 3 topics of 6 partitions; second run no-ops."""
    first = _accessflow(subprocess_env, "migrate")
    assert first.returncode == 0, first.stderr
    assert "applied migration 0001_requests_and_outbox" in first.stdout
    assert first.stdout.count("topic created") == 3

    second = _accessflow(subprocess_env, "migrate")
    assert second.returncode == 0, second.stderr
    assert "is up to date" in second.stdout
    assert second.stdout.count("topic exists") == 3

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(
            [settings.commands_topic, settings.events_topic, settings.dlq_topic]
        )
    finally:
        await admin.close()
    assert [len(t["partitions"]) for t in described] == [6, 6, 6]


def test_a_malformed_setting_fails_with_the_variable_named(
    subprocess_env: dict[str, str],
) -> None:
    """A bad ACCESSFLOW_DATABASE_URL stops the CLI with a message naming it, no traceback."""
    env = dict(subprocess_env, ACCESSFLOW_DATABASE_URL="mysql://nope")
    result = _accessflow(env, "migrate")
    assert result.returncode != 0
    assert "ACCESSFLOW_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr
