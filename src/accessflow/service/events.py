"""The events accessflow publishes (wire contract v1), and their deterministic ids.

Outbound models are strict (``extra="forbid"``): what goes on the wire is exactly what the
contract and the checked-in JSON Schemas say.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from accessflow.service.ids import uuid5

STATE_CHANGED = "accessflow.assignmentRequest.stateChanged"
COMMAND_REJECTED = "accessflow.command.rejected"
ASSIGNMENT_CHANGED = "accessflow.assignment.stateChanged"
WORKER_SOURCE = "urn:accessflow:worker"

# Fixed for the life of contract v1: consumers may recompute ids from (requestId, sequence).
EVENT_ID_NAMESPACE = uuid.UUID("3c8e0b8a-6a2f-5b0e-9a57-8d1f4f7e2a61")


def event_uuid(name: str) -> uuid.UUID:
    """``uuid.uuid5(EVENT_ID_NAMESPACE, name)``: the worker makes four per request."""
    return uuid5(EVENT_ID_NAMESPACE, name)


def state_changed_event_id(request_id: uuid.UUID | str, sequence: int) -> uuid.UUID:
    """UUIDv5 of ``"{requestId}:{sequence}"``: a re-published event keeps its id."""
    return event_uuid(f"{str(request_id).lower()}:{sequence}")


def assignment_event_id(request_id: uuid.UUID | str, sequence: int) -> uuid.UUID:
    """The assignment change caused by transition ``sequence`` of request ``request_id``."""
    return event_uuid(f"assignment:{str(request_id).lower()}:{sequence}")


def rejection_event_id(command_id: str) -> uuid.UUID:
    """One rejection per command id, however often the command is redelivered."""
    return event_uuid(f"rejected:{command_id}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ReasonDetail(_Strict):
    target: str | None = Field(
        default=None,
        description="What the detail is about: the JSON path of an offending value in a "
        "rejection, the resource role scope id of a resource that failed delivery.",
    )
    message: str


class Reason(_Strict):
    """Why a request was denied, canceled, failed or partially delivered."""

    code: str = Field(description="Stable machine-readable reason code (see docs).")
    message: str
    details: list[ReasonDetail] = Field(
        default_factory=list,
        description="One entry per resource that failed, for partial or failed delivery.",
    )


class RejectionReason(_Strict):
    code: str
    message: str
    details: list[ReasonDetail] = Field(default_factory=list)


class StateChanged(_Strict):
    """data of ``accessflow.assignmentRequest.stateChanged``."""

    request_id: uuid.UUID = Field(alias="requestId")
    sequence: int = Field(ge=1)
    previous_state: str | None = Field(alias="previousState")
    state: str
    status: str
    causation_id: str = Field(alias="causationId")
    reason: Reason | None = None
    request: dict[str, Any] = Field(
        description="The full Graph v1.0 accessPackageAssignmentRequest, as GET returns it."
    )


class CommandRejected(_Strict):
    """data of ``accessflow.command.rejected``."""

    command_id: str = Field(alias="commandId")
    command_type: str = Field(alias="commandType")
    reason: RejectionReason


class AssignmentChanged(_Strict):
    """data of ``accessflow.assignment.stateChanged``: an assignment was created or its state
    changed (delivered, partiallyDelivered, deliveryFailed, expired)."""

    assignment_id: str = Field(alias="assignmentId")
    request_id: uuid.UUID = Field(alias="requestId", description="The request that caused it.")
    previous_state: str | None = Field(alias="previousState")
    state: str
    assignment: dict[str, Any] = Field(
        description="The Graph v1.0 accessPackageAssignment, as GET returns it."
    )


class EventEnvelope(_Strict):
    """A CloudEvents 1.0 structured-mode event as accessflow publishes it."""

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str = WORKER_SOURCE
    type: Literal[
        "accessflow.assignmentRequest.stateChanged",
        "accessflow.command.rejected",
        "accessflow.assignment.stateChanged",
    ]
    subject: str
    time: str = Field(description="RFC 3339, UTC, millisecond precision, Z suffix.")
    datacontenttype: Literal["application/json"] = "application/json"
    traceparent: str | None = None
    data: StateChanged | CommandRejected | AssignmentChanged
