"""Which Kafka producer errors are refusals (never retried) and which are outages."""

from __future__ import annotations

import pytest
from aiokafka import errors as kafka

from accessflow.adapters.kafka.errors import (
    InvalidRecordError,
    Refusal,
    is_permanent,
    is_record_refusal,
    refusal,
)
from accessflow.entrypoints.retry import is_transient


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (kafka.MessageSizeTooLargeError(), Refusal.MESSAGE_TOO_LARGE),
        (kafka.RecordListTooLargeError(), Refusal.MESSAGE_TOO_LARGE),
        (kafka.RecordTooLargeError(), Refusal.MESSAGE_TOO_LARGE),
        (kafka.CorruptRecordException(), Refusal.INVALID_RECORD),
        (kafka.InvalidTimestampError(), Refusal.INVALID_RECORD),
        (InvalidRecordError(), Refusal.INVALID_RECORD),
        (kafka.InvalidTopicError(), Refusal.INVALID_TOPIC),
        (kafka.TopicAuthorizationFailedError("events"), Refusal.NOT_AUTHORIZED),
        (kafka.ClusterAuthorizationFailedError(), Refusal.NOT_AUTHORIZED),
        (kafka.UnsupportedVersionError(), Refusal.UNSUPPORTED),
        (kafka.UnsupportedForMessageFormatError(), Refusal.UNSUPPORTED),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_refusals_are_permanent_and_never_transient(error: Exception, expected: Refusal) -> None:
    assert refusal(error) is expected
    assert is_permanent(error)
    assert not is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        kafka.KafkaConnectionError(),
        kafka.KafkaTimeoutError(),
        kafka.RequestTimedOutError(),
        kafka.NotLeaderForPartitionError(),
        kafka.LeaderNotAvailableError(),
        kafka.NotEnoughReplicasError(),
        kafka.UnknownTopicOrPartitionError(),
        kafka.KafkaStorageError(),
        kafka.OutOfOrderSequenceNumber(),
        kafka.UnknownProducerId(),
        kafka.UnknownError(),
        kafka.KafkaError("something new"),
    ],
    ids=type,
)
def test_everything_else_from_kafka_is_retried(error: Exception) -> None:
    assert refusal(error) is None
    assert not is_permanent(error)
    assert is_transient(error)


def test_only_record_refusals_spare_the_other_records() -> None:
    assert is_record_refusal(kafka.MessageSizeTooLargeError())
    assert is_record_refusal(kafka.CorruptRecordException())
    assert not is_record_refusal(kafka.TopicAuthorizationFailedError("events"))
    assert not is_record_refusal(kafka.UnsupportedVersionError())
    assert not is_record_refusal(kafka.KafkaTimeoutError())
    assert not is_record_refusal(ValueError("not Kafka"))


def test_the_broker_code_aiokafka_does_not_know_reads_as_invalid_record() -> None:
    """A produce response with INVALID_RECORD (87) becomes this error, not UnknownError."""
    assert kafka.for_code(87) is InvalidRecordError
    assert refusal(kafka.for_code(87)()) is Refusal.INVALID_RECORD


def test_errors_of_other_libraries_are_not_refusals() -> None:
    assert refusal(ValueError("bad")) is None
    assert refusal(OSError("reset")) is None
