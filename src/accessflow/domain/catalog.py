"""The catalog file (``accessflow catalog apply PATH``): parse, validate, cross-reference.

Pure: takes an already-decoded document (see ``catalog_file`` for YAML/JSON text and paths).
Every problem is collected, each with its path in the file
(``assignmentPolicies[2].requestApprovalSettings.stages[0].primaryApprovers[0].userId``), and
raised together as one :class:`CatalogValidationError`, so a file is fixed in one pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from accessflow.domain.catalog_checks import Sections, reference_problems
from accessflow.domain.errors import CatalogValidationError, ErrorDetail, format_loc
from accessflow.domain.models.packages import (
    AccessPackage,
    AccessPackageCatalog,
    DirectoryGroup,
    DirectoryUser,
)
from accessflow.domain.models.policies import AccessPackageAssignmentPolicy

M = TypeVar("M", bound=BaseModel)

SECTION_MODELS: dict[str, type[BaseModel]] = {
    "users": DirectoryUser,
    "groups": DirectoryGroup,
    "catalogs": AccessPackageCatalog,
    "accessPackages": AccessPackage,
    "assignmentPolicies": AccessPackageAssignmentPolicy,
}


def fold(identifier: str) -> str:
    """Graph ids are GUIDs, compared case-insensitively (one Graph example is upper case)."""
    return identifier.casefold()


@dataclass(frozen=True)
class Catalog:
    """A validated catalog and directory, each keyed by :func:`fold` of its id, in file order."""

    users: Mapping[str, DirectoryUser] = field(default_factory=dict)
    groups: Mapping[str, DirectoryGroup] = field(default_factory=dict)
    catalogs: Mapping[str, AccessPackageCatalog] = field(default_factory=dict)
    access_packages: Mapping[str, AccessPackage] = field(default_factory=dict)
    assignment_policies: Mapping[str, AccessPackageAssignmentPolicy] = field(default_factory=dict)


def load_catalog(document: object) -> Catalog:
    """Validate a decoded catalog document; raise :class:`CatalogValidationError` listing
    every problem, or return the :class:`Catalog`."""
    if not isinstance(document, Mapping):
        raise CatalogValidationError(
            [ErrorDetail("", "a catalog is a mapping of " + ", ".join(SECTION_MODELS))]
        )
    problems = [
        ErrorDetail(str(key), f"unknown section; expected one of {', '.join(SECTION_MODELS)}")
        for key in document
        if key not in SECTION_MODELS
    ]
    sections = Sections(
        users=_section(document, "users", DirectoryUser, problems),
        groups=_section(document, "groups", DirectoryGroup, problems),
        catalogs=_section(document, "catalogs", AccessPackageCatalog, problems),
        packages=_section(document, "accessPackages", AccessPackage, problems),
        policies=_section(document, "assignmentPolicies", AccessPackageAssignmentPolicy, problems),
    )
    problems.extend(reference_problems(sections, document))
    if problems:
        raise CatalogValidationError(problems)
    return Catalog(
        users={fold(u.id): u for _, u in sections.users},
        groups={fold(g.id): g for _, g in sections.groups},
        catalogs={fold(c.id): c for _, c in sections.catalogs},
        access_packages={fold(p.id): p for _, p in sections.packages},
        assignment_policies={fold(p.id): p for _, p in sections.policies},
    )


def _section(
    document: Mapping[Any, Any], name: str, model: type[M], problems: list[ErrorDetail]
) -> list[tuple[int, M]]:
    """The entries of one section that parse, with their index; problems for the others."""
    raw = document.get(name)
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(ErrorDetail(name, "must be a list"))
        return []
    entries: list[tuple[int, M]] = []
    for index, item in enumerate(raw):
        try:
            entries.append((index, model.model_validate(item)))
        except ValidationError as exc:
            named = _entry_name(name, item)
            for error in exc.errors():
                where = format_loc(error["loc"])
                path = f"{name}[{index}]" + (f".{where}" if where and where[0] != "[" else where)
                message = error["msg"].removeprefix("Value error, ")
                problems.append(ErrorDetail(path, f"{named}: {message}" if named else message))
    return entries


_ENTRY_NOUNS = {
    "users": "user",
    "groups": "group",
    "catalogs": "catalog",
    "accessPackages": "access package",
    "assignmentPolicies": "policy",
}


def _entry_name(section: str, item: Any) -> str | None:
    """``policy p1 ('Sales')``: an entry's id and display name, as operators look entries up
    by them rather than by their index in the file."""
    if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
        return None
    display_name = item.get("displayName")
    suffix = f" ({display_name!r})" if isinstance(display_name, str) and display_name else ""
    return f"{_ENTRY_NOUNS[section]} {item['id']}{suffix}"
