"""`accessflow dlq list|replay` and `accessflow events tail` as an operator runs them."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import subprocess
import sys
import uuid
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from accessflow.adapters.kafka.dlq import DeadLetter, reference_to
from accessflow.adapters.kafka.reading import following, read_all
from accessflow.adapters.kafka.topics import ensure_topics
from accessflow.settings import Settings

TRACEPARENT = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _accessflow(
    env: dict[str, str], *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "accessflow.entrypoints.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _json_lines(stdout: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in stdout.splitlines() if line.strip()]


async def _produce(
    settings: Settings, topic: str, records: list[tuple[bytes | None, bytes, list[Any]]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value, key=key, headers=headers)
            for key, value, headers in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def _letter(settings: Settings, key: bytes, value: bytes, code: str, n: int) -> DeadLetter:
    return DeadLetter(key, value, settings.commands_topic, n % 3, 100 + n, code, f"bad {n}")


@pytest.fixture
async def dead_letters(settings: Settings) -> list[DeadLetter]:
    """Four DLQ records as the worker writes them; the third also kept a traceparent header."""
    await ensure_topics(settings)
    letters = [
        _letter(settings, b"req-1", b"not json \xff", "NotJson", 0),
        _letter(settings, b"req-2", b'{"specversion": "1.0"}', "NotACommand", 1),
        _letter(settings, b"req-3", b"{broken", "NotJson", 2),
        _letter(settings, b"req-4", b"x" * 500, "TooLarge", 3),
    ]
    await _produce(
        settings,
        settings.dlq_topic,
        [
            (
                letter.key,
                letter.value or b"",
                [*letter.headers(), *([("traceparent", TRACEPARENT)] if i == 2 else [])],
            )
            for i, letter in enumerate(letters)
        ],
    )
    return letters


async def test_dlq_list_json_shows_codes_original_coordinates_and_bytes(
    settings: Settings, subprocess_env: dict[str, str], dead_letters: list[DeadLetter]
) -> None:
    """`dlq list --json` prints every DLQ record with its code, origin, key and exact bytes."""
    result = _accessflow(subprocess_env, "dlq", "list", "--json")
    assert result.returncode == 0, result.stderr
    listed = {entry["key"]: entry for entry in _json_lines(result.stdout)}
    assert set(listed) == {"req-1", "req-2", "req-3", "req-4"}
    for letter in dead_letters:
        entry = listed[(letter.key or b"").decode()]
        assert entry["code"] == letter.code
        assert entry["message"] == letter.message
        assert entry["originalTopic"] == settings.commands_topic
        assert (entry["originalPartition"], entry["originalOffset"]) == (
            letter.partition,
            letter.offset,
        )
        assert base64.b64decode(entry["valueBase64"]) == letter.value
        assert len(entry["preview"]) <= 80
    assert listed["req-3"]["headers"] == {"traceparent": TRACEPARENT.decode()}


async def test_dlq_list_filters_by_code_and_limits(
    subprocess_env: dict[str, str], dead_letters: list[DeadLetter]
) -> None:
    """`--code` keeps only that code; `--limit` caps the number of lines."""
    by_code = _accessflow(subprocess_env, "dlq", "list", "--json", "--code", "NotJson")
    assert by_code.returncode == 0, by_code.stderr
    assert sorted(e["key"] for e in _json_lines(by_code.stdout)) == ["req-1", "req-3"]

    limited = _accessflow(subprocess_env, "dlq", "list", "--json", "--limit", "1")
    assert limited.returncode == 0, limited.stderr
    assert len(_json_lines(limited.stdout)) == 1


async def test_dlq_replay_republishes_exactly_the_matching_originals(
    settings: Settings, subprocess_env: dict[str, str], dead_letters: list[DeadLetter]
) -> None:
    """`replay --code NotJson --yes` sends those records' key, bytes, own headers; no DLQ ones."""
    result = _accessflow(subprocess_env, "dlq", "replay", "--code", "NotJson", "--yes")
    assert result.returncode == 0, result.stderr
    assert "replayed 2 message(s)" in result.stdout

    replayed = {r.key: r for r in await read_all(settings, settings.commands_topic)}
    assert set(replayed) == {b"req-1", b"req-3"}
    assert replayed[b"req-1"].value == b"not json \xff"
    assert replayed[b"req-3"].value == b"{broken"
    headers = dict(replayed[b"req-3"].headers)
    assert headers["traceparent"] == TRACEPARENT
    assert headers["content-type"] == b"application/cloudevents+json"
    for record in replayed.values():
        assert not [k for k, _ in record.headers if k.startswith("accessflow-")]


async def test_dlq_replay_by_original_coordinates_selects_one(
    settings: Settings, subprocess_env: dict[str, str], dead_letters: list[DeadLetter]
) -> None:
    """`--original-partition` with `--original-offset` picks out a single record."""
    letter = dead_letters[1]
    result = _accessflow(
        subprocess_env,
        "dlq",
        "replay",
        "--original-partition",
        str(letter.partition),
        "--original-offset",
        str(letter.offset),
        "--yes",
    )
    assert result.returncode == 0, result.stderr
    assert [(r.key, r.value) for r in await read_all(settings, settings.commands_topic)] == [
        (letter.key, letter.value)
    ]


async def test_dlq_replay_dry_run_lists_and_publishes_nothing(
    settings: Settings, subprocess_env: dict[str, str], dead_letters: list[DeadLetter]
) -> None:
    """`--dry-run` prints the selection and leaves the commands topic empty."""
    result = _accessflow(subprocess_env, "dlq", "replay", "--all", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would replay 4 message(s)" in result.stdout
    assert await read_all(settings, settings.commands_topic) == []


async def test_dlq_replay_needs_a_filter_or_all_and_a_confirmation(
    settings: Settings, subprocess_env: dict[str, str], dead_letters: list[DeadLetter]
) -> None:
    """No filter is a usage error; without --yes a declined prompt publishes nothing."""
    bare = _accessflow(subprocess_env, "dlq", "replay")
    assert bare.returncode == 2
    assert "--all" in bare.stderr

    declined = _accessflow(subprocess_env, "dlq", "replay", "--all", stdin="n\n")
    assert declined.returncode != 0
    assert await read_all(settings, settings.commands_topic) == []


def _event(request_id: str, sequence: int, state: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "urn:accessflow:worker",
        "type": "accessflow.assignmentRequest.stateChanged",
        "subject": request_id,
        "time": f"2026-11-28T15:00:0{sequence}.000Z",
        "datacontenttype": "application/json",
        "data": {"requestId": request_id, "sequence": sequence, "state": state},
    }


async def _publish_events(settings: Settings, events: list[dict[str, Any]]) -> None:
    await _produce(
        settings,
        settings.events_topic,
        [(e["subject"].encode(), orjson.dumps(e), []) for e in events],
    )


async def test_events_tail_prints_exactly_the_events_of_one_request(
    settings: Settings, subprocess_env: dict[str, str]
) -> None:
    """`tail --request R --count 2 --json` prints R's 2 events, skipping others; junk warns."""
    await ensure_topics(settings)
    mine, other = str(uuid.uuid4()), str(uuid.uuid4())
    events = [
        _event(other, 1, "submitted"),
        _event(mine, 1, "submitted"),
        _event(other, 2, "delivering"),
        _event(mine, 2, "delivering"),
    ]
    await _publish_events(settings, events)
    await _produce(settings, settings.events_topic, [(mine.encode(), b"\x00junk", [])])

    result = _accessflow(
        subprocess_env,
        "events",
        "tail",
        "--from-beginning",
        "--json",
        "--request",
        mine,
        "--count",
        "2",
        "--timeout",
        "60",
    )
    assert result.returncode == 0, result.stderr
    printed = _json_lines(result.stdout)
    assert sorted(printed, key=lambda e: e["data"]["sequence"]) == [events[1], events[3]]


async def test_events_tail_warns_on_non_json_and_fails_when_count_not_reached(
    settings: Settings, subprocess_env: dict[str, str]
) -> None:
    """A record that is not JSON is a warning line; fewer than --count by --timeout exits 1."""
    await ensure_topics(settings)
    await _produce(settings, settings.events_topic, [(b"r", b"\x00junk", [])])
    result = _accessflow(
        subprocess_env, "events", "tail", "--from-beginning", "--count", "1", "--timeout", "3"
    )
    assert result.returncode == 1
    assert "is not a JSON event" in result.stderr
    assert "Traceback" not in result.stderr
    assert "0 of 1 events" in result.stderr


async def test_following_from_the_end_sees_only_what_is_published_after_entering(
    settings: Settings,
) -> None:
    """`following()` fixes the end on entry: older events are skipped, newer ones arrive."""
    await ensure_topics(settings)
    request = str(uuid.uuid4())
    await _publish_events(settings, [_event(request, 1, "submitted")])
    async with following(settings, settings.events_topic, timeout_s=60) as records:
        await _publish_events(settings, [_event(request, 2, "delivering")])
        record = await anext(records)
    assert orjson.loads(record.value)["data"]["sequence"] == 2


@pytest.fixture
async def with_reference(settings: Settings) -> DeadLetter:
    """A copy and a reference (a 2 MB record that could not fit), as the worker writes them."""
    await ensure_topics(settings)
    big = _letter(settings, b"req-big", b"{" * 2_000_000, "TooLarge", 7)
    copy = _letter(settings, b"req-small", b"not json", "NotJson", 8)
    reference = reference_to(big, "the copy is too large")
    await _produce(
        settings,
        settings.dlq_topic,
        [
            (reference.key, reference.value or b"", reference.headers),
            (copy.key, copy.value or b"", copy.headers()),
        ],
    )
    return big


async def test_dlq_list_shows_a_reference_as_one(
    subprocess_env: dict[str, str], with_reference: DeadLetter
) -> None:
    listed = _accessflow(subprocess_env, "dlq", "list", "--json", "--key", "req-big")
    assert listed.returncode == 0, listed.stderr
    [entry] = _json_lines(listed.stdout)
    value = with_reference.value or b""
    assert entry["reference"]["sizeBytes"] == len(value)
    assert entry["reference"]["sha256"] == hashlib.sha256(value).hexdigest()
    assert entry["code"] == "TooLarge"
    assert "accessflow-dlq-reference" not in entry["headers"]


async def test_dlq_replay_refuses_references_and_replays_the_rest(
    settings: Settings, subprocess_env: dict[str, str], with_reference: DeadLetter
) -> None:
    only_reference = _accessflow(subprocess_env, "dlq", "replay", "--key", "req-big", "--yes")
    assert only_reference.returncode == 1
    assert "references to records too large for the DLQ" in only_reference.stderr
    assert "REFERENCE to" in only_reference.stderr

    both = _accessflow(subprocess_env, "dlq", "replay", "--all", "--yes")
    assert both.returncode == 0, both.stderr
    assert "replayed 1 message(s)" in both.stdout
    assert "not replayable" in both.stderr
    replayed = await read_all(settings, settings.commands_topic)
    assert [(r.key, r.value) for r in replayed] == [(b"req-small", b"not json")]
