"""The Python client (``accessflow.client``) against the real stack: it produces contract-valid
create commands that a real ``accessflow worker --burst`` delivers, and its subscriber yields
typed state changes deduped by event id and in sequence order per request."""

from __future__ import annotations

import uuid
from contextlib import aclosing
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from accessflow.adapters.kafka.producer import CLOUDEVENTS_HEADERS
from accessflow.client import (
    AccessflowProducer,
    NewRequest,
    RequestValidationError,
    StateChanged,
    subscribe,
    wait_for_terminal,
)
from accessflow.service.events import STATE_CHANGED, state_changed_event_id

SALES = "a914b616-e04e-476b-aa37-91038f0b165b"
SALES_POLICY = "2264bf65-76ba-417b-a27d-54d291f0cbc8"


def sales_body(target: str) -> dict[str, Any]:
    return {
        "requestType": "userAdd",
        "justification": "client e2e",
        "assignment": {
            "accessPackageId": SALES,
            "assignmentPolicyId": SALES_POLICY,
            "targetId": target,
        },
    }


async def _produce_events(e2e: Any, events: list[dict[str, Any]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=e2e.settings.kafka_bootstrap_servers, enable_idempotence=True
    )
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                e2e.settings.events_topic,
                orjson.dumps(event),
                key=event["subject"].encode(),
                headers=CLOUDEVENTS_HEADERS,
            )
    finally:
        await producer.stop()


def _moved_to(event: dict[str, Any], request_id: str) -> dict[str, Any]:
    """A copy of a state-changed event, re-addressed to another (synthetic) request."""
    sequence = event["data"]["sequence"]
    data = {**event["data"], "requestId": request_id}
    return {
        **event,
        "id": str(state_changed_event_id(request_id, sequence)),
        "subject": request_id,
        "data": data,
    }


async def test_client_requests_are_delivered_and_subscribers_see_each_state_once_in_order(
    e2e: Any,
) -> None:
    """create_request and create_many produce commands the worker delivers; wait_for_terminal
    returns the delivered state change (sequence 3); subscribe drops a duplicate event copy
    and reorders an out-of-order pair by sequence."""
    e2e.prepare(e2e.catalog(3))
    async with AccessflowProducer(e2e.settings, source="urn:accessflow:test") as client:
        first = await client.create_request(e2e.user_id(0), sales_body(e2e.user_id(0)))
        chosen = uuid.uuid4()
        many = await client.create_many(
            [
                NewRequest(e2e.user_id(1), sales_body(e2e.user_id(1)), request_id=chosen),
                NewRequest(e2e.user_id(2), sales_body(e2e.user_id(2))),
            ]
        )
    assert many[0] == chosen
    ids = [first, *many]
    commands = [orjson.loads(r.value) for r in await e2e.read(e2e.settings.commands_topic)]
    assert sorted(c["subject"] for c in commands) == sorted(str(i) for i in ids)
    assert {r.key.decode() for r in await e2e.read(e2e.settings.commands_topic)} == {
        str(i) for i in ids
    }

    assert e2e.start_worker("--burst").wait(timeout=60) == 0

    for request_id in ids:
        final = await wait_for_terminal(e2e.settings, request_id, timeout_s=15)
        assert isinstance(final, StateChanged)
        assert (final.request_id, final.state, final.sequence) == (request_id, "delivered", 3)

    # A duplicate of the first request's `submitted` event, and a synthetic request whose
    # sequence 2 is published before its sequence 1.
    published = e2e.by_request(await e2e.events())
    duplicate = published[str(first)][0]
    synthetic = str(uuid.uuid4())
    out_of_order = [_moved_to(published[str(first)][1], synthetic)]
    out_of_order.append(_moved_to(published[str(first)][0], synthetic))
    await _produce_events(e2e, [duplicate, *out_of_order])
    raw = [e for e in await e2e.events() if e["type"] == STATE_CHANGED]
    assert sum(e["id"] == duplicate["id"] for e in raw) == 2

    seen: dict[str, list[int]] = {}
    event_ids: list[str] = []
    wanted = [*ids, synthetic]
    stream = subscribe(e2e.settings, request_ids=wanted, from_beginning=True, timeout_s=4)
    async with aclosing(stream) as events:
        async for event in events:
            event_ids.append(event.id)
            if isinstance(event.data, StateChanged):
                seen.setdefault(event.subject, []).append(event.data.sequence)
    assert len(event_ids) == len(set(event_ids))
    assert {rid: seen[str(rid)] for rid in ids} == {rid: [1, 2, 3] for rid in ids}
    assert seen[synthetic] == [1, 2]


async def test_invalid_bodies_raise_and_produce_nothing(e2e: Any) -> None:
    """A body the domain parser refuses raises RequestValidationError naming the problem,
    and create_many refuses the whole batch before sending any of it."""
    e2e.prepare(e2e.catalog(1))
    async with AccessflowProducer(e2e.settings) as client:
        with pytest.raises(RequestValidationError) as refused:
            await client.create_request(e2e.user_id(0), {"requestType": "bogus"})
        assert refused.value.details
        with pytest.raises(RequestValidationError):
            await client.create_many(
                [
                    NewRequest(e2e.user_id(0), sales_body(e2e.user_id(0))),
                    NewRequest(e2e.user_id(0), {"requestType": "systemAdd", "assignment": {}}),
                ]
            )
        with pytest.raises(RequestValidationError):
            await client.create_request("", sales_body(e2e.user_id(0)))
    small = e2e.settings.model_copy(update={"max_command_bytes": 2_000})
    async with AccessflowProducer(small) as client:  # every field fits, the whole does not
        user = e2e.user_id(0)
        fine = NewRequest(user, sales_body(user))
        big = NewRequest(user, {**sales_body(user), "justification": "j" * 3_000})
        with pytest.raises(RequestValidationError, match="ACCESSFLOW_MAX_COMMAND_BYTES"):
            await client.create_many([fine, fine, big])
    assert await e2e.read(e2e.settings.commands_topic) == []


async def test_cancel_and_decide_produce_contract_commands_the_worker_applies(e2e: Any) -> None:
    """wait_for_terminal(until={"pendingApproval"}) stops at an open request, cancel() ends it
    canceled; decide() for a request that does not
    exist earns the worker's RequestNotFound rejection, not the DLQ."""
    catalog = e2e.catalog(2)
    catalog["assignmentPolicies"][0]["requestApprovalSettings"] = {
        "isApprovalRequiredForAdd": True,
        "stages": [
            {
                "durationBeforeAutomaticDenial": "P14D",
                "primaryApprovers": [
                    {"@odata.type": "#microsoft.graph.singleUser", "userId": e2e.user_id(1)}
                ],
            }
        ],
    }
    e2e.prepare(catalog)
    worker = e2e.start_worker()
    try:
        async with AccessflowProducer(e2e.settings) as client:
            rid = await client.create_request(e2e.user_id(0), sales_body(e2e.user_id(0)))
            state = await wait_for_terminal(e2e.settings, rid, 30, until={"pendingApproval"})
            assert state.state == "pendingApproval"
            await client.cancel(rid, e2e.user_id(0))
            state = await wait_for_terminal(e2e.settings, rid, 30)
            assert (state.state, state.sequence) == ("canceled", 3)
            ghost = uuid.uuid4()
            command_id = await client.decide(ghost, "stage-1", e2e.user_id(0), approve=True)
        async with aclosing(
            subscribe(e2e.settings, request_ids=[ghost], from_beginning=True, timeout_s=30)
        ) as events:
            async for event in events:
                assert event.type == "accessflow.command.rejected"
                assert event.data.model_dump(by_alias=True)["commandId"] == command_id
                assert event.data.model_dump(by_alias=True)["reason"]["code"] == ("RequestNotFound")
                break
            else:
                pytest.fail("no rejection for the decision on an unknown request")
    finally:
        assert worker.terminate() == 0
