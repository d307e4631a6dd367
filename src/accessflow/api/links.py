"""OpenAPI links: from one answer to the operations it makes possible (a created request's
read, history, cancel and approval; a listed approval's stages and decision). Clients may
follow them; schemathesis' stateful tests do."""

from __future__ import annotations

from typing import Any

from accessflow.api.deps import PREFIX

REQUESTS = f"{PREFIX}/assignmentRequests"
REQUEST = f"{REQUESTS}/{{request_id}}"
APPROVALS = f"{PREFIX}/accessPackageAssignmentApprovals"
APPROVAL = f"{APPROVALS}/{{approval_id}}"
STAGES = f"{APPROVAL}/stages"
STAGE = f"{STAGES}/{{stage_id}}"
ASSIGNMENTS = f"{PREFIX}/assignments"

Operation = tuple[str, str]  # (method, path)
FIRST_ID = "$response.body#/value/0/id"


def _from_request(id_: str) -> dict[str, tuple[Operation, dict[str, str]]]:
    return {
        "GetRequest": (("get", REQUEST), {"request_id": id_}),
        "GetHistory": (("get", f"{REQUEST}/history"), {"request_id": id_}),
        "Cancel": (("post", f"{REQUEST}/cancel"), {"request_id": id_}),
        "Reprocess": (("post", f"{REQUEST}/reprocess"), {"request_id": id_}),
        "GetApproval": (("get", APPROVAL), {"approval_id": id_}),
        "ListStages": (("get", STAGES), {"approval_id": id_}),
    }


def _to_stage(approval: str, stage: str) -> dict[str, tuple[Operation, dict[str, str]]]:
    parameters = {"approval_id": approval, "stage_id": stage}
    return {
        "GetStage": (("get", STAGE), parameters),
        "DecideStage": (("patch", STAGE), parameters),
    }


#: (source operation, its status) -> link name -> (target operation, parameters).
LINKS: dict[tuple[str, str, str], dict[str, tuple[Operation, dict[str, str]]]] = {
    ("post", REQUESTS, "201"): _from_request("$response.body#/id"),
    ("get", REQUESTS, "200"): _from_request(FIRST_ID),
    ("get", REQUEST, "200"): _from_request("$response.body#/id"),
    ("get", f"{APPROVALS}/filterByCurrentUser(on='approver')", "200"): {
        "GetApproval": (("get", APPROVAL), {"approval_id": FIRST_ID}),
        "ListStages": (("get", STAGES), {"approval_id": FIRST_ID}),
    },
    ("get", APPROVAL, "200"): _to_stage("$response.body#/id", "$response.body#/stages/0/id"),
    ("get", STAGES, "200"): _to_stage("$request.path.approval_id", FIRST_ID),
    ("get", ASSIGNMENTS, "200"): {
        "GetAssignment": (("get", f"{ASSIGNMENTS}/{{assignment_id}}"), {"assignment_id": FIRST_ID})
    },
}


def add_links(document: dict[str, Any]) -> None:
    """Add ``LINKS`` to the responses of ``document`` (targets named by operationId)."""
    paths = document["paths"]
    for (method, path, status), links in LINKS.items():
        response = paths[path][method]["responses"][status]
        response["links"] = {
            name: {"operationId": paths[target][verb]["operationId"], "parameters": parameters}
            for name, ((verb, target), parameters) in links.items()
        }
