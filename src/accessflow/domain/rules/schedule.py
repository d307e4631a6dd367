"""Is a requested schedule well-formed, and within the policy's expiration?"""

from __future__ import annotations

from datetime import datetime, timedelta

from accessflow.domain.enums import ExpirationPatternType
from accessflow.domain.models.common import EntitlementManagementSchedule, ExpirationPattern

Kind = ExpirationPatternType
_UNSET = (None, Kind.NOT_SPECIFIED)


def requested_end(schedule: EntitlementManagementSchedule, now: datetime) -> datetime | None:
    """When the requested access would end; ``None`` for "no end asked for"."""
    expiration = schedule.expiration
    if expiration is None:
        return None
    if expiration.end_date_time is not None:
        return expiration.end_date_time
    if expiration.duration is not None:
        return (schedule.start_date_time or now) + expiration.duration
    return None


def schedule_problem(
    schedule: EntitlementManagementSchedule, limit: ExpirationPattern | None, now: datetime
) -> tuple[str, str] | None:
    """(path, message) of the first problem, or ``None``."""
    expiration = schedule.expiration or ExpirationPattern()
    problem = _pattern_problem(expiration)
    if problem is not None:
        return problem
    start, end = schedule.start_date_time, requested_end(schedule, now)
    if start is not None and end is not None and start >= end:
        return "schedule.startDateTime", "startDateTime must be before the end of the schedule"
    if end is not None and end <= now:
        return "schedule.expiration", "the schedule ends in the past"
    return _limit_problem(schedule, expiration, limit, now)


def _pattern_problem(expiration: ExpirationPattern) -> tuple[str, str] | None:
    kind, duration, end = expiration.type, expiration.duration, expiration.end_date_time
    where = "schedule.expiration"
    if duration is not None and end is not None:
        return where, "give endDateTime or duration, not both"
    if duration is not None and (kind not in (*_UNSET, Kind.AFTER_DURATION)):
        return f"{where}.type", "a duration needs type afterDuration"
    if end is not None and (kind not in (*_UNSET, Kind.AFTER_DATE_TIME)):
        return f"{where}.type", "an endDateTime needs type afterDateTime"
    if kind is Kind.AFTER_DURATION and duration is None:
        return f"{where}.duration", "type afterDuration needs a duration"
    if kind is Kind.AFTER_DATE_TIME and end is None:
        return f"{where}.endDateTime", "type afterDateTime needs an endDateTime"
    if duration is not None and duration <= timedelta(0):
        return f"{where}.duration", "the duration must be positive"
    return None


def _limit_problem(
    schedule: EntitlementManagementSchedule,
    expiration: ExpirationPattern,
    limit: ExpirationPattern | None,
    now: datetime,
) -> tuple[str, str] | None:
    if limit is None or limit.type in (*_UNSET, Kind.NO_EXPIRATION):
        return None
    start = schedule.start_date_time or now
    latest = (
        start + limit.duration
        if limit.type is Kind.AFTER_DURATION and limit.duration is not None
        else limit.end_date_time
    )
    if latest is None:
        return None
    end = requested_end(schedule, now)
    if expiration.type is Kind.NO_EXPIRATION:
        return "schedule.expiration.type", "the policy's assignments expire"
    if end is not None and end > latest:
        return "schedule.expiration", "the schedule lasts longer than the policy allows"
    return None
