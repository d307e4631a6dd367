"""Event ids are the contract's UUIDv5s, whatever shortcut computes them."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from accessflow.service.events import (
    EVENT_ID_NAMESPACE,
    assignment_event_id,
    event_uuid,
    rejection_event_id,
    state_changed_event_id,
)
from accessflow.service.ids import uuid5


@given(st.text())
def test_event_uuid_is_uuid5_of_the_namespace(name: str) -> None:
    assert event_uuid(name) == uuid.uuid5(EVENT_ID_NAMESPACE, name)


@given(st.uuids(), st.text())
def test_uuid5_is_the_standard_one(namespace: uuid.UUID, name: str) -> None:
    assert uuid5(namespace, name) == uuid.uuid5(namespace, name)


@given(st.uuids(), st.integers(min_value=1, max_value=10_000), st.text(min_size=1))
def test_each_event_id_is_uuid5_of_its_documented_name(
    request_id: uuid.UUID, sequence: int, command_id: str
) -> None:
    rid = str(request_id)
    assert state_changed_event_id(rid.upper(), sequence) == uuid.uuid5(
        EVENT_ID_NAMESPACE, f"{rid}:{sequence}"
    )
    assert assignment_event_id(request_id, sequence) == uuid.uuid5(
        EVENT_ID_NAMESPACE, f"assignment:{rid}:{sequence}"
    )
    assert rejection_event_id(command_id) == uuid.uuid5(
        EVENT_ID_NAMESPACE, f"rejected:{command_id}"
    )
