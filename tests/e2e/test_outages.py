"""The worker rides out outages and shares work: broker restart, database restart, a second
worker joining and leaving, and SIGTERM mid-batch."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

STACK = Path(__file__).resolve().parents[2] / "deploy" / "local" / "stack"
N = 600


def _stack_in_use(e2e) -> bool:
    """Restarting services needs the local stack, and the tests pointed at it."""
    env = subprocess.run([str(STACK), "env"], capture_output=True, text=True, check=True)
    return f"ACCESSFLOW_KAFKA_BOOTSTRAP_SERVERS={e2e.settings.kafka_bootstrap_servers}" in (
        env.stdout
    )


async def _restart(service: str) -> None:
    proc = await asyncio.create_subprocess_exec(str(STACK), "restart", service)
    assert await proc.wait() == 0


async def _assert_all_delivered_once(e2e, commands) -> None:
    states = await e2e.query("SELECT state, sequence FROM assignment_requests")
    assert len(states) == len(commands)
    assert {(r["state"], r["sequence"]) for r in states} == {("delivered", 3)}
    events = e2e.by_request(await e2e.events())
    assert set(events) == {c["subject"] for c in commands}
    assert all([e["data"]["sequence"] for e in evs] == [1, 2, 3] for evs in events.values())
    history = await e2e.query("SELECT count(*) AS n FROM request_history")
    assert history[0]["n"] == 3 * len(commands)


@pytest.mark.parametrize("service", ["kafka", "postgres"])
async def test_worker_rides_out_a_restart_mid_stream(e2e, service: str) -> None:
    """The broker (or the database) restarts while commands flow: the worker retries with
    backoff instead of crashing, then finishes every request exactly once."""
    if not _stack_in_use(e2e):
        pytest.fail("restart tests need the local stack (deploy/local/stack) as backend")
    e2e.prepare(e2e.catalog(N))
    commands = [e2e.create_command(e2e.user_id(n)) for n in range(N)]
    await e2e.produce_commands(commands[: N // 2])
    worker = e2e.start_worker()
    await worker.logged("command.handled")  # the outage hits a worker in mid-stream
    await _restart(service)
    await e2e.produce_commands(commands[N // 2 :])
    await asyncio.sleep(3)
    assert worker.running(), "the worker died during the outage"
    assert worker.terminate() == 0
    assert e2e.start_worker("--burst").wait(timeout=180) == 0
    await _assert_all_delivered_once(e2e, commands)


async def test_two_workers_share_partitions_and_one_leaves_mid_stream(e2e) -> None:
    """Two workers in one group split the partitions; one is stopped mid-stream and the
    other takes over: nothing lost, nothing duplicated."""
    e2e.prepare(e2e.catalog(N))
    commands = [e2e.create_command(e2e.user_id(n)) for n in range(N)]
    first, second = e2e.start_worker(), e2e.start_worker()
    await e2e.produce_commands(commands[: N // 2])
    for _ in range(300):  # the second join needs a rebalance, paced by heartbeats
        if any(0 < len(p) < 6 for p in _assignments(first, second)):
            break
        await asyncio.sleep(0.1)
    assert second.terminate() == 0
    await e2e.produce_commands(commands[N // 2 :])
    await asyncio.sleep(3)
    assert first.terminate() == 0
    assert e2e.start_worker("--burst").wait(timeout=180) == 0
    await _assert_all_delivered_once(e2e, commands)
    split = [p for p in _assignments(first, second) if 0 < len(p) < 6]
    assert split, "the two workers never split the partitions"


def _assignments(*workers) -> list[set[int]]:
    return [
        set(line["partitions"])
        for w in workers
        for line in w.lines()
        if line["event"] == "partitions.assigned"
    ]


async def test_sigterm_mid_batch_exits_zero_with_no_half_done_effect(e2e) -> None:
    """SIGTERM while a stream is being processed: exit code 0; every command is then either
    fully applied or not at all, and a restart finishes the rest exactly once."""
    e2e.prepare(e2e.catalog(N))
    commands = [e2e.create_command(e2e.user_id(n)) for n in range(N)]
    await e2e.produce_commands(commands)
    worker = e2e.start_worker()
    await worker.logged("command.handled")
    assert worker.terminate() == 0
    partial = await e2e.query("SELECT state, sequence FROM assignment_requests")
    assert {(r["state"], r["sequence"]) for r in partial} <= {("delivered", 3)}
    assert e2e.start_worker("--burst").wait(timeout=180) == 0
    await _assert_all_delivered_once(e2e, commands)


async def test_worker_waits_for_an_unreachable_database_and_stops_cleanly(e2e) -> None:
    """Started while the database is down, the worker retries the connection with backoff
    (rather than crashing into a restart loop), and SIGTERM ends the wait with exit code 0."""
    closed = "postgresql://accessflow:accessflow@127.0.0.1:9/accessflow"  # discard: refused
    worker = e2e.start_worker(env={"ACCESSFLOW_DATABASE_URL": closed})
    await worker.logged("retry.scheduled")
    retries = [line for line in worker.lines() if line["event"] == "retry.scheduled"]
    assert retries[0]["operation"] == "database.connect"
    assert worker.terminate() == 0
    assert worker.lines()[-1]["event"] == "worker.stopped"
