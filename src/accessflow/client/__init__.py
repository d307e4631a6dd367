"""accessflow's Python client: produce commands to Kafka and follow the events they cause.

>>> async with AccessflowProducer(settings) as client:          # doctest: +SKIP
...     request_id = await client.create_request(megan, body)
>>> await wait_for_terminal(settings, request_id, timeout_s=30)  # doctest: +SKIP

See ``docs/client.md``.
"""

from __future__ import annotations

from accessflow.client.producer import (
    AccessflowProducer,
    CommandRefusedError,
    NewRequest,
    build_create,
)
from accessflow.client.subscriber import (
    TERMINAL_STATES,
    EventOrderer,
    subscribe,
    subscription,
    terminal_states,
    wait_for_terminal,
)
from accessflow.domain.create import CreateAssignmentRequest
from accessflow.domain.errors import RequestValidationError
from accessflow.service.events import EventEnvelope, StateChanged
from accessflow.settings import Settings, load_settings

__all__ = [
    "TERMINAL_STATES",
    "AccessflowProducer",
    "CommandRefusedError",
    "CreateAssignmentRequest",
    "EventEnvelope",
    "EventOrderer",
    "NewRequest",
    "RequestValidationError",
    "Settings",
    "StateChanged",
    "build_create",
    "load_settings",
    "subscribe",
    "subscription",
    "terminal_states",
    "wait_for_terminal",
]
