"""Recording what a batch did: every transition becomes a history row and a state-changed
event in the outbox, every rejection a rejection event; each in the batch's :class:`Changes`.

Event payloads are built as plain dicts and serialised once with orjson: this runs three
times per request on the hot path. Their shape is pinned by the JSON Schemas generated from
:mod:`accessflow.service.events` and by tests that validate real payloads against them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson

from accessflow.domain import states
from accessflow.domain.enums import AssignmentState, RequestState
from accessflow.domain.limits import bounded_reason
from accessflow.domain.models.base import format_utc
from accessflow.domain.models.requests import AccessPackageAssignment, to_graph
from accessflow.service.events import (
    ASSIGNMENT_CHANGED,
    COMMAND_REJECTED,
    STATE_CHANGED,
    WORKER_SOURCE,
    RejectionReason,
    assignment_event_id,
    rejection_event_id,
    state_changed_event_id,
)
from accessflow.service.ports import (
    Changes,
    HistoryEntry,
    OutboxEvent,
    ProcessedCommand,
    StoredRequest,
)


def event_time(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as the contract's examples show."""
    return format_utc(moment.replace(microsecond=moment.microsecond // 1000 * 1000))


class Recorder:
    def __init__(self, changes: Changes, now: datetime) -> None:
        self.changes = changes
        self.now = now
        self._time = event_time(now)  # every event of the batch carries the batch's time

    def created(self, stored: StoredRequest, causation_id: str, traceparent: str | None) -> None:
        """The (new) → submitted move, already applied by ``states.submit``."""
        stored.is_new = True
        self.changes.requests[stored.id] = stored
        self._entered(stored, None, None, causation_id, traceparent)

    def move(
        self,
        stored: StoredRequest,
        target: RequestState,
        causation_id: str,
        traceparent: str | None,
        *,
        reason: dict[str, Any] | None = None,
        status: str | None = None,
    ) -> None:
        """Apply one transition through the state machine and record it."""
        previous = stored.request.state
        stored.request = states.transition(stored.request, target, now=self.now, status=status)
        stored.sequence += 1
        self.changes.requests[stored.id] = stored
        self._entered(stored, previous, reason, causation_id, traceparent)

    def restatus(
        self, stored: StoredRequest, status: str, causation_id: str, traceparent: str | None
    ) -> None:
        """A new status within the same state (an escalation): an event of its own."""
        state = stored.request.state
        stored.request = states.with_status(stored.request, status)
        stored.sequence += 1
        self.changes.requests[stored.id] = stored
        self._entered(stored, state, None, causation_id, traceparent)

    def _entered(
        self,
        stored: StoredRequest,
        previous: RequestState | None,
        reason: dict[str, Any] | None,
        causation_id: str,
        traceparent: str | None,
    ) -> None:
        request = stored.request
        status = request.status or states.default_status(request.state)
        if reason is not None:
            reason = bounded_reason(reason)  # it may quote answers, catalog and connectors
        self.changes.history.append(
            HistoryEntry(
                stored.id,
                stored.sequence,
                previous,
                request.state,
                status,
                reason,
                causation_id,
                self.now,
            )
        )
        data = {
            "requestId": request.id,
            "sequence": stored.sequence,
            "previousState": previous.value if previous is not None else None,
            "state": request.state.value,
            "status": status,
            "causationId": causation_id,
            "reason": reason,
            "request": to_graph(request),
        }
        event_id = state_changed_event_id(request.id, stored.sequence)
        self._event(event_id, STATE_CHANGED, request.id, data, traceparent)

    def assignment_changed(
        self,
        assignment: AccessPackageAssignment,
        previous: AssignmentState | None,
        cause: StoredRequest,
        traceparent: str | None,
        *,
        before_next_move: bool = True,
    ) -> None:
        """An assignment created or changed by the cause's coming outcome move (or, with
        ``before_next_move=False``, by the transition the cause has just made: an add whose
        grants wait on a connector shows its assignment ``delivering`` until it settles)."""
        state = assignment.state.value if assignment.state else None
        data = {
            "assignmentId": assignment.id,
            "requestId": cause.request.id,
            "previousState": previous.value if previous else None,
            "state": state,
            "assignment": to_graph(assignment),
        }
        # Keyed by the transition it goes with, so a redelivery can never add another.
        sequence = cause.sequence + 1 if before_next_move else cause.sequence
        event_id = assignment_event_id(cause.request.id, sequence)
        self._event(event_id, ASSIGNMENT_CHANGED, cause.request.id, data, traceparent)

    def rejected(
        self,
        command_id: str,
        command_type: str,
        request_id: uuid.UUID,
        reason: RejectionReason,
        traceparent: str | None,
    ) -> None:
        data = {
            "commandId": command_id,
            "commandType": command_type,
            "reason": bounded_reason(reason.model_dump(mode="json")),
        }
        event_id = rejection_event_id(command_id)
        self._event(event_id, COMMAND_REJECTED, str(request_id), data, traceparent)
        self.processed(command_id, command_type, request_id, f"rejected:{reason.code}")

    def processed(
        self, command_id: str, command_type: str, request_id: uuid.UUID | None, outcome: str
    ) -> None:
        self.changes.processed.append(
            ProcessedCommand(command_id, command_type, request_id, outcome)
        )

    def _event(
        self,
        event_id: uuid.UUID,
        event_type: str,
        subject: str,
        data: dict[str, Any],
        traceparent: str | None,
    ) -> None:
        envelope: dict[str, Any] = {
            "specversion": "1.0",
            "id": str(event_id),
            "source": WORKER_SOURCE,
            "type": event_type,
            "subject": subject,
            "time": self._time,
            "datacontenttype": "application/json",
            "data": data,
        }
        if traceparent:
            envelope["traceparent"] = traceparent
        self.changes.outbox.append(
            OutboxEvent(event_id, event_type, subject, orjson.dumps(envelope))
        )
