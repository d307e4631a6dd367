"""Reading a catalog file into the domain's :class:`~accessflow.domain.catalog.Catalog`:
file and YAML at the edge, validation by the domain's pure :func:`load_catalog`. JSON is
read as JSON; anything else as YAML (a superset of JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from accessflow.domain.catalog import Catalog, load_catalog
from accessflow.domain.errors import CatalogValidationError, ErrorDetail


def parse_catalog_text(text: str, *, is_json: bool = False) -> Catalog:
    """Decode YAML (or JSON) text and validate it with :func:`load_catalog`."""
    try:
        document = json.loads(text) if is_json else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise CatalogValidationError(
            [ErrorDetail("", f"not valid JSON: {exc.msg} at line {exc.lineno}")]
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise CatalogValidationError([ErrorDetail("", f"not valid YAML{where}")]) from None
    return load_catalog(document)


def read_catalog_file(path: Path) -> Catalog:
    """Read and validate the catalog at ``path`` (``.json`` as JSON, otherwise YAML)."""
    text = path.read_text(encoding="utf-8")
    return parse_catalog_text(text, is_json=path.suffix.lower() == ".json")
