"""Reason codes: each has an HTTP status and Graph error code, and docs/domain.md lists it."""

from __future__ import annotations

import pytest
from domain_support import ROOT

from accessflow.domain import CODE_INFO, DomainError, ErrorDetail, ReasonCode


def test_every_code_has_its_http_status_and_graph_code() -> None:
    assert set(CODE_INFO) == set(ReasonCode)
    for code in ReasonCode:
        assert code.http_status in {400, 403, 404, 409, 500, 503}
        assert code.graph_code
        assert code.meaning


@pytest.mark.parametrize(
    ("code", "status", "graph_code"),
    [
        (ReasonCode.EXISTING_OPEN_REQUEST, 409, "conflict"),
        (ReasonCode.POLICY_NOT_FOUND, 404, "itemNotFound"),
        (ReasonCode.TARGET_NOT_IN_SCOPE, 403, "accessDenied"),
        (ReasonCode.INVALID_REQUEST, 400, "invalidRequest"),
        (ReasonCode.RESOURCE_UNAVAILABLE, 503, "serviceNotAvailable"),
    ],
)
def test_key_codes_map_to_the_agreed_graph_errors(
    code: ReasonCode, status: int, graph_code: str
) -> None:
    assert (code.http_status, code.graph_code) == (status, graph_code)


def test_wire_contract_and_worker_codes_exist() -> None:
    needed = {
        "ExistingOpenRequest",
        "PolicyNotFound",
        "TargetNotInScope",
        "ApprovalTimedOut",
        "ResourceUnavailable",
        "ApproverDenied",
        "CanceledByRequestor",
        "ReprocessWindowExpired",
        "IllegalTransition",
        "RequestNotFound",
        "InvalidCommand",
    }
    assert needed <= {code.value for code in ReasonCode}


def test_only_resource_unavailable_is_retriable_by_default() -> None:
    assert [c for c in ReasonCode if c.retriable] == [ReasonCode.RESOURCE_UNAVAILABLE]


def test_domain_error_takes_retriable_from_its_code_unless_told() -> None:
    assert DomainError(ReasonCode.RESOURCE_UNAVAILABLE, "down").retriable
    assert not DomainError(ReasonCode.RESOURCE_UNAVAILABLE, "gone", retriable=False).retriable
    error = DomainError(ReasonCode.INVALID_REQUEST, "bad", details=[ErrorDetail("a.b", "why")])
    assert "a.b: why" in str(error)


def test_docs_list_every_code_with_status_and_graph_code() -> None:
    docs = (ROOT / "docs" / "domain.md").read_text(encoding="utf-8")
    for code in ReasonCode:
        row = f"| `{code.value}` | {code.http_status} | `{code.graph_code}` |"
        assert row in docs, f"docs/domain.md lacks {code.value}"
