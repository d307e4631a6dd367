# ruff: noqa: N815  (field names are the CSDL's own camelCase: that is what the reader checks)
"""A Graph SDK style reader for the tests: responses deserialised into typed models by
their ``@odata.type`` (or the type the call returns, as an SDK knows it), each model built
from the v1.0 CSDL property names with ``extra="forbid"``. :func:`read` also checks the
model dumps back to exactly the JSON received: nothing unknown, nothing lost.

The only names outside the CSDL are accessflow's documented extras on ``accessPackageAssignment``
(``targetId``, ``accessPackageId``, ``assignmentPolicyId``: the create body's forms, which
every v1.0 create example sends; docs/api.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

M = TypeVar("M", bound="Graph")


class Graph(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _typed(name: str) -> Any:
    return Field(default=None, alias="@odata.type", pattern=f"^#microsoft.graph.{name}$")


# ---- complex types ---------------------------------------------------------------------------
class ExpirationPattern(Graph):
    duration: str | None = None
    endDateTime: str | None = None
    type: str | None = None


class EntitlementManagementSchedule(Graph):
    expiration: ExpirationPattern | None = None
    recurrence: dict[str, Any] | None = None
    startDateTime: str | None = None


class SingleUser(Graph):
    odata_type: Literal["#microsoft.graph.singleUser"] = Field(alias="@odata.type")
    userId: str | None = None
    description: str | None = None


class GroupMembers(Graph):
    odata_type: Literal["#microsoft.graph.groupMembers"] = Field(alias="@odata.type")
    groupId: str | None = None
    description: str | None = None


class RequestorManager(Graph):
    odata_type: Literal["#microsoft.graph.requestorManager"] = Field(alias="@odata.type")
    managerLevel: int | None = None


SubjectSet = Annotated[
    Union[SingleUser, GroupMembers, RequestorManager],  # noqa: UP007 - a discriminated union
    Field(discriminator="odata_type"),
]


class ApprovalStage(Graph):
    approverInformationVisibility: str
    durationBeforeAutomaticDenial: str | None = None
    durationBeforeEscalation: str | None = None
    escalationApprovers: list[SubjectSet] | None = None
    fallbackEscalationApprovers: list[SubjectSet] | None = None
    fallbackPrimaryApprovers: list[SubjectSet] | None = None
    isApproverJustificationRequired: bool | None = None
    isEscalationEnabled: bool | None = None
    primaryApprovers: list[SubjectSet] | None = None


class ApprovalSettings(Graph):
    isApprovalRequiredForAdd: bool | None = None
    isApprovalRequiredForUpdate: bool | None = None
    isRequestorJustificationRequired: bool | None = None
    stages: list[ApprovalStage] | None = None


class RequestorSettings(Graph):
    allowCustomAssignmentSchedule: bool | None = None
    enableOnBehalfRequestorsToAddAccess: bool | None = None
    enableOnBehalfRequestorsToRemoveAccess: bool | None = None
    enableOnBehalfRequestorsToUpdateAccess: bool | None = None
    enableTargetsToSelfAddAccess: bool | None = None
    enableTargetsToSelfRemoveAccess: bool | None = None
    enableTargetsToSelfUpdateAccess: bool | None = None
    onBehalfRequestors: list[SubjectSet] | None = None


class AutomaticRequestSettings(Graph):
    gracePeriodBeforeAccessRemoval: str | None = None
    removeAccessWhenTargetLeavesAllowedTargets: bool | None = None
    requestAccessForAllowedTargets: bool | None = None


class NotificationSettings(Graph):
    isAssignmentNotificationDisabled: bool | None = None


class LocalizedText(Graph):
    languageCode: str
    text: str | None = None


class AnswerChoice(Graph):
    actualValue: str | None = None
    text: str | None = None
    localizations: list[LocalizedText] | None = None


class _Question(Graph):
    id: str
    isRequired: bool | None = None
    isAnswerEditable: bool | None = None
    sequence: int | None = None
    text: str | None = None
    localizations: list[LocalizedText] | None = None


class TextInputQuestion(_Question):
    odata_type: Literal["#microsoft.graph.accessPackageTextInputQuestion"] = Field(
        alias="@odata.type"
    )
    isSingleLineQuestion: bool | None = None
    regexPattern: str | None = None


class MultipleChoiceQuestion(_Question):
    odata_type: Literal["#microsoft.graph.accessPackageMultipleChoiceQuestion"] = Field(
        alias="@odata.type"
    )
    choices: list[AnswerChoice] | None = None
    isMultipleSelectionAllowed: bool | None = None


Question = Annotated[
    Annotated[TextInputQuestion, Tag("#microsoft.graph.accessPackageTextInputQuestion")]
    | Annotated[
        MultipleChoiceQuestion, Tag("#microsoft.graph.accessPackageMultipleChoiceQuestion")
    ],
    Discriminator(lambda v: v.get("@odata.type") if isinstance(v, dict) else v.odata_type),
]


# ---- entity types ----------------------------------------------------------------------------
class Entity(Graph):
    odata_context: str | None = Field(default=None, alias="@odata.context")
    id: str | None = None


class ResourceRole(Graph):
    id: str | None = None
    originId: str | None = None
    originSystem: str | None = None
    displayName: str | None = None
    description: str | None = None


class ResourceScope(Graph):
    id: str | None = None
    originId: str | None = None
    originSystem: str | None = None
    isRootScope: bool | None = None
    displayName: str | None = None
    description: str | None = None


class ResourceRoleScope(Graph):
    id: str | None = None
    createdDateTime: str | None = None
    role: ResourceRole | None = None
    scope: ResourceScope | None = None


class AccessPackageCatalog(Entity):
    odata_type: str | None = _typed("accessPackageCatalog")
    displayName: str | None = None
    description: str | None = None
    catalogType: str | None = None
    state: str | None = None
    isExternallyVisible: bool | None = None
    createdDateTime: str | None = None
    modifiedDateTime: str | None = None
    accessPackages: list[AccessPackage] | None = None


class AccessPackage(Entity):
    odata_type: str | None = _typed("accessPackage")
    displayName: str | None = None
    description: str | None = None
    isHidden: bool | None = None
    createdDateTime: str | None = None
    modifiedDateTime: str | None = None
    assignmentPolicies: list[AccessPackageAssignmentPolicy] | None = None
    catalog: AccessPackageCatalog | None = None
    resourceRoleScopes: list[ResourceRoleScope] | None = None
    incompatibleAccessPackages: list[AccessPackage] | None = None
    accessPackagesIncompatibleWith: list[AccessPackage] | None = None
    incompatibleGroups: list[Entity] | None = None


class AccessPackageAssignmentPolicy(Entity):
    odata_type: str | None = _typed("accessPackageAssignmentPolicy")
    allowedTargetScope: str | None = None
    automaticRequestSettings: AutomaticRequestSettings | None = None
    createdDateTime: str | None = None
    description: str | None = None
    displayName: str | None = None
    expiration: ExpirationPattern | None = None
    modifiedDateTime: str | None = None
    notificationSettings: NotificationSettings | None = None
    requestApprovalSettings: ApprovalSettings | None = None
    requestorSettings: RequestorSettings | None = None
    reviewSettings: dict[str, Any] | None = None
    specificAllowedTargets: list[SubjectSet] | None = None
    accessPackage: AccessPackage | None = None
    catalog: AccessPackageCatalog | None = None
    customExtensionStageSettings: list[dict[str, Any]] | None = None
    questions: list[Question] | None = None


class AccessPackageSubject(Entity):
    odata_type: str | None = _typed("accessPackageSubject")
    displayName: str | None = None
    email: str | None = None
    objectId: str | None = None
    onPremisesSecurityIdentifier: str | None = None
    principalName: str | None = None
    subjectLifecycle: str
    subjectType: str | None = None


class AccessPackageAssignment(Entity):
    odata_type: str | None = _typed("accessPackageAssignment")
    customExtensionCalloutInstances: list[dict[str, Any]] | None = None
    expiredDateTime: str | None = None
    schedule: EntitlementManagementSchedule | None = None
    state: str | None = None
    status: str | None = None
    accessPackage: AccessPackage | None = None
    assignmentPolicy: AccessPackageAssignmentPolicy | None = None
    target: AccessPackageSubject | None = None
    # accessflow's documented extras (the create body's forms).
    targetId: str | None = None
    accessPackageId: str | None = None
    assignmentPolicyId: str | None = None


class RequestRequirements(Graph):
    odata_type: str | None = _typed("accessPackageAssignmentRequestRequirements")
    policyId: str | None = None
    policyDisplayName: str | None = None
    policyDescription: str | None = None
    isApprovalRequiredForAdd: bool | None = None
    isApprovalRequiredForUpdate: bool | None = None
    isRequestorJustificationRequired: bool | None = None
    allowCustomAssignmentSchedule: bool | None = None
    schedule: EntitlementManagementSchedule | None = None
    questions: list[Question] | None = None


TYPES: dict[str, type[Graph]] = {
    "#microsoft.graph.accessPackage": AccessPackage,
    "#microsoft.graph.accessPackageCatalog": AccessPackageCatalog,
    "#microsoft.graph.accessPackageAssignmentPolicy": AccessPackageAssignmentPolicy,
    "#microsoft.graph.accessPackageAssignment": AccessPackageAssignment,
    "#microsoft.graph.accessPackageSubject": AccessPackageSubject,
    "#microsoft.graph.accessPackageAssignmentRequestRequirements": RequestRequirements,
}
for _model in (AccessPackageCatalog, AccessPackage, AccessPackageAssignmentPolicy):
    _model.model_rebuild()


class Collection(Graph):
    odata_context: str = Field(alias="@odata.context")
    odata_count: int | None = Field(default=None, alias="@odata.count")
    odata_next_link: str | None = Field(default=None, alias="@odata.nextLink")
    value: list[dict[str, Any]]


def _one(item: dict[str, Any], expected: type[M]) -> M:
    model = TYPES.get(item.get("@odata.type", ""), expected)
    assert issubclass(model, expected), f"{item.get('@odata.type')} is not a {expected}"
    parsed = model.model_validate(item)
    dumped = parsed.model_dump(by_alias=True, exclude_unset=True)
    assert dumped == item, f"lost or changed in {model.__name__}: {dumped} != {item}"
    return parsed  # type: ignore[return-value]


def read(body: dict[str, Any], expected: type[M]) -> M:
    """One entity of the ``expected`` type (or the type its ``@odata.type`` names)."""
    return _one(body, expected)


def read_collection(body: dict[str, Any], expected: type[M]) -> list[M]:
    page = Collection.model_validate(body)
    return [_one(item, expected) for item in page.value]
