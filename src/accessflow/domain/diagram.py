"""Render the transition tables as Mermaid and keep Markdown files in step with them.

``python -m accessflow.domain.diagram [--check] FILE…`` replaces what lies between
``<!-- state-diagram:start -->`` and ``<!-- state-diagram:end -->`` in each FILE with the
request's diagram, and likewise between ``stage-diagram`` (approval stages) and
``grant-diagram`` (grants) markers where a FILE has them; with ``--check`` it changes
nothing and exits 1 if any FILE is stale. A FILE without the request's markers is an error
(exit 2), so a lost marker cannot pass silently.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Collection, Sequence
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

from accessflow.domain import approval_states, grant_states, states


class Machine(NamedTuple):
    """One state machine as the diagram shows it: its markers' name, table, final states."""

    name: str
    transitions: Sequence[tuple[StrEnum | None, StrEnum, str]]
    final: Collection[StrEnum]

    @property
    def start(self) -> str:
        return f"<!-- {self.name}:start -->"

    @property
    def end(self) -> str:
        return f"<!-- {self.name}:end -->"


REQUEST = Machine("state-diagram", states.TRANSITIONS, states.FINAL_STATES)
STAGE = Machine(
    "stage-diagram", approval_states.STAGE_TRANSITIONS, approval_states.FINAL_STAGE_STATUSES
)
GRANT = Machine("grant-diagram", grant_states.TRANSITIONS, grant_states.FINAL_STATES)
#: The request's diagram is required in every file; the others where their markers are.
MACHINES = (REQUEST, STAGE, GRANT)
START = REQUEST.start
END = REQUEST.end


def render_mermaid(machine: Machine = REQUEST) -> str:
    """The state diagram (``stateDiagram-v2``), generated from the machine's table."""
    lines = ["stateDiagram-v2"]
    for source, target, when in machine.transitions:
        start = "[*]" if source is None else source.value
        lines.append(f"    {start} --> {target.value}: {when}")
    lines.extend(f"    {state.value} --> [*]" for state in sorted(machine.final))
    return "\n".join(lines) + "\n"


def render_block(machine: Machine = REQUEST) -> str:
    return f"{machine.start}\n```mermaid\n{render_mermaid(machine)}```\n{machine.end}"


class MarkersMissingError(ValueError):
    pass


def replace_block(text: str) -> str:
    """``text`` with every diagram between its markers brought up to date."""
    for machine in MACHINES:
        start = text.find(machine.start)
        end = text.find(machine.end, start + len(machine.start)) if start >= 0 else -1
        if start < 0 or end < 0:
            if machine is REQUEST:
                raise MarkersMissingError(f"expected {machine.start} … {machine.end}")
            continue
        text = text[:start] + render_block(machine) + text[end + len(machine.end) :]
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m accessflow.domain.diagram")
    parser.add_argument("--check", action="store_true", help="exit 1 if any file is stale")
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    stale = []
    for path in args.files:
        text = path.read_text(encoding="utf-8")
        try:
            updated = replace_block(text)
        except MarkersMissingError as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            return 2
        if updated == text:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(updated, encoding="utf-8")
            print(f"{path}: state diagrams updated")
    if args.check and stale:
        for path in stale:
            print(f"{path}: state diagram is stale; run `make diagram`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
