"""A command Kafka will never take is answered at once, never as an outage to retry: the API
says 413 (too large) or 500 (a misconfigured topic or ACL), the client raises
CommandRefusedError; an outage stays a 503."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiokafka.errors import (
    InvalidTopicError,
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    TopicAuthorizationFailedError,
)

from accessflow.adapters.kafka.refusals import is_destination_refusal, refusal_reason
from accessflow.api.errors import ApiError
from accessflow.api.publisher import SOURCE, Publisher
from accessflow.domain.errors import DomainError
from accessflow.service.commands import CANCEL, command_envelope
from accessflow.settings import load_settings


class RefusingProducer:
    """send() raises ``at_send``, or the acknowledgement fails with ``at_ack``."""

    def __init__(self, at_send: Exception | None = None, at_ack: Exception | None = None) -> None:
        self.at_send, self.at_ack = at_send, at_ack

    async def send(self, *args: Any, **kwargs: Any) -> asyncio.Future[None]:
        if self.at_send is not None:
            raise self.at_send
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.at_ack is not None:
            future.set_exception(self.at_ack)
        else:
            future.set_result(None)
        return future


def _envelope() -> dict[str, Any]:
    return command_envelope(CANCEL, uuid.uuid4(), {}, source=SOURCE)


@pytest.mark.parametrize(
    ("producer", "status", "reason"),
    [
        (RefusingProducer(at_send=MessageSizeTooLargeError()), 413, "PayloadTooLarge"),
        (RefusingProducer(at_ack=MessageSizeTooLargeError()), 413, "PayloadTooLarge"),
        (RefusingProducer(at_ack=RecordListTooLargeError()), 413, "PayloadTooLarge"),
        (RefusingProducer(at_send=TopicAuthorizationFailedError()), 500, "CommandBusRefused"),
        (RefusingProducer(at_ack=InvalidTopicError()), 500, "CommandBusRefused"),
    ],
    ids=["too-large-client", "too-large-broker", "batch-too-large", "unauthorised", "bad-topic"],
)
async def test_a_permanent_refusal_is_a_client_or_server_error_never_503(
    producer: RefusingProducer, status: int, reason: str
) -> None:
    publisher = Publisher(load_settings(), producer)  # type: ignore[arg-type]
    with pytest.raises(ApiError) as refused:
        await publisher.publish(_envelope())
    assert (refused.value.status, refused.value.reason) == (status, reason)


@pytest.mark.parametrize("error", [KafkaConnectionError(), KafkaTimeoutError()])
async def test_an_outage_is_still_a_retriable_503(error: Exception) -> None:
    publisher = Publisher(load_settings(), RefusingProducer(at_ack=error))  # type: ignore[arg-type]
    with pytest.raises(DomainError) as unavailable:
        await publisher.publish(_envelope())
    assert unavailable.value.code.http_status == 503


@pytest.mark.parametrize(
    ("error", "destination", "reason"),
    [
        (MessageSizeTooLargeError(), False, "the record is larger than t accepts"),
        (TopicAuthorizationFailedError(), True, "this principal is not authorised to write to t"),
        (InvalidTopicError(), True, "t is not a valid topic name"),
    ],
)
def test_refusals_say_whose_move_it_is(error: Exception, destination: bool, reason: str) -> None:
    assert is_destination_refusal(error) is destination
    assert refusal_reason(error, "t") == f"{reason} ({type(error).__name__})"
