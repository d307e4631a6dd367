"""Graph v1.0 enumerations, accepted case-insensitively and emitted as Graph spells them.

Graph's own examples send ``UserAdd`` and ``AdminAdd`` to the v1.0 endpoint, so every enum
here resolves input regardless of case; the value (what we emit) is always Graph's spelling.
"""

from __future__ import annotations

from enum import StrEnum


class GraphEnum(StrEnum):
    """A string enum whose lookup ignores case: ``RequestType("UserAdd") is USER_ADD``."""

    @classmethod
    def _missing_(cls, value: object) -> GraphEnum | None:
        if isinstance(value, str):
            folded = value.casefold()
            for member in cls:
                if member.value.casefold() == folded:
                    return member
        return None


class RequestType(GraphEnum):
    NOT_SPECIFIED = "notSpecified"
    USER_ADD = "userAdd"
    USER_UPDATE = "userUpdate"
    USER_REMOVE = "userRemove"
    ADMIN_ADD = "adminAdd"
    ADMIN_UPDATE = "adminUpdate"
    ADMIN_REMOVE = "adminRemove"
    SYSTEM_ADD = "systemAdd"
    SYSTEM_UPDATE = "systemUpdate"
    SYSTEM_REMOVE = "systemRemove"
    ON_BEHALF_ADD = "onBehalfAdd"
    UNKNOWN_FUTURE_VALUE = "unknownFutureValue"
    APPROVER_REMOVE = "approverRemove"

    @property
    def is_add(self) -> bool:
        return self in _ADD_TYPES

    @property
    def is_update(self) -> bool:
        return self in _UPDATE_TYPES

    @property
    def is_remove(self) -> bool:
        return self in _REMOVE_TYPES

    @property
    def is_admin(self) -> bool:
        return self in _ADMIN_TYPES


_ADD_TYPES = frozenset({RequestType.USER_ADD, RequestType.ADMIN_ADD, RequestType.SYSTEM_ADD})
_UPDATE_TYPES = frozenset(
    {RequestType.USER_UPDATE, RequestType.ADMIN_UPDATE, RequestType.SYSTEM_UPDATE}
)
_REMOVE_TYPES = frozenset(
    {
        RequestType.USER_REMOVE,
        RequestType.ADMIN_REMOVE,
        RequestType.SYSTEM_REMOVE,
        RequestType.APPROVER_REMOVE,
    }
)
_ADMIN_TYPES = frozenset(
    {RequestType.ADMIN_ADD, RequestType.ADMIN_UPDATE, RequestType.ADMIN_REMOVE}
)

#: The request types a client may submit. ``system*`` are service-originated, ``onBehalfAdd``
#: is "not supported" in Graph (managers send ``userAdd`` with ``assignment.target``).
CLIENT_REQUEST_TYPES = frozenset(
    {
        RequestType.USER_ADD,
        RequestType.USER_UPDATE,
        RequestType.USER_REMOVE,
        RequestType.ADMIN_ADD,
        RequestType.ADMIN_UPDATE,
        RequestType.ADMIN_REMOVE,
        RequestType.APPROVER_REMOVE,
    }
)


class RequestState(GraphEnum):
    SUBMITTED = "submitted"
    PENDING_APPROVAL = "pendingApproval"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    DELIVERY_FAILED = "deliveryFailed"
    DENIED = "denied"
    SCHEDULED = "scheduled"
    CANCELED = "canceled"
    PARTIALLY_DELIVERED = "partiallyDelivered"
    UNKNOWN_FUTURE_VALUE = "unknownFutureValue"


class AssignmentState(GraphEnum):
    DELIVERING = "delivering"
    PARTIALLY_DELIVERED = "partiallyDelivered"
    DELIVERED = "delivered"
    EXPIRED = "expired"
    DELIVERY_FAILED = "deliveryFailed"
    UNKNOWN_FUTURE_VALUE = "unknownFutureValue"


class ExpirationPatternType(GraphEnum):
    NOT_SPECIFIED = "notSpecified"
    NO_EXPIRATION = "noExpiration"
    AFTER_DATE_TIME = "afterDateTime"
    AFTER_DURATION = "afterDuration"


class SubjectType(GraphEnum):
    NOT_SPECIFIED = "notSpecified"
    USER = "user"
    SERVICE_PRINCIPAL = "servicePrincipal"
    UNKNOWN_FUTURE_VALUE = "unknownFutureValue"


class SubjectLifecycle(GraphEnum):
    NOT_DEFINED = "notDefined"
    NOT_GOVERNED = "notGoverned"
    GOVERNED = "governed"
    UNKNOWN_FUTURE_VALUE = "unknownFutureValue"


class AllowedTargetScope(GraphEnum):
    NOT_SPECIFIED = "notSpecified"
    SPECIFIC_DIRECTORY_USERS = "specificDirectoryUsers"
    SPECIFIC_CONNECTED_ORGANIZATION_USERS = "specificConnectedOrganizationUsers"
    SPECIFIC_DIRECTORY_SERVICE_PRINCIPALS = "specificDirectoryServicePrincipals"
    ALL_MEMBER_USERS = "allMemberUsers"
    ALL_DIRECTORY_USERS = "allDirectoryUsers"
    ALL_DIRECTORY_SERVICE_PRINCIPALS = "allDirectoryServicePrincipals"
    ALL_CONFIGURED_CONNECTED_ORGANIZATION_USERS = "allConfiguredConnectedOrganizationUsers"
    ALL_EXTERNAL_USERS = "allExternalUsers"
    ALL_DIRECTORY_AGENT_IDENTITIES = "allDirectoryAgentIdentities"
    UNKNOWN_FUTURE_VALUE = "unknownFutureValue"


class CalloutInstanceStatus(GraphEnum):
    CALLOUT_SENT = "calloutSent"
    CALLBACK_RECEIVED = "callbackReceived"
    CALLOUT_FAILED = "calloutFailed"
    CALLBACK_TIMED_OUT = "callbackTimedOut"
    WAITING_FOR_CALLBACK = "waitingForCallback"
    UNKNOWN_FUTURE_VALUE = "unknownFutureValue"


class CustomExtensionStage(GraphEnum):
    ASSIGNMENT_REQUEST_CREATED = "assignmentRequestCreated"
    ASSIGNMENT_REQUEST_APPROVED = "assignmentRequestApproved"
    ASSIGNMENT_REQUEST_GRANTED = "assignmentRequestGranted"
    ASSIGNMENT_REQUEST_REMOVED = "assignmentRequestRemoved"
    ASSIGNMENT_FOURTEEN_DAYS_BEFORE_EXPIRATION = "assignmentFourteenDaysBeforeExpiration"
    ASSIGNMENT_ONE_DAY_BEFORE_EXPIRATION = "assignmentOneDayBeforeExpiration"
    UNKNOWN_FUTURE_VALUE = "unknownFutureValue"


class ApproverInformationVisibility(GraphEnum):
    DEFAULT = "default"
    NOT_VISIBLE = "notVisible"
    VISIBLE = "visible"
    UNKNOWN_FUTURE_VALUE = "unknownFutureValue"


class CatalogState(GraphEnum):
    UNPUBLISHED = "unpublished"
    PUBLISHED = "published"
    UNKNOWN_FUTURE_VALUE = "unknownFutureValue"


class CatalogType(GraphEnum):
    USER_MANAGED = "userManaged"
    SERVICE_DEFAULT = "serviceDefault"
    SERVICE_MANAGED = "serviceManaged"
    UNKNOWN_FUTURE_VALUE = "unknownFutureValue"


class UserType(GraphEnum):
    """``user.userType`` in Graph: PascalCase values."""

    MEMBER = "Member"
    GUEST = "Guest"


class ReviewResult(GraphEnum):
    """``approvalStage.reviewResult`` as stored; input decisions use :class:`ReviewDecision`."""

    NOT_REVIEWED = "NotReviewed"
    APPROVED = "Approved"
    DENIED = "Denied"


class ReviewDecision(GraphEnum):
    """What an approver sends in ``PATCH …/stages/{id}``: ``Approve`` or ``Deny``."""

    APPROVE = "Approve"
    DENY = "Deny"


class ApprovalStageStatus(GraphEnum):
    INITIALIZING = "Initializing"
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    EXPIRED = "Expired"
