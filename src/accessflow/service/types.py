"""The decoded commands the handlers see: valid ones, and ones already known to be refused."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from accessflow.service.commands import CommandData
from accessflow.service.events import RejectionReason


@dataclass(frozen=True, slots=True)
class Command:
    id: str
    type: str
    source: str
    request_id: uuid.UUID
    time: datetime | None
    traceparent: str | None
    data: CommandData
    partition: int
    offset: int
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class Rejected:
    """A command that names its request but cannot be applied as sent (bad data, unknown
    type): answered with a rejection event keyed by that request."""

    id: str
    type: str
    request_id: uuid.UUID
    traceparent: str | None
    reason: RejectionReason
    partition: int
    offset: int
    timestamp_ms: int = 0


TIMER_FIRED = "accessflow.timer.fired"


@dataclass(frozen=True, slots=True)
class TimerFired:
    """A durable timer that came due; handled like a command (its id dedupes it)."""

    id: str
    request_id: uuid.UUID
    kind: str
    payload: dict[str, object]
    type: str = TIMER_FIRED
    traceparent: str | None = None
    partition: int = -1
    offset: int = -1
    timestamp_ms: int = 0


Item = Command | Rejected | TimerFired
