"""Domain errors: each carries a :class:`ReasonCode`, a message and whether a retry can help.

The worker alone maps these to skip / reject / retry / DLQ and the API alone maps them to
Graph error bodies (``code.http_status``, ``code.graph_code``, ``details`` → ``details[]``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from accessflow.domain.codes import ReasonCode


class ErrorDetail(NamedTuple):
    """One problem: where (a dotted/indexed path such as ``assignment.targetId``) and what."""

    path: str
    message: str


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    code: ReasonCode

    def __init__(
        self,
        code: ReasonCode,
        message: str,
        *,
        details: Iterable[ErrorDetail] = (),
        retriable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details: tuple[ErrorDetail, ...] = tuple(details)
        self.retriable = code.retriable if retriable is None else retriable

    def __str__(self) -> str:
        if not self.details:
            return f"{self.code}: {self.message}"
        lines = "\n".join(f"  {d.path or '(root)'}: {d.message}" for d in self.details)
        return f"{self.code}: {self.message}\n{lines}"


class IllegalTransition(DomainError):  # noqa: N818 - named after its ReasonCode
    """A state change the transition table does not allow; the request is left unchanged."""

    def __init__(self, source: object, target: object, message: str | None = None) -> None:
        super().__init__(
            ReasonCode.ILLEGAL_TRANSITION,
            message or f"a request in state {source} cannot move to {target}",
        )
        self.source = source
        self.target = target


class RequestValidationError(DomainError):
    """The one error type the create-body parser raises, with a path per problem."""

    @classmethod
    def from_pydantic(
        cls, exc: ValidationError, *, code: ReasonCode = ReasonCode.INVALID_REQUEST
    ) -> RequestValidationError:
        details = [ErrorDetail(format_loc(e["loc"]), _message(e)) for e in exc.errors()]
        return cls(code, "the request body is not valid", details=details)


class CatalogValidationError(DomainError):
    """Every problem found in a catalog file, each with its path in the file."""

    def __init__(self, details: Sequence[ErrorDetail]) -> None:
        super().__init__(
            ReasonCode.INVALID_CATALOG,
            f"the catalog has {len(details)} problem(s)",
            details=details,
        )


class RuleViolationError(DomainError):
    """A rule decided against a request; raised by ``Decision.raise_if_denied``."""


# Union tags (see models.base.odata_tag) and pydantic's internal step names say nothing about
# where a problem is in the document, so they are dropped from paths.
_NOT_IN_PATH = ("function-after[", "function-before[", "function-wrap[", "tagged-union[")


def format_loc(loc: Sequence[int | str]) -> str:
    """``("stages", 0, "#singleUser", "userId")`` → ``stages[0].userId``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith("#") or part.startswith(_NOT_IN_PATH):
            continue
        else:
            out += f".{part}" if out else part
    return out


def _message(error: ErrorDetails) -> str:
    return error["msg"].removeprefix("Value error, ")
