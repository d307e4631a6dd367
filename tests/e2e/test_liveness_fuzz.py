"""Liveness under bad input: whatever lands on the commands topic, the next good command is
still delivered, its events are published and the outbox drains.

Hypothesis writes batches of hostile records onto the commands topic of one long-running
``accessflow worker``: random bytes; CloudEvents envelopes with random or malformed data;
records up to and past ``max_command_bytes``, plain and gzip (small on the wire, inflating
past the limit); odd keys and headers (none, huge, binary); creates whose strings carry NUL
or a huge justification. After each batch a normal create (a probe) must end ``delivered``
with the outbox drained and every record consumed (the worker's committed offsets at the
topic's end); at the end every probe's three state events must be on the events
topic. The worker is shared by every example, so shrinking would replay examples against a
worker the failing one already changed: the first failing batch is what hypothesis reports.

``ACCESSFLOW_FUZZ_SCALE`` multiplies the number of batches (default 1: 25 batches).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import MessageSizeTooLargeError
from hypothesis import HealthCheck, Phase, example, given, note, settings
from hypothesis import strategies as st

from accessflow.service.commands import COMMAND_TYPES

EXAMPLES = int(25 * float(os.environ.get("ACCESSFLOW_FUZZ_SCALE", "1")))
EXPLICIT = 6  # the @example batches below
PROBES = EXAMPLES + EXPLICIT + 5  # a probe user per batch (each asks once), and a margin
FUZZ_USERS = 20  # users the generated creates name (real ones, so their data reaches SQL)
MAX_COMMAND_BYTES = 1_048_576  # the worker's default max_command_bytes
#: What a plain record may weigh for the broker to take it (its message.max.bytes is 1 MiB
#: plus a few bytes for the batch): values past MAX_COMMAND_BYTES arrive only compressed.
PLAIN_LIMIT = 1_048_400
INFLATED_LIMIT = 3 * 2**20  # gzip records inflate up to this (about 3 KiB on the wire)
PROBE_SECONDS = 30.0

T = TypeVar("T")


@dataclass(frozen=True)
class FuzzRecord:
    value: bytes | None
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    compressed: bool = False
    what: str = "bytes"

    def __repr__(self) -> str:  # a megabyte of padding would bury the report
        def brief(data: bytes | None) -> str:
            if data is None:
                return "None"
            digest = hashlib.sha256(data).hexdigest()[:12]
            return f"{len(data)} bytes {data[:80]!r}… sha256:{digest}"

        headers = [(k[:40], len(v)) for k, v in self.headers]
        return (
            f"FuzzRecord({self.what}, gzip={self.compressed}, value={brief(self.value)}, "
            f"key={brief(self.key)}, headers={headers})"
        )


# ---- strategies -------------------------------------------------------------------------

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)  # JSON-encodable
with_nul = st.builds(lambda a, b: f"{a}\x00{b}", text, text)
json_numbers = st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False)  # orjson's range
json_values = st.recursive(
    st.none() | st.booleans() | json_numbers | text | with_nul,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
odd_keys = st.one_of(
    st.none(), st.binary(max_size=64), st.integers(1024, 64 * 1024).map(lambda n: b"k" * n)
)
odd_headers = st.lists(
    st.tuples(
        st.one_of(text, st.sampled_from(["traceparent", "content-type", "accessflow-error-code"])),
        st.one_of(st.binary(max_size=256), st.integers(1024, 32 * 1024).map(lambda n: b"h" * n)),
    ),
    max_size=4,
).map(tuple)


def fuzz_user(n: int) -> str:
    return str(uuid.UUID(int=0xE2E0_0000_0000_4000_8000_0000_0000_0000 + PROBES + n))


def create_envelope(target: str, **request: Any) -> dict[str, Any]:
    request_id = str(uuid.uuid4())
    body = {
        "requestType": "userAdd",
        "justification": "fuzz",
        "assignment": {
            "accessPackageId": "a914b616-e04e-476b-aa37-91038f0b165b",
            "assignmentPolicyId": "2264bf65-76ba-417b-a27d-54d291f0cbc8",
            "targetId": target,
        },
        **request,
    }
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "urn:accessflow:fuzz",
        "type": "accessflow.assignmentRequest.create",
        "subject": request_id,
        "data": {"requestId": request_id, "requestor": {"objectId": target}, "request": body},
    }


@st.composite
def hostile_creates(draw: st.DrawFn) -> FuzzRecord:
    """A create for a real user with one hostile string: NUL somewhere, or a huge
    justification (past the limit only compressed)."""
    envelope = create_envelope(fuzz_user(draw(st.integers(0, FUZZ_USERS - 1))))
    request = envelope["data"]["request"]
    where = draw(st.sampled_from(["justification", "targetId", "requestor", "id", "huge"]))
    if where == "huge":
        compressed = draw(st.booleans())
        top = INFLATED_LIMIT if compressed else PLAIN_LIMIT
        return huge_create(draw(st.integers(MAX_COMMAND_BYTES // 2, top)), compressed=compressed)
    nul = draw(with_nul)
    if where == "justification":
        request["justification"] = nul
    elif where == "targetId":
        request["assignment"]["targetId"] = nul
    elif where == "requestor":
        envelope["data"]["requestor"]["objectId"] = nul
    else:
        envelope["id"] = nul
    return FuzzRecord(orjson.dumps(envelope), what=f"create, NUL in {where}")


envelopes = st.fixed_dictionaries(
    {
        "specversion": st.one_of(st.just("1.0"), text),
        "id": st.one_of(text, with_nul, st.uuids().map(str)),
        "source": st.one_of(st.just("urn:fuzz"), text),
        "type": st.one_of(st.sampled_from(COMMAND_TYPES), text),
        "subject": st.one_of(st.uuids().map(str), text),
        "data": json_values,
    },
    optional={"time": st.one_of(text, st.just("0001-01-01T00:00:00+14:00")), "traceparent": text},
).map(lambda e: FuzzRecord(orjson.dumps(e), what="envelope"))


@st.composite
def sized(draw: st.DrawFn) -> FuzzRecord:
    """Padding (not JSON, or JSON that is no command) of a size near and past the limit."""
    compressed = draw(st.booleans())
    low, high = (
        (MAX_COMMAND_BYTES - 4096, INFLATED_LIMIT)
        if compressed
        else (PLAIN_LIMIT - 8192, PLAIN_LIMIT)
    )
    size = draw(st.integers(low, high))
    shape = draw(st.sampled_from(["bytes", "json"]))
    value = b"x" * size if shape == "bytes" else orjson.dumps({"pad": "x" * (size - 10)})
    return FuzzRecord(value, compressed=compressed, what=f"sized {shape}")


records = st.one_of(
    st.builds(FuzzRecord, st.binary(max_size=512), odd_keys, odd_headers, st.booleans()),
    st.builds(FuzzRecord, st.none(), odd_keys.filter(bool), odd_headers, what=st.just("tombstone")),
    envelopes,
    hostile_creates(),
    sized(),
)
batches = st.lists(records, min_size=2, max_size=10)


# ---- the pipeline under test ------------------------------------------------------------


class Background:
    """An event loop in a thread of its own: the hypothesis test is synchronous, its Kafka
    and PostgreSQL clients are not."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, work: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@dataclass
class Pipeline:
    e2e: Any
    worker: Any
    background: Background
    producers: dict[bool, AIOKafkaProducer] = field(default_factory=dict)
    conn: asyncpg.Connection | None = None
    admin: Any = None
    ends: Any = None
    partitions: list[TopicPartition] = field(default_factory=list)
    probes: list[str] = field(default_factory=list)

    async def start(self) -> None:
        servers = self.e2e.settings.kafka_bootstrap_servers
        self.producers = {
            False: AIOKafkaProducer(bootstrap_servers=servers),
            # The producer's own size check is on uncompressed bytes; the broker's is not.
            True: AIOKafkaProducer(
                bootstrap_servers=servers, compression_type="gzip", max_request_size=16 * 2**20
            ),
        }
        for producer in self.producers.values():
            await producer.start()
        self.admin = AIOKafkaAdminClient(bootstrap_servers=servers)
        await self.admin.start()
        self.ends = AIOKafkaConsumer(bootstrap_servers=servers)
        await self.ends.start()
        topic = self.e2e.settings.commands_topic
        count = len(await self.producers[False].partitions_for(topic))
        self.partitions = [TopicPartition(topic, p) for p in range(count)]
        settings = self.e2e.settings
        self.conn = await asyncpg.connect(
            settings.dsn, server_settings={"search_path": settings.database_schema}
        )

    async def stop(self) -> None:
        for producer in self.producers.values():
            await producer.stop()
        await self.admin.close()
        await self.ends.stop()
        if self.conn is not None:
            await self.conn.close()

    async def send(self, batch: list[FuzzRecord]) -> None:
        """Write the batch. The commands topic ``migrate`` creates stores records
        uncompressed, so the broker inflates a compressed batch on the way in and refuses one
        past its ``max.message.bytes``: that refusal at the door is a clear answer too, and
        the only one accepted here. Compressed records go one per batch, so a refusal names
        the record it is about."""
        topic = self.e2e.settings.commands_topic
        futures = []
        for r in batch:
            sent = await self.producers[r.compressed].send(
                topic, r.value, key=r.key, headers=list(r.headers)
            )
            if not r.compressed:
                futures.append(sent)
                continue
            try:
                await sent
            except MessageSizeTooLargeError:
                assert r.value is not None, r
                assert len(r.value) > PLAIN_LIMIT, r  # only what inflates past the limit
        await asyncio.gather(*futures)

    async def probe(self) -> None:
        """A normal create after the batch: delivered, no event left unpublished, and no
        record left unconsumed."""
        command = self.e2e.create_command(self.e2e.user_id(len(self.probes)))
        self.probes.append(command["subject"])
        topic = self.e2e.settings.commands_topic
        key = command["subject"].encode()
        await (await self.producers[False].send(topic, orjson.dumps(command), key=key))
        request_id = uuid.UUID(command["subject"])
        state = await self._wait_for(
            "SELECT state FROM assignment_requests WHERE id = $1", request_id, "delivered"
        )
        assert state == "delivered", f"probe {request_id} is {state}, not delivered{self.why()}"
        backlog = await self._wait_for("SELECT count(*) FROM outbox", None, 0)
        assert backlog == 0, f"{backlog} events are still unpublished{self.why()}"
        behind = await self._wait_until_consumed()
        assert not behind, f"records not consumed, (partition, lag): {behind}{self.why()}"

    async def _wait_until_consumed(self) -> list[tuple[int, int]]:
        """Every record of the batch was consumed (handled, rejected or dead-lettered) and
        its offset committed: nothing waits behind a record the worker cannot get past."""
        settings = self.e2e.settings
        deadline = time.monotonic() + PROBE_SECONDS
        while True:
            committed = await self.admin.list_consumer_group_offsets(settings.consumer_group_id)
            done = {tp: meta.offset for tp, meta in committed.items()}
            ends = await self.ends.end_offsets(self.partitions)
            behind = [
                (tp.partition, end - done.get(tp, 0))
                for tp, end in ends.items()
                if end > done.get(tp, 0)
            ]
            if not behind or time.monotonic() > deadline:
                return behind
            await asyncio.sleep(0.05)  # polling the worker's commits, bounded by the deadline

    def why(self) -> str:
        """The worker's last complaints, for the failure message."""
        lines = [
            str(line)[:300]
            for line in self.worker.lines()
            if line.get("level") in ("warning", "error", "critical")
        ]
        return "".join(f"\n  worker: {line}" for line in lines[-8:])

    async def _wait_for(self, query: str, arg: Any, wanted: Any) -> Any:
        assert self.conn is not None
        args = () if arg is None else (arg,)
        deadline = time.monotonic() + PROBE_SECONDS
        while True:
            value = await self.conn.fetchval(query, *args)
            if value == wanted or time.monotonic() > deadline:
                return value
            assert self.worker.running(), "the worker exited"
            await asyncio.sleep(0.05)  # polling the worker's progress, bounded by the deadline


@pytest.fixture(scope="module")
def pipeline(e2e_module: Any) -> Iterator[Pipeline]:
    e2e_module.prepare(e2e_module.catalog(PROBES + FUZZ_USERS))
    worker = e2e_module.start_worker()
    background = Background()
    running = Pipeline(e2e_module, worker, background)
    try:
        background.run(running.start())
        yield running
    finally:
        background.run(running.stop())
        background.close()


def gzip_of(size: int) -> FuzzRecord:
    return FuzzRecord(b"x" * size, compressed=True, what="sized bytes")


def huge_create(size: int, *, compressed: bool) -> FuzzRecord:
    """A create of ``size`` bytes, nearly all of it justification: just under the limit,
    its events (which carry the request) are larger than the command."""
    envelope = create_envelope(fuzz_user(0), justification="")
    padding = size - len(orjson.dumps(envelope))
    envelope["data"]["request"]["justification"] = "j" * padding
    return FuzzRecord(orjson.dumps(envelope), compressed=compressed, what="huge create")


def nul_create(where: str) -> FuzzRecord:
    envelope = create_envelope(fuzz_user(1))
    if where == "justification":
        envelope["data"]["request"]["justification"] = "before\x00after"
    else:  # the command's id: a rejection of the command is keyed by it
        envelope["id"] = "\u00a4\x00\U000328b2"
    return FuzzRecord(orjson.dumps(envelope), what=f"create, NUL in {where}")


def test_no_record_stops_the_pipeline(pipeline: Pipeline) -> None:
    """Every batch is followed by a probe that must be delivered with the outbox drained;
    then every probe's submitted, delivering and delivered events are on the events topic."""

    @example(batch=[FuzzRecord(b"x" * (PLAIN_LIMIT - 100), what="just under the limit")])
    @example(batch=[gzip_of(MAX_COMMAND_BYTES + 1)])
    @example(batch=[gzip_of(INFLATED_LIMIT)])
    @example(batch=[nul_create("justification")])
    @example(batch=[nul_create("id")])
    @example(batch=[huge_create(PLAIN_LIMIT, compressed=False)])
    @given(batch=batches)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
    )
    def survives(batch: list[FuzzRecord]) -> None:
        note(f"batch: {batch!r}")
        pipeline.background.run(pipeline.send(batch))
        pipeline.background.run(pipeline.probe())

    survives()
    events = pipeline.e2e.by_request(pipeline.background.run(pipeline.e2e.events()))
    for request_id in pipeline.probes:
        states = [e["data"]["state"] for e in events.get(request_id, [])]
        assert states == ["submitted", "delivering", "delivered"], request_id
