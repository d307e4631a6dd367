"""The client's subscriber: each event once, each request's state changes in sequence."""

from __future__ import annotations

import uuid
from typing import Any

from accessflow.client.subscriber import EventOrderer
from accessflow.service.events import (
    COMMAND_REJECTED,
    STATE_CHANGED,
    EventEnvelope,
    rejection_event_id,
    state_changed_event_id,
)

R1 = uuid.UUID("11111111-1111-4111-8111-111111111111")
R2 = uuid.UUID("22222222-2222-4222-8222-222222222222")


def change(request_id: uuid.UUID, sequence: int) -> EventEnvelope:
    data: dict[str, Any] = {
        "requestId": str(request_id),
        "sequence": sequence,
        "previousState": None,
        "state": "submitted",
        "status": "Accepted",
        "causationId": "c",
        "request": {},
    }
    return EventEnvelope.model_validate(
        {
            "id": str(state_changed_event_id(request_id, sequence)),
            "type": STATE_CHANGED,
            "subject": str(request_id),
            "time": "2026-11-28T15:00:00.000Z",
            "data": data,
        }
    )


def rejection(request_id: uuid.UUID) -> EventEnvelope:
    data = {"commandId": "x", "commandType": "t", "reason": {"code": "C", "message": "m"}}
    return EventEnvelope.model_validate(
        {
            "id": str(rejection_event_id("x")),
            "type": COMMAND_REJECTED,
            "subject": str(request_id),
            "time": "2026-11-28T15:00:00.000Z",
            "data": data,
        }
    )


def run(orderer: EventOrderer, *events: EventEnvelope) -> list[tuple[str, int]]:
    out = [e for event in events for e in orderer.push(event)]
    return [(e.subject, getattr(e.data, "sequence", 0)) for e in out]


def test_out_of_order_changes_come_out_in_sequence() -> None:
    orderer = EventOrderer(from_beginning=True)
    assert run(orderer, change(R1, 2), change(R1, 3)) == []
    assert run(orderer, change(R1, 1)) == [(str(R1), 1), (str(R1), 2), (str(R1), 3)]


def test_a_duplicate_and_a_late_copy_are_dropped() -> None:
    orderer = EventOrderer(from_beginning=True)
    assert run(orderer, change(R1, 1), change(R1, 1), change(R1, 2)) == [
        (str(R1), 1),
        (str(R1), 2),
    ]
    fresh = EventOrderer(from_beginning=True)
    run(fresh, change(R1, 1), change(R1, 2))
    # A copy with a new id but an old sequence (re-published under another id) is late.
    late = change(R1, 1).model_copy(update={"id": str(uuid.uuid4())})
    assert run(fresh, late) == []


def test_requests_are_ordered_independently_and_other_events_pass_through() -> None:
    orderer = EventOrderer(from_beginning=True)
    assert run(orderer, change(R2, 2), rejection(R1), change(R2, 1)) == [
        (str(R1), 0),
        (str(R2), 1),
        (str(R2), 2),
    ]


def test_following_from_the_end_starts_at_the_first_sequence_seen() -> None:
    """A live subscription joins mid-stream: the first change it sees starts the order."""
    orderer = EventOrderer(from_beginning=False)
    assert run(orderer, change(R1, 5), change(R1, 7), change(R1, 6)) == [
        (str(R1), 5),
        (str(R1), 6),
        (str(R1), 7),
    ]


def test_a_gap_longer_than_the_buffer_is_released_in_order() -> None:
    """Held events are bounded: past max_buffered they come out in order, the gap skipped."""
    orderer = EventOrderer(from_beginning=True, max_buffered=2)
    assert run(orderer, change(R1, 3), change(R1, 4)) == []
    assert run(orderer, change(R1, 5)) == [(str(R1), 3), (str(R1), 4), (str(R1), 5)]
    assert run(orderer, change(R1, 6)) == [(str(R1), 6)]


def test_flush_releases_what_is_held() -> None:
    orderer = EventOrderer(from_beginning=True)
    run(orderer, change(R1, 3), change(R1, 2))
    assert [(e.subject, e.data.sequence) for e in orderer.flush()] == [  # type: ignore[union-attr]
        (str(R1), 2),
        (str(R1), 3),
    ]
