"""What a permanent producer refusal (``errors.refusal``) means to whoever must act on it."""

from __future__ import annotations

from accessflow.adapters.kafka.errors import Refusal, refusal


def is_too_large(exc: BaseException) -> bool:
    """Over a size limit (the producer's or the topic's): the sender can send less."""
    return refusal(exc) is Refusal.MESSAGE_TOO_LARGE


def is_destination_refusal(exc: BaseException) -> bool:
    """Nothing can be written to the topic until an operator acts (ACLs, name, version)."""
    found = refusal(exc)
    return found is not None and not found.of_record


def refusal_reason(exc: BaseException, topic: str) -> str:
    """One line saying why ``topic`` refuses the record for good."""
    found = refusal(exc)
    what = (
        {
            Refusal.MESSAGE_TOO_LARGE: f"the record is larger than {topic} accepts",
            Refusal.INVALID_RECORD: f"{topic} refuses the record as invalid",
            Refusal.INVALID_TOPIC: f"{topic} is not a valid topic name",
            Refusal.NOT_AUTHORIZED: f"this principal is not authorised to write to {topic}",
            Refusal.UNSUPPORTED: f"the broker does not support this write to {topic}",
        }.get(found, f"{topic} refuses the record")
        if found
        else f"{topic} refuses the record"
    )
    return f"{what} ({type(exc).__name__})"
