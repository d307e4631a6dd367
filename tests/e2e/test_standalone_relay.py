"""`accessflow relay` publishes on its own what `accessflow worker --no-relay` commits."""

from __future__ import annotations

from polling import eventually


async def test_worker_without_relay_leaves_events_to_a_standalone_relay(e2e) -> None:
    """With --no-relay the worker publishes nothing; a separate relay process, woken by
    PostgreSQL's NOTIFY, then publishes every event in order."""
    e2e.prepare(e2e.catalog(3))
    commands = [e2e.create_command(e2e.user_id(n)) for n in range(3)]
    await e2e.produce_commands(commands)
    assert e2e.start_worker("--burst", "--no-relay").wait(timeout=120) == 0
    assert await e2e.events() == []
    backlog = await e2e.query("SELECT count(*) AS n FROM outbox")
    assert backlog[0]["n"] == 12  # 3 state changes and 1 assignment event per request

    relay = e2e.start_process("relay")

    async def all_published() -> bool:
        return len(await e2e.events()) == 12

    await eventually(all_published, what="12 events on the topic")
    assert relay.terminate() == 0
    events = e2e.by_request(await e2e.events())
    assert all([e["data"]["sequence"] for e in evs] == [1, 2, 3] for evs in events.values())
    backlog = await e2e.query("SELECT count(*) AS n FROM outbox")
    assert backlog[0]["n"] == 0
