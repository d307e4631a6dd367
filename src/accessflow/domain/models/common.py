"""Complex types shared by requests, assignments and policies (spec §2.1, §2.2, §2.4, §2.5)."""

from __future__ import annotations

from typing import Annotated, Any

from accessflow.domain.enums import (
    CalloutInstanceStatus,
    ExpirationPatternType,
    SubjectLifecycle,
    SubjectType,
)
from accessflow.domain.models.base import Duration, InboundModel, UtcDateTime
from accessflow.domain.models.text import (
    CalloutDetailText,
    DisplayText,
    DurationText,
    EmailText,
    IdText,
    ShortText,
    SmallJson,
)


class ExpirationPattern(InboundModel):
    """``expirationPattern``: ``endDateTime`` with ``afterDateTime``, ``duration`` with
    ``afterDuration``; the two are exclusive (checked by the schedule rule, not here, so a
    malformed schedule is a reasoned denial rather than a parse failure)."""

    duration: Annotated[Duration, DurationText] | None = None
    end_date_time: UtcDateTime | None = None
    type: ExpirationPatternType | None = None


class EntitlementManagementSchedule(InboundModel):
    """``entitlementManagementSchedule``; ``recurrence`` is "not used in access requests" and is
    carried through untouched."""

    start_date_time: UtcDateTime | None = None
    expiration: ExpirationPattern | None = None
    recurrence: Annotated[dict[str, Any] | None, SmallJson] = None

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

    id: IdText | None = None
    display_name: DisplayText | None = None
    email: EmailText | None = None
    object_id: IdText | None = None
    on_premises_security_identifier: ShortText | None = None
    principal_name: DisplayText | None = None
    subject_lifecycle: SubjectLifecycle = SubjectLifecycle.NOT_DEFINED
    subject_type: SubjectType | None = None


class CustomExtensionCalloutInstance(InboundModel):
    id: IdText | None = None
    custom_extension_id: IdText | None = None
    detail: CalloutDetailText | None = None
    external_correlation_id: IdText | None = None
    status: CalloutInstanceStatus | None = None
