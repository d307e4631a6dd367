"""Parsing the body of ``POST /identityGovernance/entitlementManagement/assignmentRequests``.

The body is exactly what Graph v1.0 accepts (spec §3.1, §3.2), with Graph's own tolerances:
enum values in any case (``UserAdd``), the beta name ``accessPackageAssignment`` for
``assignment``, unknown properties ignored (example 9 sends ``schedule.stopDateTime``), and
both the flat (``assignment.accessPackageId``) and navigation (``assignment.accessPackage.id``)
references. What it must contain depends on ``requestType``; :func:`shape_problems` holds
those rules so that an embedding model (a Kafka command's ``data.request``) gets them too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from accessflow.domain import limits
from accessflow.domain.codes import ReasonCode
from accessflow.domain.enums import CLIENT_REQUEST_TYPES, RequestType
from accessflow.domain.errors import ErrorDetail, RequestValidationError, format_loc
from accessflow.domain.models.base import InboundModel
from accessflow.domain.models.common import EntitlementManagementSchedule
from accessflow.domain.models.questions import AccessPackageAnswerString
from accessflow.domain.models.requests import AccessPackageAssignment, to_graph
from accessflow.domain.models.text import JustificationText

BETA_ASSIGNMENT = "accessPackageAssignment"
REQUEST_TYPE = "#microsoft.graph.accessPackageAssignmentRequest"
SHAPE_ERROR = "request_shape"
UNSUPPORTED_TYPE_ERROR = "request_type_not_supported"


class CreateAssignmentRequest(InboundModel):
    """A create body. Read-only properties (``id``, ``state``…) are ignored if sent;
    ``@odata.type``, which several Graph examples send, is kept."""

    odata_type: str | None = Field(default=None, alias="@odata.type")
    request_type: RequestType
    justification: JustificationText | None = None
    schedule: EntitlementManagementSchedule | None = None
    answers: list[AccessPackageAnswerString] | None = Field(
        default=None, max_length=limits.MAX_ANSWERS
    )
    assignment: AccessPackageAssignment

    @field_validator("odata_type", mode="before")
    @classmethod
    def _is_a_request(cls, value: Any) -> Any:
        if value is None:
            return None
        if (
            isinstance(value, str)
            and value.removeprefix("#").casefold() == REQUEST_TYPE[1:].casefold()
        ):
            return REQUEST_TYPE
        raise ValueError(f"@odata.type must be {REQUEST_TYPE}")

    @model_validator(mode="before")
    @classmethod
    def _beta_assignment_name(cls, data: Any) -> Any:
        # Graph's example 4 sends the beta name on the v1.0 endpoint, and Graph accepts it.
        if isinstance(data, dict) and "assignment" not in data and BETA_ASSIGNMENT in data:
            data = {("assignment" if k == BETA_ASSIGNMENT else k): v for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _shape_for_type(self) -> CreateAssignmentRequest:
        if self.request_type not in CLIENT_REQUEST_TYPES:
            raise PydanticCustomError(
                UNSUPPORTED_TYPE_ERROR,
                "requestType {request_type} is not accepted: {why}",
                {"request_type": self.request_type.value, "why": _unsupported(self.request_type)},
            )
        problems = shape_problems(self)
        if problems:
            raise PydanticCustomError(
                SHAPE_ERROR,
                "; ".join(f"{path}: {message}" for path, message in problems),
                {"problems": problems},
            )
        return self

    @property
    def target_id(self) -> str | None:
        return self.assignment.target_ref

    @property
    def target_email(self) -> str | None:
        return self.assignment.target.email if self.assignment.target else None

    @property
    def access_package_id(self) -> str | None:
        return self.assignment.package_ref

    @property
    def assignment_policy_id(self) -> str | None:
        return self.assignment.policy_ref

    @property
    def assignment_id(self) -> str | None:
        return self.assignment.id

    @property
    def answer_list(self) -> list[AccessPackageAnswerString]:
        return self.answers or []

    @property
    def has_schedule(self) -> bool:
        return self.schedule is not None and not self.schedule.is_empty

    def to_graph(self) -> dict[str, Any]:
        """The body as Graph JSON: what was sent, canonicalised (camelCase enums,
        ``assignment``, ``…Z`` timestamps, unknown properties dropped)."""
        result: dict[str, Any] = to_graph(self, exclude_unset=True)
        return result


def _unsupported(request_type: RequestType) -> str:
    if request_type is RequestType.ON_BEHALF_ADD:
        return "onBehalfAdd is not supported; a manager sends userAdd with assignment.target"
    if request_type.value.startswith("system"):
        return "system request types are created by the service only"
    return "it names no request"


def _disagree(first: str | None, second: str | None) -> bool:
    return first is not None and second is not None and first.casefold() != second.casefold()


def shape_problems(body: CreateAssignmentRequest) -> list[tuple[str, str]]:
    """What the body lacks (or contradicts) for its request type, as (path, message)."""
    a = body.assignment
    problems: list[tuple[str, str]] = []
    kind = body.request_type.value
    if body.request_type.is_add:
        if body.access_package_id is None:
            problems.append(("assignment.accessPackageId", f"{kind} needs the access package"))
        if body.request_type is RequestType.ADMIN_ADD:
            if a.target_ref is None and body.target_email is None:
                problems.append(
                    ("assignment.targetId", "adminAdd needs targetId or target.objectId/email")
                )
            if body.assignment_policy_id is None:
                problems.append(("assignment.assignmentPolicyId", "adminAdd needs the policy"))
    elif a.id is None:
        problems.append(("assignment.id", f"{kind} needs the id of an existing assignment"))
    if _disagree(a.target_id, a.target.object_id if a.target else None):
        problems.append(("assignment.target.objectId", "disagrees with assignment.targetId"))
    if _disagree(a.access_package_id, a.access_package.id if a.access_package else None):
        problems.append(("assignment.accessPackage.id", "disagrees with accessPackageId"))
    if _disagree(a.assignment_policy_id, a.assignment_policy.id if a.assignment_policy else None):
        problems.append(("assignment.assignmentPolicy.id", "disagrees with assignmentPolicyId"))
    return problems


def parse_create_request(body: bytes | str | Mapping[str, Any]) -> CreateAssignmentRequest:
    """Parse a create body (JSON text or an already-decoded object).

    Raises :class:`RequestValidationError` (code ``InvalidRequest``, or
    ``RequestTypeNotSupported`` for ``system*``/``onBehalfAdd``) listing every problem found.
    """
    try:
        if isinstance(body, bytes | str):
            return CreateAssignmentRequest.model_validate_json(body)
        return CreateAssignmentRequest.model_validate(body)
    except ValidationError as exc:
        raise validation_error(exc) from None


def validation_error(exc: ValidationError) -> RequestValidationError:
    """Turn pydantic's error into the domain's, expanding the shape rules' (path, message)s."""
    details: list[ErrorDetail] = []
    code = ReasonCode.INVALID_REQUEST
    for error in exc.errors():
        base = format_loc(error["loc"])
        if error["type"] == UNSUPPORTED_TYPE_ERROR:
            code = ReasonCode.REQUEST_TYPE_NOT_SUPPORTED
            details.append(ErrorDetail(_join(base, "requestType"), error["msg"]))
        elif error["type"] == SHAPE_ERROR:
            for path, message in error.get("ctx", {}).get("problems", []):
                details.append(ErrorDetail(_join(base, path), message))
        else:
            details.append(ErrorDetail(base, error["msg"].removeprefix("Value error, ")))
    return RequestValidationError(code, "the request body is not valid", details=details)


def _join(base: str, path: str) -> str:
    return f"{base}.{path}" if base else path
