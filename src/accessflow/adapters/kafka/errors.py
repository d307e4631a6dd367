"""Which producer failures retrying can fix, and which it never will.

A broker that is away, a leader election, a timeout: transient, wait and send again. A
record the broker will never take (too large, malformed), a topic that does not exist as
named or that this principal may not write: permanent, and retrying it forever would stall
everything queued behind it. Every write path (relay, DLQ, API publisher, CLI) asks here.
"""

from __future__ import annotations

from aiokafka import errors

#: Refusals of the record itself: the same bytes are refused however often they are sent.
RECORD_REFUSALS: tuple[type[Exception], ...] = (
    errors.MessageSizeTooLargeError,  # also raised by send() before anything is sent
    errors.RecordTooLargeError,
    errors.RecordListTooLargeError,
    errors.CorruptRecordException,  # the broker's INVALID_RECORD/CORRUPT_MESSAGE
    errors.InvalidTimestampError,
    errors.UnsupportedForMessageFormatError,
)

#: Refusals of the destination: nothing sent there is accepted until an operator acts.
DESTINATION_REFUSALS: tuple[type[Exception], ...] = (
    errors.TopicAuthorizationFailedError,
    errors.ClusterAuthorizationFailedError,
    errors.TransactionalIdAuthorizationFailed,
    errors.InvalidTopicError,
    errors.PolicyViolationError,
)


def is_record_refusal(exc: BaseException) -> bool:
    """The broker (or the client on its behalf) refuses this record; others may pass."""
    return isinstance(exc, RECORD_REFUSALS)


def is_destination_refusal(exc: BaseException) -> bool:
    """Nothing can be written to this topic as things stand (authorisation, naming, policy)."""
    return isinstance(exc, DESTINATION_REFUSALS)


def is_permanent_producer_error(exc: BaseException) -> bool:
    """True when sending the same record again cannot succeed without someone changing it
    or the cluster's configuration; False for outages (retry) and for non-Kafka errors."""
    return is_record_refusal(exc) or is_destination_refusal(exc)


def is_too_large(exc: BaseException) -> bool:
    """The record is over a size limit (the producer's or the topic's)."""
    return isinstance(
        exc,
        errors.MessageSizeTooLargeError
        | errors.RecordTooLargeError
        | errors.RecordListTooLargeError,
    )


def refusal_reason(exc: BaseException, topic: str) -> str:
    """One line that says what an operator or a caller can do about a permanent refusal."""
    if is_too_large(exc):
        return f"the record is larger than {topic} accepts ({type(exc).__name__})"
    if isinstance(
        exc, errors.TopicAuthorizationFailedError | errors.ClusterAuthorizationFailedError
    ):
        return f"this principal is not authorised to write to {topic} ({type(exc).__name__})"
    return f"{topic} refuses the record: {exc!r}"
