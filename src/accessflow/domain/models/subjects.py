"""``subjectSet`` and its derived types: who may request, be targeted, or approve (§2.7)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Discriminator, Tag

from accessflow.domain.models.base import TypedInboundModel, odata_tag


class SingleUser(TypedInboundModel):
    ODATA_TYPE = "#microsoft.graph.singleUser"
    user_id: str
    description: str | None = None


class GroupMembers(TypedInboundModel):
    ODATA_TYPE = "#microsoft.graph.groupMembers"
    group_id: str
    description: str | None = None


class RequestorManager(TypedInboundModel):
    """The target's manager; ``managerLevel`` 2 is the manager's manager."""

    ODATA_TYPE = "#microsoft.graph.requestorManager"
    manager_level: int = 1


class InternalSponsors(TypedInboundModel):
    ODATA_TYPE = "#microsoft.graph.internalSponsors"


class ExternalSponsors(TypedInboundModel):
    ODATA_TYPE = "#microsoft.graph.externalSponsors"


class TargetUserSponsors(TypedInboundModel):
    ODATA_TYPE = "#microsoft.graph.targetUserSponsors"
    description: str | None = None


class ConnectedOrganizationMembers(TypedInboundModel):
    ODATA_TYPE = "#microsoft.graph.connectedOrganizationMembers"
    connected_organization_id: str | None = None
    description: str | None = None


class AttributeRuleMembers(TypedInboundModel):
    ODATA_TYPE = "#microsoft.graph.attributeRuleMembers"
    membership_rule: str | None = None
    description: str | None = None


_SUBJECT_SET_TYPES = (
    SingleUser,
    GroupMembers,
    RequestorManager,
    InternalSponsors,
    ExternalSponsors,
    TargetUserSponsors,
    ConnectedOrganizationMembers,
    AttributeRuleMembers,
)

SubjectSet = Annotated[
    Annotated[SingleUser, Tag(SingleUser.ODATA_TYPE)]
    | Annotated[GroupMembers, Tag(GroupMembers.ODATA_TYPE)]
    | Annotated[RequestorManager, Tag(RequestorManager.ODATA_TYPE)]
    | Annotated[InternalSponsors, Tag(InternalSponsors.ODATA_TYPE)]
    | Annotated[ExternalSponsors, Tag(ExternalSponsors.ODATA_TYPE)]
    | Annotated[TargetUserSponsors, Tag(TargetUserSponsors.ODATA_TYPE)]
    | Annotated[ConnectedOrganizationMembers, Tag(ConnectedOrganizationMembers.ODATA_TYPE)]
    | Annotated[AttributeRuleMembers, Tag(AttributeRuleMembers.ODATA_TYPE)],
    Discriminator(
        odata_tag(*(t.ODATA_TYPE.removeprefix("#microsoft.graph.") for t in _SUBJECT_SET_TYPES)),
        custom_error_type="invalid_subject_set",
        custom_error_message="@odata.type must name a subjectSet type, e.g. "
        "#microsoft.graph.singleUser",
    ),
]
