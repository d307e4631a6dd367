"""Ids of ``examples/catalog.yaml`` and builders for the decoded commands handlers take.

Shared by the contract suite and the service unit tests (``tests/support`` is on pytest's
``pythonpath``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from accessflow.adapters.catalog_file import read_catalog_file
from accessflow.domain.approval_states import STAGE_NAMESPACE
from accessflow.domain.catalog import Catalog, load_catalog
from accessflow.service.commands import (
    CANCEL,
    CREATE,
    DECIDE,
    REPROCESS,
    CancelData,
    CreateData,
    DecideData,
    ReprocessData,
)
from accessflow.service.events import RejectionReason
from accessflow.service.types import Command, Rejected

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CATALOG = ROOT / "examples" / "catalog.yaml"
NOW = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)

ALEX = "44da820a-dfee-4709-88d8-4e365feb9c00"  # Megan's manager: Finance stage 1
MEGAN = "46184453-e63b-4f20-86c2-a3a00ff7e1f3"
KAYO = "46184453-e63b-4f20-86c2-c557ed5d5df9"
ISAIAH = "adb28321-32e5-4571-a1c7-4adfad6b2db3"  # Finance data approvers: stage 2
ADELE = "5f46e4ff-d78a-43c7-a2f3-c6417458e846"  # the other finance data approver
NESTOR = "1108e79f-4f6f-4a9e-8944-35d12ce867ad"
PATTI = "0f6cc311-4e6f-47f2-a8a9-e45bdaae57f6"

SALES = "a914b616-e04e-476b-aa37-91038f0b165b"
SALES_POLICY = "2264bf65-76ba-417b-a27d-54d291f0cbc8"
SALES_GROUP = "d82dafa9-7823-4f55-b4ce-9a1ef3bee1d2"
FINANCE = "977c7ff4-ef8f-4910-9d31-49048ddf3120"
FINANCE_POLICY = "3d904b06-ff76-4b98-a54c-52445dd7ea48"
FINANCE_GROUP = "25d5c392-f8ec-441e-bc79-dea1368db217"
APPROVERS_GROUP = "27edb669-f35e-4844-9acd-4236eb5f8b54"
FINANCE_ANSWERS = [
    {
        "@odata.type": "#microsoft.graph.accessPackageAnswerString",
        "value": "MultipleChoiceAnswerValue",
        "answeredQuestion": {
            "@odata.type": "#microsoft.graph.accessPackageMultipleChoiceQuestion",
            "id": "8fe745e7-80b2-490d-bd22-4e708c77288c",
        },
    },
    {
        "@odata.type": "#microsoft.graph.accessPackageAnswerString",
        "value": "Quarterly close reconciliation",
        "answeredQuestion": {
            "@odata.type": "#microsoft.graph.accessPackageTextInputQuestion",
            "id": "7aaa18c9-8e4f-440f-bd5a-3a7ce312cbe6",
        },
    },
]


def example_catalog() -> Catalog:
    return read_catalog_file(EXAMPLE_CATALOG)


def rid(n: int) -> uuid.UUID:
    """A fixed request id, so both adapters' runs produce byte-identical events."""
    return uuid.UUID(int=0xAC_0000_0000_4000_8000_0000_0000_0000 + n)


def stage_id(request_id: uuid.UUID, index: int) -> str:
    """The id the worker gives stage ``index`` of the request's approval."""
    return str(uuid.uuid5(STAGE_NAMESPACE, f"{request_id}:{index}"))


def _command(command_id: str, kind: str, request_id: uuid.UUID, data: Any) -> Command:
    return Command(
        id=command_id,
        type=kind,
        source="urn:test",
        request_id=request_id,
        time=NOW,
        traceparent=None,
        data=data,
        partition=0,
        offset=0,
        timestamp_ms=0,
    )


def create(
    command_id: str,
    request_id: uuid.UUID,
    body: dict[str, Any],
    *,
    requestor: str = MEGAN,
    admin: bool = False,
) -> Command:
    data = CreateData.model_validate(
        {
            "requestId": str(request_id),
            "requestor": {"objectId": requestor, "isAdmin": admin},
            "request": body,
        }
    )
    return _command(command_id, CREATE, request_id, data)


def sales_for(target: str = MEGAN) -> dict[str, Any]:
    """A self-service add of "Sales reports" (auto-approved) for ``target``."""
    return {
        "requestType": "userAdd",
        "assignment": {
            "accessPackageId": SALES,
            "assignmentPolicyId": SALES_POLICY,
            "targetId": target,
        },
    }


def finance_for_megan() -> dict[str, Any]:
    """Megan asks for "Finance data": her manager, then a finance approver, must approve."""
    return {
        "requestType": "userAdd",
        "answers": FINANCE_ANSWERS,
        "assignment": {"accessPackageId": FINANCE, "assignmentPolicyId": FINANCE_POLICY},
    }


def admin_remove(assignment_id: str) -> dict[str, Any]:
    return {"requestType": "adminRemove", "assignment": {"id": assignment_id}}


def cancel(
    command_id: str, request_id: uuid.UUID, *, by: str = MEGAN, admin: bool = False
) -> Command:
    data = CancelData.model_validate(
        {"requestId": str(request_id), "requestor": {"objectId": by, "isAdmin": admin}}
    )
    return _command(command_id, CANCEL, request_id, data)


def reprocess(command_id: str, request_id: uuid.UUID, *, by: str = MEGAN) -> Command:
    data = ReprocessData.model_validate(
        {"requestId": str(request_id), "requestor": {"objectId": by}}
    )
    return _command(command_id, REPROCESS, request_id, data)


def decide(
    command_id: str,
    request_id: uuid.UUID,
    stage_id: str,
    reviewer: str,
    result: str = "Approve",
    justification: str | None = "looks right",
) -> Command:
    data = DecideData.model_validate(
        {
            "requestId": str(request_id),
            "stageId": stage_id,
            "reviewResult": result,
            "justification": justification,
            "reviewer": {"objectId": reviewer},
        }
    )
    return _command(command_id, DECIDE, request_id, data)


def rejected(command_id: str, request_id: uuid.UUID, code: str = "InvalidCommand") -> Rejected:
    return Rejected(
        id=command_id,
        type=CREATE,
        request_id=request_id,
        traceparent=None,
        reason=RejectionReason(code=code, message="refused at decode"),
        partition=0,
        offset=0,
    )


def catalog_with_outside_resources(*origin_systems: str) -> Catalog:
    """The example catalog with "Sales reports" granting one resource in each of
    ``origin_systems`` (scope ids ``<origin>-scope``) instead of its group."""
    document = yaml.safe_load(EXAMPLE_CATALOG.read_text(encoding="utf-8"))
    for package in document["accessPackages"]:
        if package["id"] == SALES:
            package["resourceRoleScopes"] = [
                {
                    "id": f"{origin}-scope",
                    "role": {"originId": f"{origin}-reader", "originSystem": origin},
                    "scope": {"originId": f"{origin}-site", "originSystem": origin},
                }
                for origin in origin_systems
            ]
    return load_catalog(document)
