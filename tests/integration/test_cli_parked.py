"""`accessflow outbox parked list|retry|drop` against the real PostgreSQL: selection by id
or event id, original ids restored, nothing dropped without --yes."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import orjson
import pytest
from click.testing import CliRunner, Result

from accessflow import bootstrap
from accessflow.entrypoints.cli import main
from accessflow.settings import Settings

EVENT_IDS = {n: str(uuid.UUID(int=n)) for n in (5, 9, 12)}


def _query(settings: Settings, sql: str, *args: Any) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(
            settings.dsn, server_settings={"search_path": settings.database_schema}
        )
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    return asyncio.run(run())


@pytest.fixture
def parked_three(settings: Settings) -> Settings:
    """Three parked events of one request, as the relay parks them."""
    asyncio.run(bootstrap.migrate_all(settings, topics=False))
    for n, reason in ((5, "MessageTooLarge"), (9, "BehindParked"), (12, "BehindParked")):
        _query(
            settings,
            "INSERT INTO parked_events (id, event_id, event_type, key, payload, created_at, "
            "reason, error_message) VALUES ($1, $2, 't', 'request-a', $3, now(), $4, 'why')",
            n,
            uuid.UUID(EVENT_IDS[n]),
            b"x" * n,
            reason,
        )
    return settings


def _cli(settings: Settings, *args: str) -> Result:
    env = {**settings.connection_environment(), "ACCESSFLOW_LOG_FORMAT": "json"}
    return CliRunner(env=env).invoke(main, ["outbox", "parked", *args])


def test_list_shows_each_parked_event_in_order(parked_three: Settings) -> None:
    result = _cli(parked_three, "list", "--json")
    assert result.exit_code == 0, result.output
    entries = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [(e["id"], e["eventId"], e["size"], e["reason"]) for e in entries] == [
        (5, EVENT_IDS[5], 5, "MessageTooLarge"),
        (9, EVENT_IDS[9], 9, "BehindParked"),
        (12, EVENT_IDS[12], 12, "BehindParked"),
    ]
    assert {e["requestId"] for e in entries} == {"request-a"}


def test_retry_by_id_or_event_id_restores_the_original_ids(parked_three: Settings) -> None:
    result = _cli(parked_three, "retry", "12", EVENT_IDS[9])
    assert result.exit_code == 0, result.output
    assert "moved 2 parked event(s) of 1 request(s)" in result.stdout
    outbox = _query(parked_three, "SELECT id, event_id::text, payload FROM outbox ORDER BY id")
    assert [(r["id"], r["event_id"], len(r["payload"])) for r in outbox] == [
        (9, EVENT_IDS[9], 9),
        (12, EVENT_IDS[12], 12),
    ]
    assert [r["id"] for r in _query(parked_three, "SELECT id FROM parked_events")] == [5]


def test_naming_nothing_or_an_unknown_event_changes_nothing(parked_three: Settings) -> None:
    assert _cli(parked_three, "retry").exit_code == 2
    assert _cli(parked_three, "retry", "--all", "5").exit_code == 2
    unknown = _cli(parked_three, "retry", "5", "77")
    assert unknown.exit_code == 1
    assert "not parked: 77" in unknown.output
    assert len(_query(parked_three, "SELECT id FROM parked_events")) == 3


def test_drop_needs_yes_and_prints_and_logs_what_it_deleted(parked_three: Settings) -> None:
    refused = _cli(parked_three, "drop", "5")
    assert refused.exit_code == 2
    assert "--yes" in refused.output
    assert len(_query(parked_three, "SELECT id FROM parked_events")) == 3

    dropped = _cli(parked_three, "drop", "5", "--yes", "--json")
    assert dropped.exit_code == 0, dropped.output
    assert [orjson.loads(line)["eventId"] for line in dropped.stdout.splitlines()] == [EVENT_IDS[5]]
    logged = [orjson.loads(line) for line in dropped.stderr.splitlines() if line.startswith("{")]
    assert [(line["event"], line["eventId"]) for line in logged] == [
        ("event.dropped", EVENT_IDS[5])
    ]
    assert [r["id"] for r in _query(parked_three, "SELECT id FROM parked_events")] == [9, 12]
    assert _query(parked_three, "SELECT id FROM outbox") == []
