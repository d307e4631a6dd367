"""Constants and helpers shared by the domain's unit tests (ids of examples/catalog.yaml)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from accessflow.domain import AccessPackageAssignment, Caller, InMemoryView

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE_CATALOG = ROOT / "examples" / "catalog.yaml"
GRAPH_EXAMPLES = ROOT / "tests" / "fixtures" / "graph_create"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

#: The ``make_view`` fixture: a view over the example catalog, optionally edited first.
MakeView = Callable[..., InMemoryView]

# Users, packages and policies of examples/catalog.yaml.
PATTI = "0f6cc311-4e6f-47f2-a8a9-e45bdaae57f6"  # CEO, no manager
ALEX = "44da820a-dfee-4709-88d8-4e365feb9c00"  # Megan's and Kayo's manager
MEGAN = "46184453-e63b-4f20-86c2-a3a00ff7e1f3"
KAYO = "46184453-e63b-4f20-86c2-c557ed5d5df9"
LEE = "0460f89a-f623-43bb-bcf3-8c348a8d3cc0"  # Idris's manager
IDRIS = "21aceaba-fe13-4e3b-aa8c-4c588d5e7387"
ISAIAH = "adb28321-32e5-4571-a1c7-4adfad6b2db3"  # finance data approver
ADELE = "5f46e4ff-d78a-43c7-a2f3-c6417458e846"  # finance data approver
NESTOR = "1108e79f-4f6f-4a9e-8944-35d12ce867ad"  # fallback approver
JORDAN = "cdb02fd0-01ec-4bf4-896b-b8b30b5d74c5"  # guest

SALES = "a914b616-e04e-476b-aa37-91038f0b165b"
SALES_POLICY = "2264bf65-76ba-417b-a27d-54d291f0cbc8"
SALES_DIRECT = "11ac7d82-4149-4b6d-adef-d5c41158a8cb"
FINANCE = "977c7ff4-ef8f-4910-9d31-49048ddf3120"
FINANCE_POLICY = "3d904b06-ff76-4b98-a54c-52445dd7ea48"
FALCON = "5b98f958-0dea-4a5b-836e-109dccbd530c"
FALCON_POLICY = "c5f7847f-83a8-4315-a754-d94a6f39b875"
PARTNER = "11115c72-0612-4c43-a044-fc0a4e71a4c5"
PARTNER_DIRECT = "11114b50-0a08-4f96-83e9-1d714aa2cd79"
PARTNER_GUESTS = "282a7bfd-bc61-4c4c-897d-8755a54f38e0"
PAY_INITIATE = "b424929d-1999-4b23-ab28-b3373d8dd9fd"
PAY_INITIATE_POLICY = "fa9fdd60-a0f3-43f9-ad79-78b2273ab772"
PAY_APPROVE = "8bea7e96-b8cb-4671-820a-c0fcd76487d2"
PAY_APPROVE_POLICY = "8ccb26d5-c465-4811-98d8-1342d96672f1"
MC_QUESTION = "8fe745e7-80b2-490d-bd22-4e708c77288c"
TEXT_QUESTION = "7aaa18c9-8e4f-440f-bd5a-3a7ce312cbe6"
FALCON_QUESTION = "0d31cc60-968e-4f92-955b-443fed03d6f6"

# Assignments the Graph examples update or remove.
SALES_ASSIGNMENT = "a6bb6942-3ae1-4259-9908-0133aaee9377"  # Megan, Sales reports
FINANCE_ASSIGNMENT = "44c741c1-2cf4-40db-83b6-e0112f8e5a83"  # Megan, Finance data
FALCON_ASSIGNMENT = "329f8dac-8062-4c1b-a9b8-39b7132f9bff"  # Kayo, Project Falcon


def assignment(
    assignment_id: str, target: str, package: str, policy: str, state: str = "delivered"
) -> AccessPackageAssignment:
    return AccessPackageAssignment.model_validate(
        {
            "id": assignment_id,
            "state": state,
            "targetId": target,
            "accessPackageId": package,
            "assignmentPolicyId": policy,
        }
    )


def standard_assignments() -> list[AccessPackageAssignment]:
    return [
        assignment(SALES_ASSIGNMENT, MEGAN, SALES, SALES_POLICY),
        assignment(FINANCE_ASSIGNMENT, MEGAN, FINANCE, FINANCE_POLICY),
        assignment(FALCON_ASSIGNMENT, KAYO, FALCON, FALCON_POLICY),
    ]


def caller(object_id: str, *, admin: bool = False) -> Caller:
    return Caller(object_id=object_id, is_admin=admin)


def policy_in(document: dict[str, Any], policy_id: str) -> dict[str, Any]:
    """The (mutable) policy entry with ``policy_id`` in a catalog document."""
    for policy in document["assignmentPolicies"]:
        if policy["id"] == policy_id:
            found: dict[str, Any] = policy
            return found
    raise KeyError(policy_id)


def finance_request(text_answer: str) -> dict[str, Any]:
    """A userAdd to the Finance package answering its two questions (the text one with
    ``text_answer``), as a Graph create body."""

    def answer(question: str, value: str, kind: str) -> dict[str, Any]:
        return {
            "@odata.type": "#microsoft.graph.accessPackageAnswerString",
            "value": value,
            "answeredQuestion": {
                "@odata.type": f"#microsoft.graph.accessPackage{kind}Question",
                "id": question,
            },
        }

    return {
        "requestType": "userAdd",
        "assignment": {"accessPackageId": FINANCE, "assignmentPolicyId": FINANCE_POLICY},
        "answers": [
            answer(MC_QUESTION, "MultipleChoiceAnswerValue", "MultipleChoice"),
            answer(TEXT_QUESTION, text_answer, "TextInput"),
        ],
    }
