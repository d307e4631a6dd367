"""Read accessflow's events as typed :class:`EventEnvelope` objects, the way the contract asks
consumers to: deduped by event id, state changes in sequence order per request, unknown event
types skipped.

Ordering: a state change whose sequence is ahead of the next one expected for its request is
buffered until the gap fills. The buffer is bounded: when one request holds more than
``max_buffered`` (default 256) out-of-order events, or when the subscription ends (timeout),
the held events are yielded in sequence order anyway, skipping the gap. A state change older
than one already yielded for its request is dropped (it can only be a late copy). The next
sequence expected for a request is 1 when reading from the beginning; when following from the
end, the first state change seen for a request sets it.

Reading uses a group-less consumer (``adapters.kafka.reading``): subscribers never move any
consumer group's offsets, and every subscriber sees every event.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Collection, Iterator
from contextlib import aclosing, asynccontextmanager

import orjson
from aiokafka import ConsumerRecord
from pydantic import ValidationError

from accessflow.adapters.kafka.reading import following
from accessflow.service.events import (
    ASSIGNMENT_CHANGED,
    COMMAND_REJECTED,
    STATE_CHANGED,
    EventEnvelope,
    StateChanged,
)
from accessflow.settings_base import KafkaConnectionSettings

log = logging.getLogger(__name__)

KNOWN_TYPES = frozenset({STATE_CHANGED, COMMAND_REJECTED, ASSIGNMENT_CHANGED})
TERMINAL_STATES = frozenset(
    {"delivered", "denied", "canceled", "deliveryFailed", "partiallyDelivered"}
)
_SEEN_IDS = 100_000  # event ids remembered for dedupe (oldest forgotten first)


class EventOrderer:
    """The dedupe and per-request ordering of :func:`subscribe`, usable on its own."""

    def __init__(self, *, from_beginning: bool, max_buffered: int = 256) -> None:
        self.from_beginning = from_beginning
        self.max_buffered = max_buffered
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._next: dict[str, int] = {}
        self._held: dict[str, dict[int, EventEnvelope]] = {}

    def _first_time(self, event_id: str) -> bool:
        if event_id in self._seen:
            return False
        self._seen[event_id] = None
        if len(self._seen) > _SEEN_IDS:
            self._seen.popitem(last=False)
        return True

    def push(self, event: EventEnvelope) -> Iterator[EventEnvelope]:
        """The events that may be yielded now that ``event`` arrived (possibly none)."""
        if not self._first_time(event.id):
            return
        if not isinstance(event.data, StateChanged):
            yield event
            return
        key = str(event.data.request_id)
        sequence = event.data.sequence
        expected = self._next.get(key)
        if expected is None:
            expected = 1 if self.from_beginning else sequence
        if sequence < expected:
            return  # older than what was already yielded: a late copy
        held = self._held.setdefault(key, {})
        held.setdefault(sequence, event)
        while expected in held:
            yield held.pop(expected)
            expected += 1
        self._next[key] = expected
        if len(held) > self.max_buffered:
            yield from self._release(key)
        if not held:
            del self._held[key]

    def _release(self, key: str) -> Iterator[EventEnvelope]:
        held = self._held.pop(key, {})
        for sequence in sorted(held):
            yield held[sequence]
            self._next[key] = sequence + 1

    def flush(self) -> Iterator[EventEnvelope]:
        """Everything still held, in sequence order per request (gaps skipped)."""
        for key in list(self._held):
            yield from self._release(key)


def parse_event(record: ConsumerRecord) -> EventEnvelope | None:
    """The record as an EventEnvelope, or None for an unknown type or something malformed."""
    try:
        raw = orjson.loads(record.value or b"")
    except orjson.JSONDecodeError:
        log.warning("skipping a record that is not JSON at %s/%s", record.partition, record.offset)
        return None
    if not isinstance(raw, dict) or raw.get("type") not in KNOWN_TYPES:
        return None
    try:
        return EventEnvelope.model_validate(raw)
    except ValidationError as exc:
        log.warning("skipping an invalid %s event: %s", raw.get("type"), exc)
        return None


@asynccontextmanager
async def subscription(
    settings: KafkaConnectionSettings,
    *,
    request_ids: Collection[uuid.UUID | str] | None = None,
    from_beginning: bool = False,
    timeout_s: float | None = None,
    max_buffered: int = 256,
) -> AsyncIterator[AsyncGenerator[EventEnvelope, None]]:
    """Like :func:`subscribe`, but the topic positions are fixed when the block is entered:
    enter, produce, then iterate, and nothing produced in between is missed."""
    wanted = None if request_ids is None else {str(r).lower() for r in request_ids}
    async with following(
        settings, settings.events_topic, from_beginning=from_beginning, timeout_s=timeout_s
    ) as records:
        events = _ordered(
            records, wanted, EventOrderer(from_beginning=from_beginning, max_buffered=max_buffered)
        )
        async with aclosing(events):
            yield events


async def _ordered(
    records: AsyncGenerator[ConsumerRecord, None],
    wanted: set[str] | None,
    orderer: EventOrderer,
) -> AsyncGenerator[EventEnvelope, None]:
    async for record in records:
        event = parse_event(record)
        if event is None or (wanted is not None and event.subject.lower() not in wanted):
            continue
        for ready in orderer.push(event):
            yield ready
    for ready in orderer.flush():
        yield ready


async def subscribe(
    settings: KafkaConnectionSettings,
    *,
    request_ids: Collection[uuid.UUID | str] | None = None,
    from_beginning: bool = False,
    timeout_s: float | None = None,
    max_buffered: int = 256,
) -> AsyncGenerator[EventEnvelope, None]:
    """Typed events of the events topic as they arrive (only those of ``request_ids`` when
    given), deduped and ordered as the module docstring says. Runs until the caller stops, or
    ``timeout_s`` seconds. The topic positions are taken at the first iteration; use
    :func:`subscription` to take them before producing."""
    async with subscription(
        settings,
        request_ids=request_ids,
        from_beginning=from_beginning,
        timeout_s=timeout_s,
        max_buffered=max_buffered,
    ) as events:
        async for event in events:
            yield event


async def terminal_states(
    events: AsyncGenerator[EventEnvelope, None],
    request_ids: Collection[uuid.UUID | str],
    *,
    until: Collection[str] = (),
) -> AsyncGenerator[StateChanged, None]:
    """From a subscription's ``events``, the first terminal (or ``until``) state change of
    each of ``request_ids``, as they happen; ends when every one was seen or the events end."""
    stop_at = TERMINAL_STATES | set(until)
    waiting = {str(r).lower() for r in request_ids}
    async for event in events:
        data = event.data
        key = str(getattr(data, "request_id", "")).lower()
        if isinstance(data, StateChanged) and key in waiting and data.state in stop_at:
            waiting.discard(key)
            yield data
            if not waiting:
                return


async def wait_for_terminal(
    settings: KafkaConnectionSettings,
    request_id: uuid.UUID | str,
    timeout_s: float,
    *,
    until: Collection[str] = (),
    from_beginning: bool = True,
) -> StateChanged:
    """The request's first state change into a terminal state (delivered, denied, canceled,
    deliveryFailed, partiallyDelivered) or one of ``until`` (e.g. ``{"pendingApproval",
    "scheduled"}``). Reads the events topic from its beginning by default, so a request that
    already finished is found. Raises TimeoutError after ``timeout_s`` seconds."""
    async with (
        subscription(
            settings, request_ids=[request_id], from_beginning=from_beginning, timeout_s=timeout_s
        ) as events,
        aclosing(terminal_states(events, [request_id], until=until)) as found,
    ):
        async for state in found:
            return state
    raise TimeoutError(f"request {request_id} reached no terminal state in {timeout_s}s")
