"""accessflow's Python client: produce commands to Kafka and follow the events they cause.

>>> config = load_client_config()  # ACCESSFLOW_KAFKA_*, ACCESSFLOW_*_TOPIC  # doctest: +SKIP
>>> async with AccessflowProducer(config) as client:             # doctest: +SKIP
...     request_id = await client.create_request(megan, body)
>>> await wait_for_terminal(config, request_id, timeout_s=30)    # doctest: +SKIP

See ``docs/client.md``.
"""

from __future__ import annotations

from accessflow.client.config import ClientConfig, load_client_config
from accessflow.client.producer import (
    AccessflowProducer,
    CommandRefusedError,
    NewRequest,
    build_create,
)
from accessflow.client.reads import GraphReads, Page
from accessflow.client.subscriber import (
    TERMINAL_STATES,
    EventOrderer,
    subscribe,
    subscription,
    terminal_states,
    wait_for_terminal,
)
from accessflow.domain.create_body import CreateAssignmentRequest
from accessflow.domain.errors import RequestValidationError
from accessflow.service.events import EventEnvelope, StateChanged

__all__ = [
    "TERMINAL_STATES",
    "AccessflowProducer",
    "ClientConfig",
    "CommandRefusedError",
    "CreateAssignmentRequest",
    "EventEnvelope",
    "EventOrderer",
    "GraphReads",
    "NewRequest",
    "Page",
    "RequestValidationError",
    "StateChanged",
    "build_create",
    "load_client_config",
    "subscribe",
    "subscription",
    "terminal_states",
    "wait_for_terminal",
]
