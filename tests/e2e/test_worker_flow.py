"""The worker as users run it: commands in, requests delivered, events out, bad input kept."""

from __future__ import annotations

import orjson

N = 40


async def test_create_commands_are_delivered_with_three_events_each(e2e) -> None:
    """N creates → each request delivered; events submitted, delivering, delivered (seq 1..3);
    an assignment and a group membership per target."""
    e2e.prepare(e2e.catalog(N))
    commands = [e2e.create_command(e2e.user_id(n)) for n in range(N)]
    await e2e.produce_commands(commands)
    assert e2e.start_worker("--burst").wait(timeout=120) == 0

    events = e2e.by_request(await e2e.events())
    assert set(events) == {c["subject"] for c in commands}
    for request_events in events.values():
        assert [e["data"]["state"] for e in request_events] == [
            "submitted",
            "delivering",
            "delivered",
        ]
        assert [e["data"]["sequence"] for e in request_events] == [1, 2, 3]
        assert request_events[-1]["data"]["request"]["status"] == "Delivered"
        assert request_events[-1]["data"]["request"]["completedDateTime"] is not None
    assignments = await e2e.query("SELECT target_id, state FROM assignments")
    assert sorted(tuple(r) for r in assignments) == sorted(
        (e2e.user_id(n), "delivered") for n in range(N)
    )
    members = await e2e.query("SELECT user_id FROM group_members WHERE source = 'accessflow'")
    assert {r["user_id"] for r in members} == {e2e.user_id(n) for n in range(N)}


async def test_a_command_sent_three_times_has_one_effect(e2e) -> None:
    """The same command id thrice (one batch and a later one) → one request, one event set."""
    e2e.prepare(e2e.catalog(2))
    command = e2e.create_command(e2e.user_id(0))
    await e2e.produce_commands([command, command])
    assert e2e.start_worker("--burst").wait(timeout=120) == 0
    await e2e.produce_commands([command])
    assert e2e.start_worker("--burst").wait(timeout=120) == 0

    events = await e2e.events()
    assert [e["type"] for e in events] == ["accessflow.assignmentRequest.stateChanged"] * 2 + [
        "accessflow.assignment.stateChanged",
        "accessflow.assignmentRequest.stateChanged",
    ]
    assert len({e["id"] for e in events}) == 4
    rows = await e2e.query("SELECT count(*) AS n FROM assignment_requests")
    assert rows[0]["n"] == 1


async def test_poison_records_go_to_the_dlq_and_the_worker_goes_on(e2e) -> None:
    """Not JSON, invalid UTF-8, no envelope, oversize, tombstone → DLQ with the contract's
    headers and the original bytes; bad data in a valid envelope → a rejection event; a good
    command after them is still delivered."""
    e2e.prepare(e2e.catalog(2))
    e2e.env["ACCESSFLOW_MAX_COMMAND_BYTES"] = "20000"
    good = e2e.create_command(e2e.user_id(0))
    bad_data = e2e.create_command(e2e.user_id(1))
    bad_data["data"]["request"]["requestType"] = "systemAdd"
    poison = [
        (b"k1", b"not json at all"),
        (b"k2", b"\xff\xfe\xfa invalid utf-8"),
        (b"k3", orjson.dumps({"hello": "world"})),
        (b"k4", orjson.dumps({"pad": "x" * 30000})),
        (b"k5", None),
    ]
    await e2e.produce(poison, headers=[("traceparent", b"00-abc-def-01")])
    await e2e.produce_commands([bad_data, good])
    assert e2e.start_worker("--burst").wait(timeout=120) == 0

    dlq = await e2e.read(e2e.settings.dlq_topic)
    by_key = {r.key: r for r in dlq}
    assert set(by_key) == {b"k1", b"k2", b"k3", b"k4", b"k5"}
    codes = {r.key: dict(r.headers)["accessflow-error-code"] for r in dlq}
    assert codes == {
        b"k1": b"NotJson",
        b"k2": b"NotUtf8",
        b"k3": b"NotACommand",
        b"k4": b"TooLarge",
        b"k5": b"EmptyRecord",
    }
    for key, value in poison:
        headers = dict(by_key[key].headers)
        assert by_key[key].value == value
        assert headers["traceparent"] == b"00-abc-def-01"  # the record's own headers kept
        assert headers["accessflow-original-topic"] == e2e.settings.commands_topic.encode()
        assert {
            "accessflow-original-partition",
            "accessflow-original-offset",
            "accessflow-error-message",
        } <= set(headers)

    events = await e2e.events()
    rejected = [e for e in events if e["type"] == "accessflow.command.rejected"]
    assert [r["data"]["reason"]["code"] for r in rejected] == ["RequestTypeNotSupported"]
    assert rejected[0]["subject"] == bad_data["subject"]
    delivered = e2e.by_request(events)[good["subject"]]
    assert delivered[-1]["data"]["state"] == "delivered"


async def test_a_command_postgres_refuses_is_isolated_and_the_poll_commits(e2e) -> None:
    """A command that passes validation but that PostgreSQL refuses every time (here a CHECK
    constraint the test adds: SQLSTATE 23514, the class of data errors no retry fixes)
    goes to the DLQ as ProcessingFailed with a rejection event; the commands beside it in
    the same poll are delivered and the worker carries on to the end."""
    e2e.prepare(e2e.catalog(3))
    good, poisoned, after = (e2e.create_command(e2e.user_id(n)) for n in range(3))
    await e2e.query(
        "ALTER TABLE assignment_requests ADD CONSTRAINT e2e_refuses_one "
        f"CHECK (id <> '{poisoned['subject']}')"
    )
    await e2e.produce_commands([good, poisoned, after])
    assert e2e.start_worker("--burst").wait(timeout=120) == 0

    [dead] = await e2e.read(e2e.settings.dlq_topic)
    headers = dict(dead.headers)
    assert headers["accessflow-error-code"] == b"ProcessingFailed"
    assert b"CheckViolationError" in headers["accessflow-error-message"]
    assert orjson.loads(dead.value)["id"] == poisoned["id"]  # the original bytes
    events = await e2e.events()
    rejected = [e for e in events if e["type"] == "accessflow.command.rejected"]
    assert [(r["subject"], r["data"]["reason"]["code"]) for r in rejected] == [
        (poisoned["subject"], "ProcessingFailed")
    ]
    by_request = e2e.by_request(events)
    for command in (good, after):
        assert by_request[command["subject"]][-1]["data"]["state"] == "delivered"
    assert poisoned["subject"] not in by_request
