"""Which Kafka producer errors a retry can fix, and which it never will.

Every write path (the outbox relay, the DLQ, the API's publisher, the CLI) asks the same
question when a send fails: is the broker away or busy (wait and send again, in order), or
has it refused this record or this topic, in which case the same send fails the same way
forever? Retrying a refusal is what stalls a pipeline, so the answer lives here, once.

A refusal is either of the *record* (too large, malformed: the next record may well go
through, so the caller sets this one aside, e.g. parks it) or of the *destination* (the topic
is invalid or not ours to write, the broker does not speak the request: nothing will go
through until an operator acts, so the caller stops and says so). Everything else, including
errors this module does not know, is transient: waiting is never wrong, only slow.
"""

from __future__ import annotations

from enum import StrEnum

from aiokafka import errors as kafka_errors
from aiokafka.errors import BrokerResponseError, RecordTooLargeError


class Refusal(StrEnum):
    """Why the broker (or the producer, before sending) will never accept a send."""

    MESSAGE_TOO_LARGE = "MessageTooLarge"
    INVALID_RECORD = "InvalidRecord"
    INVALID_TOPIC = "InvalidTopic"
    NOT_AUTHORIZED = "NotAuthorized"
    UNSUPPORTED = "Unsupported"

    @property
    def of_record(self) -> bool:
        """True when only this record is refused; other records to the topic may succeed."""
        return self in (Refusal.MESSAGE_TOO_LARGE, Refusal.INVALID_RECORD)


class InvalidRecordError(BrokerResponseError):  # type: ignore[misc]
    """INVALID_RECORD (87): the broker's validation rejected a record (e.g. no key on a
    compacted topic). aiokafka 0.14 knows codes up to 79 only and would report this one as
    UnknownError, which says nothing; registered below unless aiokafka has its own."""

    errno = 87
    message = "INVALID_RECORD"
    description = "This record has failed the validation on broker and hence be rejected."


kafka_errors.kafka_errors.setdefault(InvalidRecordError.errno, InvalidRecordError)

# By broker error code rather than by class, so a class a later aiokafka adds for a code
# (87 above) is classified the same.
_BY_ERRNO: dict[int, Refusal] = {
    10: Refusal.MESSAGE_TOO_LARGE,  # MESSAGE_TOO_LARGE: record or batch over the topic's limit
    18: Refusal.MESSAGE_TOO_LARGE,  # RECORD_LIST_TOO_LARGE: batch over the segment size
    2: Refusal.INVALID_RECORD,  # CORRUPT_MESSAGE: fails its CRC or the format's checks
    32: Refusal.INVALID_RECORD,  # INVALID_TIMESTAMP: outside message.timestamp.*.max.ms
    87: Refusal.INVALID_RECORD,  # INVALID_RECORD: the broker's validation rejected it
    17: Refusal.INVALID_TOPIC,  # INVALID_TOPIC_EXCEPTION: a name no topic can have
    29: Refusal.NOT_AUTHORIZED,  # TOPIC_AUTHORIZATION_FAILED: ACLs deny writing the topic
    31: Refusal.NOT_AUTHORIZED,  # CLUSTER_AUTHORIZATION_FAILED: e.g. IdempotentWrite denied
    35: Refusal.UNSUPPORTED,  # UNSUPPORTED_VERSION: the broker does not speak this request
    43: Refusal.UNSUPPORTED,  # UNSUPPORTED_FOR_MESSAGE_FORMAT: topic format too old (headers)
}


def refusal(exc: BaseException) -> Refusal | None:
    """Why ``exc`` will recur however often the send is retried; None if it may not."""
    if isinstance(exc, BrokerResponseError):
        return _BY_ERRNO.get(getattr(exc, "errno", -1))
    if isinstance(exc, RecordTooLargeError):
        return Refusal.MESSAGE_TOO_LARGE
    return None


def is_permanent(exc: BaseException) -> bool:
    """A producer error no retry will fix (the caller must not send the same thing again)."""
    return refusal(exc) is not None


def is_record_refusal(exc: BaseException) -> bool:
    """The broker refused this record (not the topic): set it aside, send the others."""
    found = refusal(exc)
    return found is not None and found.of_record
