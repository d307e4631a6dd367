"""accessflow's pure domain: Graph-compatible models, create-body parsing, the request state
machine, the catalog, and the validation and eligibility rules.

No I/O (except the ``diagram`` script), no clock (pass ``now``), no logs; reading a catalog
file is ``accessflow.adapters.catalog_file``.
"""

from accessflow.domain.catalog import Catalog, load_catalog
from accessflow.domain.codes import CODE_INFO, CodeInfo, ReasonCode
from accessflow.domain.create_body import (
    CreateAssignmentRequest,
    parse_create_request,
    validation_error,
)
from accessflow.domain.enums import (
    CLIENT_REQUEST_TYPES,
    AllowedTargetScope,
    AssignmentState,
    ExpirationPatternType,
    RequestState,
    RequestType,
    ReviewDecision,
    ReviewResult,
    UserType,
)
from accessflow.domain.errors import (
    CatalogValidationError,
    DomainError,
    ErrorDetail,
    IllegalTransition,
    RequestValidationError,
    RuleViolationError,
)
from accessflow.domain.models import (
    AccessPackage,
    AccessPackageAssignment,
    AccessPackageAssignmentPolicy,
    AccessPackageAssignmentRequest,
    AccessPackageSubject,
    Approval,
    ApprovalStage,
    EntitlementManagementSchedule,
    to_graph,
)
from accessflow.domain.rules import (
    ApprovalPlan,
    Caller,
    Decision,
    PlannedStage,
    Resolved,
    evaluate_create,
    start_state,
)
from accessflow.domain.states import (
    CANCELLABLE_STATES,
    COMPLETED_STATES,
    FINAL_STATES,
    OPEN_STATES,
    REPROCESSABLE_STATES,
    TRANSITIONS,
    default_status,
    reprocess,
    submit,
    transition,
    with_status,
)
from accessflow.domain.view import DirectoryView, InMemoryView, OpenRequest

__all__ = [
    "CANCELLABLE_STATES",
    "CLIENT_REQUEST_TYPES",
    "CODE_INFO",
    "COMPLETED_STATES",
    "FINAL_STATES",
    "OPEN_STATES",
    "REPROCESSABLE_STATES",
    "TRANSITIONS",
    "AccessPackage",
    "AccessPackageAssignment",
    "AccessPackageAssignmentPolicy",
    "AccessPackageAssignmentRequest",
    "AccessPackageSubject",
    "AllowedTargetScope",
    "Approval",
    "ApprovalPlan",
    "ApprovalStage",
    "AssignmentState",
    "Caller",
    "Catalog",
    "CatalogValidationError",
    "CodeInfo",
    "CreateAssignmentRequest",
    "Decision",
    "DirectoryView",
    "DomainError",
    "EntitlementManagementSchedule",
    "ErrorDetail",
    "ExpirationPatternType",
    "IllegalTransition",
    "InMemoryView",
    "OpenRequest",
    "PlannedStage",
    "ReasonCode",
    "RequestState",
    "RequestType",
    "RequestValidationError",
    "Resolved",
    "ReviewDecision",
    "ReviewResult",
    "RuleViolationError",
    "UserType",
    "default_status",
    "evaluate_create",
    "load_catalog",
    "parse_create_request",
    "reprocess",
    "start_state",
    "submit",
    "to_graph",
    "transition",
    "validation_error",
    "with_status",
]
