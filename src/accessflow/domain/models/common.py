"""Complex types shared by requests, assignments and policies (spec §2.1, §2.2, §2.4, §2.5)."""

from __future__ import annotations

from typing import Any

from accessflow.domain.enums import (
    CalloutInstanceStatus,
    ExpirationPatternType,
    SubjectLifecycle,
    SubjectType,
)
from accessflow.domain.models.base import Duration, InboundModel, UtcDateTime


class ExpirationPattern(InboundModel):
    """``expirationPattern``: ``endDateTime`` with ``afterDateTime``, ``duration`` with
    ``afterDuration``; the two are exclusive (checked by the schedule rule, not here, so a
    malformed schedule is a reasoned denial rather than a parse failure)."""

    duration: Duration | None = None
    end_date_time: UtcDateTime | None = None
    type: ExpirationPatternType | None = None


class EntitlementManagementSchedule(InboundModel):
    """``entitlementManagementSchedule``; ``recurrence`` is "not used in access requests" and is
    carried through untouched."""

    start_date_time: UtcDateTime | None = None
    expiration: ExpirationPattern | None = None
    recurrence: dict[str, Any] | None = None

    @property
    def is_empty(self) -> bool:
        """True for Graph's echo of "no schedule": nulls and ``type: notSpecified``."""
        expiration = self.expiration
        return self.start_date_time is None and (
            expiration is None
            or (
                expiration.duration is None
                and expiration.end_date_time is None
                and expiration.type in (None, ExpirationPatternType.NOT_SPECIFIED)
            )
        )


class AccessPackageSubject(InboundModel):
    """``accessPackageSubject``: the requestor, or an assignment's target."""

    id: str | None = None
    display_name: str | None = None
    email: str | None = None
    object_id: str | None = None
    on_premises_security_identifier: str | None = None
    principal_name: str | None = None
    subject_lifecycle: SubjectLifecycle = SubjectLifecycle.NOT_DEFINED
    subject_type: SubjectType | None = None


class CustomExtensionCalloutInstance(InboundModel):
    id: str | None = None
    custom_extension_id: str | None = None
    detail: str | None = None
    external_correlation_id: str | None = None
    status: CalloutInstanceStatus | None = None
