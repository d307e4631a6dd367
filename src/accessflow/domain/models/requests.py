"""``accessPackageAssignment`` and ``accessPackageAssignmentRequest`` (spec §1, §2.6)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from pydantic import Field

from accessflow.domain import limits
from accessflow.domain.enums import AssignmentState, RequestState, RequestType
from accessflow.domain.models.base import EntityRef, InboundModel, OutboundModel, UtcDateTime
from accessflow.domain.models.common import (
    AccessPackageSubject,
    CustomExtensionCalloutInstance,
    EntitlementManagementSchedule,
)
from accessflow.domain.models.packages import AccessPackage
from accessflow.domain.models.questions import AccessPackageAnswerString
from accessflow.domain.models.text import IdText, ShortText


class AccessPackageAssignment(InboundModel):
    """An assignment, as Graph returns it and as a create body's ``assignment`` sends it.

    ``targetId``, ``assignmentPolicyId`` and ``accessPackageId`` are not declared in v1.0 but
    every v1.0 create example sends them (the SDKs as dynamic properties), so they are modelled;
    ``target``, ``assignmentPolicy`` and ``accessPackage`` are the navigation-style forms.
    """

    id: IdText | None = None
    state: AssignmentState | None = None
    status: ShortText | None = None
    schedule: EntitlementManagementSchedule | None = None
    expired_date_time: UtcDateTime | None = None
    custom_extension_callout_instances: list[CustomExtensionCalloutInstance] | None = Field(
        default=None, max_length=limits.MAX_CALLOUT_INSTANCES
    )
    target_id: IdText | None = None
    assignment_policy_id: IdText | None = None
    access_package_id: IdText | None = None
    target: AccessPackageSubject | None = None
    assignment_policy: EntityRef | None = None
    access_package: EntityRef | None = None

    @property
    def package_ref(self) -> str | None:
        return self.access_package_id or (self.access_package.id if self.access_package else None)

    @property
    def policy_ref(self) -> str | None:
        if self.assignment_policy_id:
            return self.assignment_policy_id
        return self.assignment_policy.id if self.assignment_policy else None

    @property
    def target_ref(self) -> str | None:
        """The target's directory object id, from ``targetId`` or ``target.objectId``."""
        return self.target_id or (self.target.object_id if self.target else None)

    @property
    def is_live(self) -> bool:
        return self.state not in (AssignmentState.EXPIRED, AssignmentState.UNKNOWN_FUTURE_VALUE)


class AccessPackageAssignmentRequest(OutboundModel):
    """The request resource, exactly the v1.0 properties and navigation properties."""

    id: str
    request_type: RequestType
    state: RequestState
    status: str | None = None
    created_date_time: UtcDateTime | None = None
    completed_date_time: UtcDateTime | None = None
    justification: str | None = None
    schedule: EntitlementManagementSchedule | None = None
    answers: list[AccessPackageAnswerString] = Field(default_factory=list)
    custom_extension_callout_instances: list[CustomExtensionCalloutInstance] = Field(
        default_factory=list
    )
    access_package: AccessPackage | None = None
    assignment: AccessPackageAssignment | None = None
    requestor: AccessPackageSubject | None = None


#: The worker dumps the same request (and assignment) object twice: for the event of its last
#: transition and for its database row. Models are frozen, so the document of an object is
#: kept and handed out again (callers must not mutate it). Strong references keep an id from
#: being reused while its entry lives; the size bounds the memory.
_RECENT: dict[int, tuple[object, Any]] = {}
_RECENT_MAX = 4096
_CACHED_TYPES = (AccessPackageAssignmentRequest, AccessPackageAssignment)


def to_graph(model: InboundModel | OutboundModel, *, exclude_unset: bool = False) -> Any:
    """The model as Graph JSON (camelCase, enums as strings, ``…Z`` timestamps)."""
    if exclude_unset or type(model) not in _CACHED_TYPES:
        return model.model_dump(mode="json", by_alias=True, exclude_unset=exclude_unset)
    hit = _RECENT.get(id(model))
    if hit is not None and hit[0] is model:
        return hit[1]
    document = model.model_dump(mode="json", by_alias=True)
    _remember(model, document)
    return document


def _remember(model: object, document: Any) -> None:
    if len(_RECENT) >= _RECENT_MAX:
        _RECENT.clear()
    _RECENT[id(model)] = (model, document)


def derive_graph(new: OutboundModel, old: OutboundModel, fields: Collection[str]) -> None:
    """``new`` is ``old`` with only ``fields`` changed (a ``model_copy(update=…)``). When
    ``old``'s document is known, ``new``'s becomes that document with just those fields
    dumped again: a transition then costs a three-field dump, not a whole request's."""
    hit = _RECENT.get(id(old))
    if hit is None or hit[0] is not old:
        return
    changed = new.model_dump(mode="json", by_alias=True, include=set(fields))
    _remember(new, {**hit[1], **changed})
