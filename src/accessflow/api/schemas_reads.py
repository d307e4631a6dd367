"""Response models of the catalog reads and the requirements action, for the OpenAPI
document (handlers build the JSON; these describe it). As in :mod:`schemas`, properties
``$select`` can leave out are optional and navigation properties appear with ``$expand``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from accessflow.api.schemas import _Collection, _Graph


class AccessPackageCatalogResource(_Graph):
    """``microsoft.graph.accessPackageCatalog``."""

    odata_context: str | None = Field(default=None, alias="@odata.context")
    id: str
    display_name: str | None = Field(default=None, alias="displayName")
    description: str | None = None
    catalog_type: str | None = Field(default=None, alias="catalogType")
    state: str | None = None
    is_externally_visible: bool | None = Field(default=None, alias="isExternallyVisible")
    created_date_time: str | None = Field(default=None, alias="createdDateTime")
    modified_date_time: str | None = Field(default=None, alias="modifiedDateTime")
    access_packages: list[dict[str, Any]] | None = Field(default=None, alias="accessPackages")


class AccessPackageResource(_Graph):
    """``microsoft.graph.accessPackage``."""

    odata_context: str | None = Field(default=None, alias="@odata.context")
    id: str
    display_name: str | None = Field(default=None, alias="displayName")
    description: str | None = None
    is_hidden: bool | None = Field(default=None, alias="isHidden")
    created_date_time: str | None = Field(default=None, alias="createdDateTime")
    modified_date_time: str | None = Field(default=None, alias="modifiedDateTime")
    assignment_policies: list[dict[str, Any]] | None = Field(
        default=None, alias="assignmentPolicies"
    )
    catalog: AccessPackageCatalogResource | None = None
    incompatible_access_packages: list[dict[str, Any]] | None = Field(
        default=None, alias="incompatibleAccessPackages"
    )
    resource_role_scopes: list[dict[str, Any]] | None = Field(
        default=None, alias="resourceRoleScopes"
    )


class AssignmentPolicyResource(_Graph):
    """``microsoft.graph.accessPackageAssignmentPolicy``."""

    odata_context: str | None = Field(default=None, alias="@odata.context")
    id: str
    display_name: str | None = Field(default=None, alias="displayName")
    description: str | None = None
    allowed_target_scope: str | None = Field(default=None, alias="allowedTargetScope")
    specific_allowed_targets: list[dict[str, Any]] | None = Field(
        default=None, alias="specificAllowedTargets"
    )
    expiration: dict[str, Any] | None = None
    requestor_settings: dict[str, Any] | None = Field(default=None, alias="requestorSettings")
    request_approval_settings: dict[str, Any] | None = Field(
        default=None, alias="requestApprovalSettings"
    )
    access_package: AccessPackageResource | None = Field(default=None, alias="accessPackage")
    catalog: AccessPackageCatalogResource | None = None
    questions: list[dict[str, Any]] | None = None


class RequirementsResource(_Graph):
    """``microsoft.graph.accessPackageAssignmentRequestRequirements`` (v1.0 properties)."""

    policy_id: str = Field(alias="policyId")
    policy_display_name: str | None = Field(alias="policyDisplayName")
    policy_description: str | None = Field(alias="policyDescription")
    is_approval_required_for_add: bool = Field(alias="isApprovalRequiredForAdd")
    is_approval_required_for_update: bool = Field(alias="isApprovalRequiredForUpdate")
    is_requestor_justification_required: bool = Field(alias="isRequestorJustificationRequired")
    allow_custom_assignment_schedule: bool = Field(alias="allowCustomAssignmentSchedule")
    schedule: dict[str, Any] | None
    questions: list[dict[str, Any]]


class SubjectRef(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # Printable only: it reaches PostgreSQL, which refuses a NUL in text.
    object_id: str = Field(
        alias="objectId", min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$"
    )


class RequirementsBody(BaseModel):
    """The optional body of ``getApplicablePolicyRequirements`` (the beta form): whom to
    evaluate for, when not the caller. Strict: an unknown property is a 400."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    subject: SubjectRef | None = None


class AccessPackageCollection(_Collection):
    value: list[AccessPackageResource]


class AssignmentPolicyCollection(_Collection):
    value: list[AssignmentPolicyResource]


class CatalogsCollection(_Collection):
    value: list[AccessPackageCatalogResource]


class GroupCollection(_Collection):
    value: list[dict[str, Any]]


class RequirementsCollection(_Collection):
    value: list[RequirementsResource]
