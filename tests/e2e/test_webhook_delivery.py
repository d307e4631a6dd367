"""Webhook delivery end to end: a real worker process (connectors file, real Kafka and
PostgreSQL) delivering to a real HTTP receiver in the test process. Retries, permanent
failures, partial delivery and reprocess, signatures, and a slow endpoint that must not hold
up other requests of its partition."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio
import yaml
from polling import eventually
from receiver import Receiver, Step, receiving

from accessflow.adapters.webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_signature,
)
from accessflow.service import commands

SECRET = "e2e-webhook-secret-0123456789"
SALES = "a914b616-e04e-476b-aa37-91038f0b165b"


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with receiving() as receiver:
        yield receiver


def _connectors(tmp: Path, receiver: Receiver, *origins: str, **overrides: Any) -> Path:
    """One webhook per origin system, at endpoint ``/hook/<origin>``; quick inline retries."""
    path = tmp / "connectors.yaml"
    entries = [
        {
            "originSystem": origin,
            "type": "webhook",
            "url": receiver.url(origin),
            "secret": SECRET,
            "timeoutSeconds": 30,
            "maxAttempts": 4,
            "maxElapsedSeconds": 20,
            "backoffInitialSeconds": 0.05,
            "backoffMaxSeconds": 0.2,
        }
        | overrides
        for origin in origins
    ]
    path.write_text(yaml.safe_dump({"connectors": entries}), encoding="utf-8")
    return path


def _start(
    e2e, receiver: Receiver, *origins: str, env: dict[str, str] | None = None, **overrides: Any
):
    """The catalog's package granting one resource per origin system, and a worker."""
    catalog = e2e.catalog(4)
    catalog["accessPackages"][0]["resourceRoleScopes"] = [
        {
            "id": f"{origin}-scope",
            "role": {"originId": f"{origin}-reader", "originSystem": origin},
            "scope": {"originId": f"{origin}-site", "originSystem": origin},
        }
        for origin in origins
    ]
    e2e.prepare(catalog)
    path = _connectors(e2e.tmp, receiver, *origins, **overrides)
    return e2e.start_worker(env={"ACCESSFLOW_CONNECTORS_FILE": str(path), **(env or {})})


async def _until(
    e2e, done: Callable[[dict[str, list[dict[str, Any]]]], bool], seconds: float = 60
) -> dict[str, list[dict[str, Any]]]:
    """Read the events topic until ``done(events by request)``; fail after ``seconds``."""
    seen: dict[str, list[dict[str, Any]]] = {}

    async def finished() -> bool:
        seen.clear()
        seen.update(e2e.by_request(await e2e.events()))
        return done(seen)

    def so_far() -> str:
        return f"the events; so far: {_states(seen)}"

    await eventually(finished, seconds=seconds, interval=0.3, what=so_far)
    return seen


def _states(events: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    return {rid: [e["data"]["state"] for e in evs] for rid, evs in events.items()}


def _ended(request_id: str) -> Callable[[dict[str, list[dict[str, Any]]]], bool]:
    terminal = {"delivered", "partiallyDelivered", "deliveryFailed"}
    return lambda events: (
        bool(events.get(request_id)) and (events[request_id][-1]["data"]["state"] in terminal)
    )


async def _first_call(receiver: Receiver, worker) -> None:
    """Until the worker's first call reaches the receiver (30 s at most)."""
    await eventually(lambda: receiver.calls["SaasApp"] or not worker.running(), what="a call")
    assert receiver.calls["SaasApp"], "the call never arrived"


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


def _verified(call) -> dict[str, Any]:
    """The call's body, once its signature checks out against the shared secret."""
    timestamp = call.headers[TIMESTAMP_HEADER.lower()]
    assert verify_signature(SECRET, timestamp, call.body, call.headers[SIGNATURE_HEADER.lower()])
    assert not verify_signature("not-the-secret-at-all", timestamp, call.body, "v1=00")
    body: dict[str, Any] = orjson.loads(call.body)
    assert body["idempotencyKey"] == call.headers[IDEMPOTENCY_HEADER.lower()]
    return body


async def test_503_twice_then_200_is_delivered_with_signed_calls(e2e, receiver) -> None:
    receiver.answer("SaasApp", Step(503), Step(503))
    worker = _start(e2e, receiver, "SaasApp")
    command = e2e.create_command(e2e.user_id(0))
    await e2e.produce_commands([command])
    events = await _until(e2e, _ended(command["subject"]))
    assert _states(events)[command["subject"]] == ["submitted", "delivering", "delivered"]
    calls = receiver.calls["SaasApp"]
    bodies = [_verified(call) for call in calls]
    assert len(bodies) == 3
    assert {b["idempotencyKey"] for b in bodies} == {bodies[0]["idempotencyKey"]}
    assert (bodies[0]["operation"], bodies[0]["targetId"], bodies[0]["requestId"]) == (
        "grant",
        e2e.user_id(0),
        command["subject"],
    )
    assert bodies[0]["roleOriginId"] == "SaasApp-reader"
    [started] = [line for line in worker.lines() if line["event"] == "worker.starting"]
    metrics = await asyncio.to_thread(_scrape, started["metrics_port"])
    calls = 'accessflow_grant_calls_total{origin_system="SaasApp",outcome="succeeded"} 1.0'
    assert calls in metrics  # one round (its two inline retries are the connector's own)
    assert worker.terminate() == 0
    grants = await e2e.query("SELECT state, attempts FROM grants")
    assert [(g["state"], g["attempts"]) for g in grants] == [("delivered", 1)]


async def test_400_fails_delivery_at_once(e2e, receiver) -> None:
    receiver.answer("SaasApp", Step(400))
    worker = _start(e2e, receiver, "SaasApp")
    command = e2e.create_command(e2e.user_id(0))
    await e2e.produce_commands([command])
    events = await _until(e2e, _ended(command["subject"]))
    last = events[command["subject"]][-1]["data"]
    assert last["state"] == "deliveryFailed"
    assert last["reason"]["code"] == "ResourceUnavailable"
    assert [d["target"] for d in last["reason"]["details"]] == ["SaasApp-scope"]
    assert "400" in last["reason"]["details"][0]["message"]
    assert len(receiver.calls["SaasApp"]) == 1  # a 4xx is not retried
    assert worker.terminate() == 0


async def test_partial_delivery_then_reprocess_resends_only_the_failed_grant(e2e, receiver) -> None:
    receiver.answer("Flaky", Step(400))
    worker = _start(e2e, receiver, "Steady", "Flaky")
    command = e2e.create_command(e2e.user_id(0))
    request_id = command["subject"]
    await e2e.produce_commands([command])
    events = await _until(e2e, _ended(request_id))
    partial = events[request_id][-1]["data"]
    assert partial["state"] == "partiallyDelivered"
    assert [d["target"] for d in partial["reason"]["details"]] == ["Flaky-scope"]

    reprocess = commands.command_envelope(
        commands.REPROCESS,
        request_id,
        {"requestor": {"objectId": e2e.user_id(0)}},
        source="urn:accessflow:e2e",
    )
    await e2e.produce_commands([reprocess])
    events = await _until(e2e, lambda evs: len(evs[request_id]) == 5)
    assert _states(events)[request_id] == [
        "submitted",
        "delivering",
        "partiallyDelivered",
        "delivering",
        "delivered",
    ]
    assert len(receiver.calls["Steady"]) == 1  # delivered the first time: not sent again
    flaky = [_verified(call) for call in receiver.calls["Flaky"]]
    assert len(flaky) == 2
    assert flaky[0]["idempotencyKey"] == flaky[1]["idempotencyKey"]
    assert worker.terminate() == 0


@pytest.mark.timeout(120)
async def test_a_slow_webhook_does_not_hold_up_its_partition(e2e, receiver) -> None:
    """Request A's endpoint takes 8 s to answer; request B, produced on the same partition
    (same key) while A's call hangs, is delivered long before A."""
    receiver.answer("SaasApp", Step(200, delay=8))
    worker = _start(e2e, receiver, "SaasApp")
    slow = e2e.create_command(e2e.user_id(0))
    fast = e2e.create_command(e2e.user_id(1))
    key = slow["subject"].encode()
    await e2e.produce([(key, orjson.dumps(slow))])
    await _first_call(receiver, worker)
    started = time.monotonic()
    await e2e.produce([(key, orjson.dumps(fast))])
    events = await _until(e2e, _ended(fast["subject"]), seconds=30)
    fast_took = time.monotonic() - started
    print(f"the fast request was delivered {fast_took:.2f} s after it was produced")
    assert _states(events).get(slow["subject"]) == ["submitted", "delivering"]
    assert fast_took < 6, f"the fast request waited {fast_took:.1f} s behind the slow one"
    events = await _until(e2e, _ended(slow["subject"]), seconds=30)
    assert _states(events)[slow["subject"]][-1] == "delivered"
    assert worker.terminate() == 0


def test_a_bad_connectors_file_stops_the_worker_at_start_with_a_clear_message(e2e) -> None:
    path = e2e.tmp / "connectors.yaml"
    path.write_text("connectors:\n  - {originSystem: SaasApp, type: webhook}\n")
    worker = e2e.start_worker(env={"ACCESSFLOW_CONNECTORS_FILE": str(path)})
    assert worker.proc.wait(timeout=60) != 0
    output = worker.log.read_text()
    assert "connectors[0].url: Field required" in output
    assert "Traceback" not in output


async def test_a_worker_killed_mid_call_loses_nothing_and_the_grant_goes_again(
    e2e, receiver
) -> None:
    """kill -9 while the receiver is still answering: the grant stays leased, and once the
    lease ends a new worker sends it again with the same idempotency key; the request is
    delivered once (one event per sequence, no gaps)."""
    receiver.answer("SaasApp", Step(200, delay=30))  # the first call never gets its answer
    quick = {"timeoutSeconds": 2, "maxElapsedSeconds": 1}
    lease = {"ACCESSFLOW_DELIVERY_LEASE_SECONDS": "5"}  # > timeoutSeconds + maxElapsedSeconds
    first = _start(e2e, receiver, "SaasApp", env=lease, **quick)
    command = e2e.create_command(e2e.user_id(0))
    await e2e.produce_commands([command])
    await _first_call(receiver, first)
    first.kill9()
    path = e2e.tmp / "connectors.yaml"
    second = e2e.start_worker(env={"ACCESSFLOW_CONNECTORS_FILE": str(path), **lease})
    events = await _until(e2e, _ended(command["subject"]), seconds=90)
    assert _states(events)[command["subject"]] == ["submitted", "delivering", "delivered"]
    calls = [_verified(call) for call in receiver.calls["SaasApp"]]
    assert len(calls) == 2
    assert calls[0]["idempotencyKey"] == calls[1]["idempotencyKey"]
    assert second.terminate() == 0


async def test_sigterm_mid_call_hands_the_grant_back_for_the_next_worker(e2e, receiver) -> None:
    """A graceful stop gives in-flight calls a grace period, then releases their leases: the
    next worker sends the grant at once (not 5 minutes later, when the lease would end)."""
    receiver.answer("SaasApp", Step(200, delay=40))
    first = _start(e2e, receiver, "SaasApp", timeoutSeconds=45, maxElapsedSeconds=1)
    command = e2e.create_command(e2e.user_id(0))
    await e2e.produce_commands([command])
    await _first_call(receiver, first)
    assert first.terminate() == 0
    assert any(line["event"] == "deliveries.released" for line in first.lines())
    path = e2e.tmp / "connectors.yaml"
    second = e2e.start_worker(env={"ACCESSFLOW_CONNECTORS_FILE": str(path)})
    events = await _until(e2e, _ended(command["subject"]), seconds=30)
    assert _states(events)[command["subject"]][-1] == "delivered"
    assert len(receiver.calls["SaasApp"]) == 2
    assert second.terminate() == 0
