"""JSON Schemas of every wire-contract message, generated from the pydantic models.

The checked-in copies in ``docs/schemas/`` are what producers and consumers read; a test
fails when they drift from the models (``make schemas`` rewrites them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from accessflow.service import commands, dead_letters, events
from accessflow.service.commands import CommandEnvelope


def _command(type_name: str, data_model: type[BaseModel]) -> type[BaseModel]:
    """The envelope with ``type`` pinned and ``data`` typed, for one command type."""
    return type(
        data_model.__name__.removesuffix("Data") + "Command",
        (CommandEnvelope,),
        {
            "__annotations__": {"type": Literal[type_name], "data": data_model},
            "__doc__": f"The ``{type_name}`` command (wire contract v1).",
        },
    )


class _StateChangedEvent(events.EventEnvelope):
    """``accessflow.assignmentRequest.stateChanged`` (wire contract v1)."""

    model_config = ConfigDict(title="StateChangedEvent")
    type: Literal["accessflow.assignmentRequest.stateChanged"]
    data: events.StateChanged = Field()


class _CommandRejectedEvent(events.EventEnvelope):
    """``accessflow.command.rejected`` (wire contract v1)."""

    model_config = ConfigDict(title="CommandRejectedEvent")
    type: Literal["accessflow.command.rejected"]
    data: events.CommandRejected = Field()


class _AssignmentChangedEvent(events.EventEnvelope):
    """``accessflow.assignment.stateChanged`` (wire contract v1, accessflow's addition)."""

    model_config = ConfigDict(title="AssignmentChangedEvent")
    type: Literal["accessflow.assignment.stateChanged"]
    data: events.AssignmentChanged = Field()


def message_models() -> dict[str, tuple[type[BaseModel], Literal["validation", "serialization"]]]:
    return {
        commands.CREATE: (_command(commands.CREATE, commands.CreateData), "validation"),
        commands.CANCEL: (_command(commands.CANCEL, commands.CancelData), "validation"),
        commands.REPROCESS: (_command(commands.REPROCESS, commands.ReprocessData), "validation"),
        commands.DECIDE: (_command(commands.DECIDE, commands.DecideData), "validation"),
        events.STATE_CHANGED: (_StateChangedEvent, "serialization"),
        events.COMMAND_REJECTED: (_CommandRejectedEvent, "serialization"),
        events.ASSIGNMENT_CHANGED: (_AssignmentChangedEvent, "serialization"),
        dead_letters.REFERENCE_KIND: (dead_letters.DlqReference, "serialization"),
    }


def generate() -> dict[str, dict[str, Any]]:
    """File name → schema, for every message of the contract."""
    out = {}
    for name, (model, mode) in message_models().items():
        schema = model.model_json_schema(by_alias=True, mode=mode)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"urn:accessflow:schema:v1:{name}"
        out[f"{name}.schema.json"] = schema
    return out


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, schema in generate().items():
        path = directory / file_name
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written
