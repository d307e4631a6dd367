"""Durable timers in real processes: a scheduled start survives a worker killed around it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from polling import eventually

from accessflow.service.commands import create_command

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "catalog.yaml"
MEGAN = "46184453-e63b-4f20-86c2-a3a00ff7e1f3"
FALCON = "5b98f958-0dea-4a5b-836e-109dccbd530c"
FALCON_POLICY = "c5f7847f-83a8-4315-a754-d94a6f39b875"


async def test_a_scheduled_start_fires_once_across_a_kill_at_the_due_time(e2e) -> None:
    """A request starting in a few seconds: the worker is SIGKILLed right around the start
    and restarted; the request is delivered exactly once (one event per state, no repeats)."""
    e2e.prepare(yaml.safe_load(EXAMPLES.read_text(encoding="utf-8")))
    start = datetime.now(UTC) + timedelta(seconds=4)
    body = {
        "requestType": "userAdd",
        "schedule": {"startDateTime": start.isoformat()},
        "assignment": {
            "accessPackageId": FALCON,
            "assignmentPolicyId": FALCON_POLICY,
            "targetId": MEGAN,
        },
    }
    command = create_command(MEGAN, body, source="urn:accessflow:e2e")
    identity = {"ACCESSFLOW_CONSUMER_INSTANCE_ID": "timers-e2e"}
    await e2e.produce_commands([command])
    first = e2e.start_worker(env=identity)
    await asyncio.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds()))
    first.kill9()  # at the due time: before, during or after the timer's transaction
    second = e2e.start_worker(env=identity)

    async def delivered() -> bool:
        events = e2e.by_request(await e2e.events()).get(command["subject"], [])
        return [e["data"]["state"] for e in events][-1:] == ["delivered"]

    await eventually(delivered, what="the request to be delivered")
    assert second.terminate() == 0

    events = e2e.by_request(await e2e.events())[command["subject"]]
    assert [e["data"]["state"] for e in events] == [
        "submitted",
        "scheduled",
        "delivering",
        "delivered",
    ]
    assert events[1]["data"]["status"] == "PendingNotBefore"
    timers = await e2e.query("SELECT kind, fired_at FROM timers")
    assert [(r["kind"], r["fired_at"] is not None) for r in timers] == [("scheduledStart", True)]
    history = await e2e.query("SELECT count(*) AS n FROM request_history")
    assert history[0]["n"] == 4
