"""The commands accessflow accepts (wire contract v1): the CloudEvents envelope and the
``data`` of each command type.

Inbound models are tolerant: unknown attributes and fields are ignored, so producers can
add CloudEvents extensions or newer fields without breaking older workers.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from accessflow.domain import limits
from accessflow.domain.create_body import CreateAssignmentRequest
from accessflow.domain.models.base import format_utc
from accessflow.domain.models.text import DecisionJustificationText, IdText, Text
from accessflow.domain.rules import Caller

CREATE = "accessflow.assignmentRequest.create"
CANCEL = "accessflow.assignmentRequest.cancel"
REPROCESS = "accessflow.assignmentRequest.reprocess"
DECIDE = "accessflow.approvalStage.decide"
COMMAND_TYPES = (CREATE, CANCEL, REPROCESS, DECIDE)


class _Inbound(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class CommandEnvelope(_Inbound):
    """The CloudEvents 1.0 attributes every command carries; ``data`` is checked per type."""

    specversion: Literal["1.0"]
    id: Text = Field(min_length=1, max_length=256, description="The idempotency key.")
    source: Text = Field(min_length=1, max_length=1024)
    type: Text = Field(min_length=1, max_length=256)
    subject: uuid.UUID = Field(description="The requestId the command is about.")
    time: datetime | None = None
    datacontenttype: Text | None = Field(default=None, max_length=limits.MAX_SHORT_TEXT_CHARS)
    traceparent: Text | None = Field(default=None, max_length=55)
    # Checked per command type: a missing or malformed ``data`` still names its request,
    # so it earns a rejection event rather than the DLQ.
    data: Any = None


# The authenticated caller, as the producing service vouches for it: ``objectId`` and,
# for admin request types and actions, ``isAdmin``.
Requestor = Caller


class CreateData(_Inbound):
    request_id: uuid.UUID = Field(alias="requestId")
    requestor: Requestor
    request: CreateAssignmentRequest = Field(
        description="Exactly the body Microsoft Graph v1.0 accepts for POST "
        "/identityGovernance/entitlementManagement/assignmentRequests."
    )


class CancelData(_Inbound):
    request_id: uuid.UUID = Field(alias="requestId")
    requestor: Requestor


class ReprocessData(_Inbound):
    request_id: uuid.UUID = Field(alias="requestId")
    requestor: Requestor


class DecideData(_Inbound):
    request_id: uuid.UUID = Field(alias="requestId")
    stage_id: IdText = Field(alias="stageId", min_length=1)
    review_result: Literal["Approve", "Deny"] = Field(alias="reviewResult")
    justification: DecisionJustificationText | None = None
    reviewer: Requestor

    @field_validator("review_result", mode="before")
    @classmethod
    def _case_insensitive(cls, value: object) -> object:
        # Graph's own examples mix casings; accept any, store the canonical form.
        if isinstance(value, str) and value.lower() in ("approve", "deny"):
            return value.capitalize()
        return value


CommandData = CreateData | CancelData | ReprocessData | DecideData
DATA_MODELS: dict[str, type[CommandData]] = {
    CREATE: CreateData,
    CANCEL: CancelData,
    REPROCESS: ReprocessData,
    DECIDE: DecideData,
}


def command_envelope(
    command_type: str,
    request_id: uuid.UUID | str,
    data: dict[str, Any],
    *,
    source: str,
    command_id: str | None = None,
    time: datetime | None = None,
    traceparent: str | None = None,
) -> dict[str, Any]:
    """A wire-contract command as a JSON-ready dict: the one way accessflow's own producers
    (API, CLI, client, demo, benchmarks) build them."""
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": command_id or str(uuid.uuid4()),
        "source": source,
        "type": command_type,
        "subject": str(request_id),
        "datacontenttype": "application/json",
        "data": {"requestId": str(request_id), **data},
    }
    if time is not None:
        envelope["time"] = format_utc(time)
    if traceparent:
        envelope["traceparent"] = traceparent
    return envelope


def create_command(
    requestor: str,
    request: dict[str, Any],
    *,
    source: str,
    request_id: uuid.UUID | str | None = None,
    is_admin: bool = False,
    command_id: str | None = None,
) -> dict[str, Any]:
    """``accessflow.assignmentRequest.create`` for a Graph create body, asked by ``requestor``."""
    caller: dict[str, Any] = {"objectId": requestor}
    if is_admin:
        caller["isAdmin"] = True
    return command_envelope(
        CREATE,
        request_id or uuid.uuid4(),
        {"requestor": caller, "request": request},
        source=source,
        command_id=command_id,
    )
