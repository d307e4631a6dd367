"""Helpers of the handlers' unit tests: run a batch, read back what it recorded."""

from __future__ import annotations

import copy
import uuid
from datetime import datetime

import orjson
import yaml
from command_support import EXAMPLE_CATALOG, NOW, SALES, catalog_with_outside_resources

from accessflow.adapters.memory import InMemoryUnitOfWork
from accessflow.domain.catalog import Catalog, load_catalog
from accessflow.service.connectors import Connector, ConnectorRegistry
from accessflow.service.delivery_rounds import Delivered, RetryPolicy, deliver_due
from accessflow.service.events import CommandRejected, EventEnvelope, StateChanged
from accessflow.service.handlers import CommandOutcome, handle_batch
from accessflow.service.types import Item

__all__ = ["catalog_with_outside_resources"]


async def run(uow: InMemoryUnitOfWork, *items: Item, now: datetime = NOW) -> list[CommandOutcome]:
    outcomes, _ = await handle_batch(items, uow, now)
    return outcomes


async def deliver(
    uow: InMemoryUnitOfWork,
    connector: Connector | None = None,
    now: datetime = NOW,
    policy: RetryPolicy | None = None,
) -> list[Delivered]:
    """One round of the delivery loop: every grant due by ``now`` sent and recorded
    (no connector configured: every outside resource fails, as in a bare install)."""
    registry = connector or ConnectorRegistry({})
    delivered, _ = await deliver_due(uow, registry, now, policy or RetryPolicy())
    return delivered


def events(uow: InMemoryUnitOfWork) -> list[EventEnvelope]:
    """Every event in the outbox, each validated against the published event model."""
    parsed = []
    for event in uow.outbox_events():
        envelope = EventEnvelope.model_validate(orjson.loads(event.payload))
        assert envelope.id == str(event.event_id)
        assert envelope.type == event.event_type
        assert envelope.subject == event.key
        parsed.append(envelope)
    return parsed


def rejections(uow: InMemoryUnitOfWork) -> dict[str, str]:
    """Command id → reason code of every rejection event."""
    out = {}
    for envelope in events(uow):
        if isinstance(envelope.data, CommandRejected):
            out[envelope.data.command_id] = envelope.data.reason.code
    return out


def transitions(uow: InMemoryUnitOfWork, request_id: uuid.UUID) -> list[tuple[str, str | None]]:
    """(state, reason code) of every state-changed event of the request, in order."""
    out = []
    for envelope in events(uow):
        data = envelope.data
        if isinstance(data, StateChanged) and data.request_id == request_id:
            out.append((data.state, data.reason.code if data.reason else None))
    return out


def catalog_without_group_connector() -> Catalog:
    """The example catalog with "Sales reports" granting a SharePoint site: no connector
    delivers it, so its requests end deliveryFailed."""
    document = yaml.safe_load(EXAMPLE_CATALOG.read_text(encoding="utf-8"))
    edited = copy.deepcopy(document)
    for package in edited["accessPackages"]:
        if package["id"] == SALES:
            for scope in package["resourceRoleScopes"]:
                scope["role"]["originSystem"] = "SharePointOnline"
                scope["scope"]["originSystem"] = "SharePointOnline"
    return load_catalog(edited)
