"""Response models for the OpenAPI document: what each operation answers, in Graph JSON.

Handlers build the JSON themselves (from the worker's stored Graph documents); these models
describe it. Properties are optional where ``$select`` can leave them out, and open to
additional properties (Graph's payloads carry annotations), so the document never promises
more than the API sends.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from accessflow.domain.create_body import CreateAssignmentRequest
from accessflow.domain.models.text import DecisionJustificationText


class _Graph(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class HistoryEntryResource(_Graph):
    """One transition of a request (accessflow's own: Graph has no such navigation)."""

    sequence: int
    previous_state: str | None = Field(alias="previousState")
    state: str
    status: str
    reason: dict[str, Any] | None
    causation_id: str = Field(alias="causationId")
    cause_type: str = Field(alias="causeType")
    occurred_date_time: str = Field(alias="occurredDateTime")


class AssignmentRequestResource(_Graph):
    """``microsoft.graph.accessPackageAssignmentRequest``."""

    odata_context: str | None = Field(default=None, alias="@odata.context")
    id: str
    request_type: str | None = Field(default=None, alias="requestType")
    state: str | None = None
    status: str | None = None
    created_date_time: str | None = Field(default=None, alias="createdDateTime")
    completed_date_time: str | None = Field(default=None, alias="completedDateTime")
    justification: str | None = None
    schedule: dict[str, Any] | None = None
    answers: list[dict[str, Any]] | None = None
    access_package: dict[str, Any] | None = Field(default=None, alias="accessPackage")
    assignment: dict[str, Any] | None = None
    requestor: dict[str, Any] | None = None
    history: list[HistoryEntryResource] | None = None


class AssignmentResource(_Graph):
    """``microsoft.graph.accessPackageAssignment``."""

    odata_context: str | None = Field(default=None, alias="@odata.context")
    id: str
    state: str | None = None
    status: str | None = None


class CatalogResource(_Graph):
    """``accessPackage`` or ``accessPackageAssignmentPolicy``, as the catalog file gave it."""

    id: str
    display_name: str | None = Field(default=None, alias="displayName")


class ApprovalStageResource(_Graph):
    id: str
    assigned_to_me: bool | None = Field(default=None, alias="assignedToMe")
    display_name: str | None = Field(default=None, alias="displayName")
    justification: str | None = None
    reviewed_by: dict[str, Any] | None = Field(default=None, alias="reviewedBy")
    reviewed_date_time: str | None = Field(default=None, alias="reviewedDateTime")
    review_result: str | None = Field(default=None, alias="reviewResult")
    status: str | None = None


class ApprovalResource(_Graph):
    odata_context: str | None = Field(default=None, alias="@odata.context")
    id: str
    stages: list[ApprovalStageResource] = Field(default_factory=list)


class _Collection(_Graph):
    odata_context: str = Field(alias="@odata.context")
    odata_count: int | None = Field(default=None, alias="@odata.count")
    next_link: str | None = Field(default=None, alias="@odata.nextLink")


class AssignmentRequestCollection(_Collection):
    value: list[AssignmentRequestResource]


class HistoryCollection(_Collection):
    value: list[HistoryEntryResource]


class AssignmentCollection(_Collection):
    value: list[AssignmentResource]


class CatalogCollection(_Collection):
    value: list[CatalogResource]


class ApprovalCollection(_Collection):
    value: list[ApprovalResource]


class ApprovalStageCollection(_Collection):
    value: list[ApprovalStageResource]


class StageDecision(BaseModel):
    """The body of ``PATCH …/accessPackageAssignmentApprovals/{id}/stages/{stageId}``; strict:
    an unknown property is an error, not a silently ignored typo."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    review_result: Literal["Approve", "Deny"] = Field(alias="reviewResult")
    justification: DecisionJustificationText | None = None

    @field_validator("review_result", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        if isinstance(value, str) and value.lower() in ("approve", "deny"):
            return value.capitalize()
        return value


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, bool] = Field(default_factory=dict)


#: Named component schemas of the create body, for the OpenAPI document.
CREATE_BODY_PREFIX = "CreateBody_"


def create_body_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON Schema of a create body (validation mode) and its definitions."""
    schema = CreateAssignmentRequest.model_json_schema(
        by_alias=True, ref_template="#/components/schemas/" + CREATE_BODY_PREFIX + "{model}"
    )
    definitions = {CREATE_BODY_PREFIX + k: v for k, v in schema.pop("$defs", {}).items()}
    return schema, definitions
