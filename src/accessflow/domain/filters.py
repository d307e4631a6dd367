"""A filter on a collection, as the API parsed it and a read model applies it.

The parse tree of accessflow's ``$filter`` subset is flat: conditions joined with ``and``.
Each :class:`Comparison` names a Graph property (``accessPackage/id``), an operator and a
typed, already checked value; a read model maps the property to its own expression and
binds the value, so no client text becomes a query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Comparison:
    field: str  # a Graph property path such as ``accessPackage/id``
    op: str  # eq, gt, ge, lt, le
    value: Any
