"""``accessflow packages list|show|requirements``, ``assignments mine`` and ``requests list
--count`` against ``accessflow api`` as users run it; and their terminal rendering."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from api_support import FINANCE, FINANCE_POLICY, MEGAN, NESTOR, SALES
from click.testing import CliRunner

from accessflow.api.auth import mint_token
from accessflow.client import http_cli
from accessflow.client.http_reads import describe_requirements
from accessflow.entrypoints.cli import main


def cli(served: Any, user: str, *args: str, admin: bool = False) -> list[Any]:
    token = mint_token(served.settings, user, ["EntitlementManagement.Admin"] if admin else [])
    env = {"ACCESSFLOW_API_URL": served.url, "ACCESSFLOW_API_TOKEN": token}
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return [orjson.loads(line) for line in result.output.splitlines()]


def test_portal_reads_through_the_cli(served: Any) -> None:
    listed = cli(served, MEGAN, "packages", "list", "--count", "--top", "2")
    [page] = listed
    assert (page["@odata.count"], len(page["value"])) == (5, 2)  # as JSON: not a terminal
    [shown] = cli(served, MEGAN, "packages", "show", SALES)
    assert shown["catalog"]["displayName"] == "General"
    assert [p["displayName"] for p in shown["assignmentPolicies"]] == ["All members, self-service"]
    [finance] = cli(served, MEGAN, "packages", "requirements", FINANCE)
    assert (finance["policyId"], finance["isApprovalRequiredForAdd"]) == (FINANCE_POLICY, True)
    assert cli(served, MEGAN, "assignments", "mine") == []
    [counted] = cli(served, NESTOR, "requests", "list", "--count", admin=True)
    assert counted == {"@odata.count": 0, "value": []}
    token = mint_token(served.settings, MEGAN)
    missing = CliRunner().invoke(
        main,
        ["packages", "show", "11115c72-0612-4c43-a044-fc0a4e71a4c5"],  # not readable by Megan
        env={"ACCESSFLOW_API_URL": served.url, "ACCESSFLOW_API_TOKEN": token},
    )
    assert missing.exit_code == 1
    assert "HTTP 404 itemNotFound (AccessPackageNotFound)" in missing.output


def test_on_a_terminal_lists_are_tables_with_their_count(
    served: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = SimpleNamespace(stdout=SimpleNamespace(isatty=lambda: True))
    monkeypatch.setattr(http_cli, "sys", terminal)
    token = mint_token(served.settings, MEGAN)
    result = CliRunner().invoke(
        main,
        ["packages", "list", "--requestable", "--count"],
        env={"ACCESSFLOW_API_URL": served.url, "ACCESSFLOW_API_TOKEN": token},
    )
    assert result.exit_code == 0, result.output
    header, *rows, footer = result.output.splitlines()
    assert header.split() == ["id", "displayName", "catalog", "description"]
    assert any(
        row.startswith(SALES) and "Sales reports" in row and "General" in row for row in rows
    )
    assert footer == "(5 of 5 packages)"


def test_requirements_read_as_a_checklist_on_a_terminal() -> None:
    text = describe_requirements(
        {
            "policyId": FINANCE_POLICY,
            "policyDisplayName": "Members, manager and finance approval",
            "isApprovalRequiredForAdd": True,
            "isRequestorJustificationRequired": False,
            "allowCustomAssignmentSchedule": False,
            "schedule": {"expiration": {"duration": "P180D", "type": "afterDuration"}},
            "questions": [
                {
                    "id": "q1",
                    "text": "Which cycle?",
                    "isRequired": True,
                    "choices": [{"actualValue": "Q", "text": "Quarterly close"}],
                }
            ],
        }
    )
    assert text.splitlines() == [
        f"policy Members, manager and finance approval ({FINANCE_POLICY})",
        "  approval required:       yes",
        "  justification required:  no",
        "  custom schedule allowed: no",
        "  access lasts:            P180D",
        "  question (required): Which cycle?  [id q1]",
        "    - Q: Quarterly close",
    ]
