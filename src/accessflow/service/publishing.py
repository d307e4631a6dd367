"""The port the outbox relay reads: committed events waiting to be published, and how a
batch of them is settled (deleted once the broker has them, or parked when it never will).

Two adapters implement it: PostgreSQL's (``adapters/postgres/relay_outbox.py``: an advisory
lock held by the session's connection, NOTIFY to wake the relay) and the in-memory store's
(``adapters/memory_outbox.py``), on which the relay is unit-tested with the memory broker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

#: Why a row waits in ``parked_events``: an earlier event of its request is parked.
BEHIND_PARKED = "BehindParked"


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    event_id: str
    event_type: str
    key: str
    payload: bytes
    #: An earlier event of its key (its request) is parked: this one must wait behind it.
    blocked: bool = False


@dataclass(frozen=True, slots=True)
class Parking:
    """An outbox row to park, and why."""

    outbox_id: int
    reason: str
    error_message: str


class OutboxSession(Protocol):
    """One relay's hold on the outbox; closing it gives up the lead."""

    async def lead(self) -> bool:
        """Take the lead if no other relay of this outbox holds it (one at a time keeps
        every request's events in order on the topic)."""

    async def fetch_unpublished(self, limit: int) -> list[OutboxRow]:
        """The oldest unpublished rows, in order."""

    async def settle(
        self, sent: Sequence[int], refused: Sequence[Parking], behind: Sequence[Parking]
    ) -> list[int]:
        """At once: delete ``sent``, park ``refused``, and park each of ``behind`` that still
        has an earlier parked event of its key. Returns the ids parked."""

    def is_closed(self) -> bool:
        """The session was lost (its connection closed): open another."""

    def close(self) -> None:
        """Drop the session at once (after a failure it may be stuck mid-operation)."""


class Outbox(Protocol):
    async def open(self, on_notify: Callable[[], None]) -> OutboxSession:
        """A session; ``on_notify`` is called when a transaction wrote events."""
