"""Render the transition table as Mermaid and keep Markdown files in step with it.

``python -m accessflow.domain.diagram [--check] FILE…`` replaces what lies between
``<!-- state-diagram:start -->`` and ``<!-- state-diagram:end -->`` in each FILE with the
diagram; with ``--check`` it changes nothing and exits 1 if any FILE is stale. A FILE without
the markers is an error (exit 2), so a lost marker cannot pass silently.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from accessflow.domain.states import FINAL_STATES, TRANSITIONS

START = "<!-- state-diagram:start -->"
END = "<!-- state-diagram:end -->"


def render_mermaid() -> str:
    """The state diagram (``stateDiagram-v2``), generated from :data:`TRANSITIONS`."""
    lines = ["stateDiagram-v2"]
    for t in TRANSITIONS:
        source = "[*]" if t.source is None else t.source.value
        lines.append(f"    {source} --> {t.target.value}: {t.when}")
    lines.extend(f"    {state.value} --> [*]" for state in sorted(FINAL_STATES))
    return "\n".join(lines) + "\n"


def render_block() -> str:
    return f"{START}\n```mermaid\n{render_mermaid()}```\n{END}"


class MarkersMissingError(ValueError):
    pass


def replace_block(text: str) -> str:
    """``text`` with the diagram between the markers brought up to date."""
    start = text.find(START)
    end = text.find(END, start + len(START)) if start >= 0 else -1
    if start < 0 or end < 0:
        raise MarkersMissingError(f"expected {START} … {END}")
    return text[:start] + render_block() + text[end + len(END) :]


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
            print(f"{path}: state diagram updated")
    if args.check and stale:
        for path in stale:
            print(f"{path}: state diagram is stale; run `make diagram`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
