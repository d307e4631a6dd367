"""The layers import one way (docs/development.md, Layers), read from the source's imports
(top level and inside functions alike), so an upward arrow or a cycle cannot come back."""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
from collections.abc import Iterator
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "accessflow"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path) -> Iterator[tuple[str, str | None]]:
    """(module, imported name or None) for every absolute import in the file."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                yield node.module, alias.name


IMPORTS = {name: list(_imports(path)) for name, path in MODULES.items()}


def _in(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _violations(layer: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{module} imports {target}"
        for module, targets in IMPORTS.items()
        if _in(module, layer)
        for target, _ in targets
        if _in(target, *forbidden)
    ]


OUTER = ("accessflow.adapters", "accessflow.entrypoints", "accessflow.api")
TOOLS = ("accessflow.bench", "accessflow.client", "accessflow.bootstrap")


def test_the_domain_imports_only_the_standard_library_pydantic_and_re2() -> None:
    allowed = set(sys.stdlib_module_names) | {"pydantic", "pydantic_core", "re2"}
    wrong = [
        f"{module} imports {target}"
        for module, targets in IMPORTS.items()
        if _in(module, "accessflow.domain")
        for target, _ in targets
        if not _in(target, "accessflow.domain") and target.split(".")[0] not in allowed
    ]
    assert wrong == []


def test_the_service_layer_imports_no_adapter_entrypoint_or_api() -> None:
    assert _violations("accessflow.service", (*OUTER, *TOOLS, "accessflow.settings")) == []


def test_adapters_import_no_entrypoint_or_api() -> None:
    assert (
        _violations("accessflow.adapters", ("accessflow.entrypoints", "accessflow.api", *TOOLS))
        == []
    )


def test_the_client_needs_only_its_own_config() -> None:
    """No server settings, no server processes: the client runs with ``ClientConfig``."""
    forbidden = (
        "accessflow.settings",
        "accessflow.entrypoints",
        "accessflow.api",
        "accessflow.bench",
        "accessflow.bootstrap",
    )
    assert _violations("accessflow.client", forbidden) == []


def test_nothing_outside_the_benchmark_imports_it() -> None:
    """``accessflow-bench`` is its own command: the production CLI never loads ``bench``."""
    wrong = [
        f"{module} imports {target}"
        for module, targets in IMPORTS.items()
        if not _in(module, "accessflow.bench")
        for target, _ in targets
        if _in(target, "accessflow.bench")
    ]
    assert wrong == []


# The API's wiring (the app, its context) and its producer adapter hold adapter objects;
# every other API module works with the service's records and reaches adapters only
# through functions.
API_WIRING = {"accessflow.api.app", "accessflow.api.deps", "accessflow.api.publisher"}


def test_no_adapter_type_appears_in_the_api() -> None:
    wrong = []
    for module, targets in IMPORTS.items():
        if not _in(module, "accessflow.api") or module in API_WIRING:
            continue
        wrong += [
            f"{module} imports {target}.{name}"
            for target, name in targets
            if _in(target, "accessflow.adapters")
            and name is not None
            and inspect.isclass(getattr(importlib.import_module(target), name, None))
        ]
    assert wrong == []


def test_there_is_no_import_cycle() -> None:
    graph = {
        module: {
            candidate
            for target, name in targets
            for candidate in (target, f"{target}.{name}")
            if candidate in MODULES
            and candidate != module
            and not module.startswith(candidate + ".")
        }
        for module, targets in IMPORTS.items()
    }
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")
