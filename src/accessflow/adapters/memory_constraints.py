"""The database constraints the in-memory store enforces, row by row, with asyncpg's
exception names, ``constraint_name`` and ``column_name`` (see :mod:`.memory`)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import TypeVar

_K = TypeVar("_K")
_V = TypeVar("_V")


class IntegrityViolation(ValueError):  # noqa: N818 - mirrors asyncpg's class names below
    """A write the database's constraints refuse; the batch rolls back."""

    def __init__(self, constraint: str | None, message: str, column: str | None = None) -> None:
        super().__init__(f"{constraint or column}: {message}")
        self.constraint_name = constraint
        self.column_name = column


class UniqueViolationError(IntegrityViolation):
    """A primary key or unique index already holds this value."""


class ForeignKeyViolationError(IntegrityViolation):
    """A row names a parent row that does not exist."""


class NotNullViolationError(IntegrityViolation):
    """A ``NOT NULL`` column left empty (``column_name`` says which, as in asyncpg)."""


def insert(table: dict[_K, _V], key: _K, value: _V, constraint: str) -> None:
    if key in table:
        raise UniqueViolationError(constraint, f"{key} exists")
    table[key] = value


def parent(table: Collection[uuid.UUID], key: uuid.UUID, constraint: str) -> None:
    if key not in table:
        raise ForeignKeyViolationError(constraint, f"{key} is not present")


def not_null(**columns: object) -> None:
    for column, value in columns.items():
        if value is None:
            raise NotNullViolationError(None, "null value in a NOT NULL column", column)
