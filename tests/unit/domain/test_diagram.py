"""The Mermaid diagram is generated from the transition table and kept current in Markdown."""

from __future__ import annotations

from pathlib import Path

import pytest
from domain_support import ROOT

from accessflow.domain.diagram import (
    END,
    GRANT,
    MACHINES,
    STAGE,
    START,
    Machine,
    main,
    render_block,
    render_mermaid,
    replace_block,
)
from accessflow.domain.states import FINAL_STATES, TRANSITIONS


@pytest.mark.parametrize("document", ["README.md", "docs/domain.md", "docs/lifecycle.md"])
def test_the_state_diagram_in_the_docs_is_current(document: str) -> None:
    """Each document carries the diagram, exactly as the transition table renders it."""
    text = (ROOT / document).read_text(encoding="utf-8")
    assert START in text
    assert replace_block(text) == text, "run `make diagram`"


def test_diagram_has_one_edge_per_transition_and_ends_at_final_states() -> None:
    lines = render_mermaid().splitlines()
    assert lines[0] == "stateDiagram-v2"
    for t in TRANSITIONS:
        source = "[*]" if t.source is None else t.source.value
        assert f"    {source} --> {t.target.value}: {t.when}" in lines
    for state in FINAL_STATES:
        assert f"    {state.value} --> [*]" in lines
    assert len(lines) == 1 + len(TRANSITIONS) + len(FINAL_STATES)


@pytest.mark.parametrize("machine", [STAGE, GRANT], ids=lambda m: m.name)
def test_the_lifecycle_doc_carries_the_stage_and_grant_diagrams(machine: Machine) -> None:
    text = (ROOT / "docs/lifecycle.md").read_text(encoding="utf-8")
    assert render_block(machine) in text


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.name)
def test_each_diagram_has_one_edge_per_transition(machine: Machine) -> None:
    lines = render_mermaid(machine).splitlines()
    edges = [line for line in lines[1:] if not line.endswith("--> [*]")]
    assert len(edges) == len(machine.transitions)
    assert len(lines) == 1 + len(machine.transitions) + len(machine.final)


def stale(tmp_path: Path) -> Path:
    path = tmp_path / "doc.md"
    path.write_text(f"# Title\n\n{START}\nold\n{END}\n\ntail\n", encoding="utf-8")
    return path


def test_check_exits_1_on_a_stale_file_and_leaves_it_alone(tmp_path: Path) -> None:
    path = stale(tmp_path)
    before = path.read_text(encoding="utf-8")
    assert main(["--check", str(path)]) == 1
    assert path.read_text(encoding="utf-8") == before


def test_update_rewrites_only_between_the_markers_then_check_passes(tmp_path: Path) -> None:
    path = stale(tmp_path)
    assert main([str(path)]) == 0
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Title\n\n")
    assert text.endswith("\n\ntail\n")
    assert render_mermaid() in text
    assert main(["--check", str(path)]) == 0


def test_a_file_with_only_the_request_diagram_needs_no_other(tmp_path: Path) -> None:
    path = stale(tmp_path)
    assert main([str(path)]) == 0
    assert STAGE.start not in path.read_text(encoding="utf-8")


def test_a_file_without_markers_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "plain.md"
    path.write_text("no markers\n", encoding="utf-8")
    assert main(["--check", str(path)]) == 2
    assert main([str(path)]) == 2
