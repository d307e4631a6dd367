"""How the relay sorts one batch's rows by the send's outcome."""

from __future__ import annotations

from aiokafka.errors import MessageSizeTooLargeError

from accessflow.adapters.kafka.batches import Delivery, SendReport
from accessflow.adapters.postgres.outbox import OutboxRow
from accessflow.adapters.postgres.parked import BEHIND_PARKED
from accessflow.entrypoints.parking import settlement


def row(id_: int, key: str, *, blocked: bool = False) -> OutboxRow:
    return OutboxRow(
        id_, f"event-{id_}", "accessflow.assignmentRequest.stateChanged", key, b"{}", blocked
    )


def test_sent_rows_go_refused_and_behind_rows_park_and_unsent_rows_stay() -> None:
    rows = [
        row(1, "a"),
        row(2, "a"),
        row(3, "b", blocked=True),
        row(4, "a"),
        row(5, "c"),
        row(6, "d"),
    ]
    # The report covers the rows that were not blocked, in order: 1, 2, 4, 5, 6.
    report = SendReport(
        [Delivery.SENT, Delivery.REFUSED, Delivery.BEHIND_REFUSED, Delivery.SENT, Delivery.UNSENT],
        errors={1: MessageSizeTooLargeError("a message of 20000 bytes is over 10000")},
    )
    outcome = settlement(rows, report)

    assert outcome.sent == [1, 5]
    assert [(p.outbox_id, p.reason) for p in outcome.refused] == [(2, "MessageTooLarge")]
    assert "a message of 20000 bytes is over 10000" in outcome.refused[0].error_message
    assert [(p.outbox_id, p.reason) for p in outcome.behind] == [
        (3, BEHIND_PARKED),
        (4, BEHIND_PARKED),
    ]
    assert "b is parked" in outcome.behind[0].error_message


def test_an_error_without_a_message_is_named() -> None:
    report = SendReport([Delivery.REFUSED], errors={0: MessageSizeTooLargeError()})
    outcome = settlement([row(7, "a")], report)
    assert outcome.refused[0].reason == "MessageTooLarge"
    assert outcome.refused[0].error_message
