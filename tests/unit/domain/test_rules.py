"""Rules: one test per reason code, each showing the refusal and the nearest allowed case."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from domain_support import (
    ADELE,
    ALEX,
    FALCON,
    FALCON_ASSIGNMENT,
    FALCON_POLICY,
    FALCON_QUESTION,
    FINANCE,
    FINANCE_ASSIGNMENT,
    FINANCE_POLICY,
    IDRIS,
    ISAIAH,
    JORDAN,
    KAYO,
    LEE,
    MC_QUESTION,
    MEGAN,
    NESTOR,
    NOW,
    PARTNER,
    PARTNER_DIRECT,
    PARTNER_GUESTS,
    PATTI,
    PAY_APPROVE,
    PAY_APPROVE_POLICY,
    PAY_INITIATE,
    SALES,
    SALES_ASSIGNMENT,
    SALES_DIRECT,
    SALES_POLICY,
    TEXT_QUESTION,
    MakeView,
    assignment,
    caller,
    policy_in,
    standard_assignments,
)

from accessflow.domain import (
    Caller,
    Decision,
    InMemoryView,
    OpenRequest,
    ReasonCode,
    RequestState,
    RuleViolationError,
    evaluate_create,
    parse_create_request,
)

R = ReasonCode
ADMIN = caller(NESTOR, admin=True)


def decide(view: InMemoryView, who: Caller, body: dict[str, Any], now: Any = NOW) -> Decision:
    return evaluate_create(parse_create_request(body), who, view, now)


def user_add(package: str, policy: str | None = None, **extra: Any) -> dict[str, Any]:
    target = extra.pop("target", None)
    assignment_body: dict[str, Any] = {"accessPackageId": package}
    if policy:
        assignment_body["assignmentPolicyId"] = policy
    if target:
        assignment_body["targetId"] = target
    return {"requestType": "userAdd", "assignment": assignment_body, **extra}


def admin_add(package: str, policy: str, target: str) -> dict[str, Any]:
    return {
        "requestType": "adminAdd",
        "assignment": {
            "accessPackageId": package,
            "assignmentPolicyId": policy,
            "targetId": target,
        },
    }


def on(request_type: str, assignment_id: str, **extra: Any) -> dict[str, Any]:
    return {"requestType": request_type, "assignment": {"id": assignment_id}, **extra}


def answer(question: str, value: str, kind: str = "MultipleChoice") -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.accessPackageAnswerString",
        "value": value,
        "answeredQuestion": {
            "@odata.type": f"#microsoft.graph.accessPackage{kind}Question",
            "id": question,
        },
    }


FINANCE_ANSWERS = [
    answer(MC_QUESTION, "MultipleChoiceAnswerValue"),
    answer(TEXT_QUESTION, "Quarterly close reconciliation", "TextInput"),
]


def refused(decision: Decision, code: ReasonCode) -> None:
    assert (decision.reason, decision.next_state) == (code, RequestState.DENIED), decision.message


def allowed(decision: Decision, state: RequestState = RequestState.DELIVERING) -> None:
    assert decision.allowed, f"{decision.reason}: {decision.message}"
    assert decision.next_state is state


# Existence ------------------------------------------------------------------------------


def test_access_package_not_found(view: InMemoryView) -> None:
    refused(
        decide(view, caller(MEGAN), user_add("00000000-0000-0000-0000-00000000000a")),
        R.ACCESS_PACKAGE_NOT_FOUND,
    )
    allowed(decide(view, caller(KAYO), user_add(SALES)))


def test_policy_not_found_when_unknown_or_of_another_package(view: InMemoryView) -> None:
    refused(decide(view, caller(KAYO), user_add(SALES, "nope")), R.POLICY_NOT_FOUND)
    refused(decide(view, caller(KAYO), user_add(SALES, FALCON_POLICY)), R.POLICY_NOT_FOUND)
    allowed(decide(view, caller(KAYO), user_add(SALES, SALES_POLICY.upper())))


def test_policy_not_found_when_the_package_has_no_policy(make_view: MakeView) -> None:
    def no_policies(document: dict[str, Any]) -> None:
        document["assignmentPolicies"] = [
            p for p in document["assignmentPolicies"] if p["accessPackageId"] != SALES
        ]

    refused(decide(make_view(no_policies), caller(KAYO), user_add(SALES)), R.POLICY_NOT_FOUND)


def test_assignment_not_found_for_update_and_remove(make_view: MakeView) -> None:
    view = make_view()
    refused(decide(view, ADMIN, on("adminRemove", "nope")), R.ASSIGNMENT_NOT_FOUND)
    expired = make_view(
        assignments=[assignment(SALES_ASSIGNMENT, MEGAN, SALES, SALES_POLICY, state="expired")]
    )
    refused(decide(expired, ADMIN, on("adminRemove", SALES_ASSIGNMENT)), R.ASSIGNMENT_NOT_FOUND)
    allowed(decide(view, ADMIN, on("adminRemove", SALES_ASSIGNMENT)))


def test_target_not_found(view: InMemoryView) -> None:
    refused(decide(view, ADMIN, admin_add(SALES, SALES_DIRECT, "ghost")), R.TARGET_NOT_FOUND)
    refused(decide(view, caller("not-in-directory"), user_add(SALES)), R.TARGET_NOT_FOUND)
    by_mail = user_add(SALES, SALES_POLICY)
    by_mail["assignment"]["target"] = {"email": "nobody@example.com"}
    refused(decide(view, caller(ALEX), by_mail), R.TARGET_NOT_FOUND)
    allowed(decide(view, ADMIN, admin_add(SALES, SALES_DIRECT, KAYO)))


def test_admin_add_by_mail_of_someone_not_in_the_directory_is_allowed(view: InMemoryView) -> None:
    body = {
        "requestType": "adminAdd",
        "assignment": {
            "target": {"email": "user@contoso.com"},
            "assignmentPolicy": {"id": PARTNER_DIRECT},
            "accessPackage": {"id": PARTNER.upper()},
        },
    }
    decision = decide(view, ADMIN, body)
    allowed(decision)
    assert decision.resolved is not None
    assert (decision.resolved.target_id, decision.resolved.target_email) == (
        None,
        "user@contoso.com",
    )


def test_admin_add_by_mail_of_a_directory_user_targets_that_user(view: InMemoryView) -> None:
    body = {
        "requestType": "adminAdd",
        "assignment": {
            "target": {"email": "KAYO.MIWA@woodgrovebank.com"},
            "assignmentPolicyId": SALES_DIRECT,
            "accessPackageId": SALES,
        },
    }
    decision = decide(view, ADMIN, body)
    assert decision.resolved is not None
    assert decision.resolved.target_id == KAYO


# Eligibility ----------------------------------------------------------------------------


def test_requestor_not_allowed_for_admin_types_without_the_role(view: InMemoryView) -> None:
    refused(
        decide(view, caller(NESTOR), admin_add(SALES, SALES_DIRECT, KAYO)), R.REQUESTOR_NOT_ALLOWED
    )
    refused(
        decide(view, caller(NESTOR), on("adminRemove", SALES_ASSIGNMENT)), R.REQUESTOR_NOT_ALLOWED
    )


def test_requestor_not_allowed_on_behalf_of_someone_not_reporting_to_them(
    view: InMemoryView,
) -> None:
    refused(
        decide(view, caller(LEE), user_add(SALES, SALES_POLICY, target=KAYO)),
        R.REQUESTOR_NOT_ALLOWED,
    )
    decision = decide(view, caller(ALEX), user_add(SALES, SALES_POLICY, target=KAYO))
    allowed(decision)
    assert decision.resolved is not None
    assert decision.resolved.on_behalf


def test_requestor_not_allowed_for_approver_remove_by_a_non_approver(view: InMemoryView) -> None:
    refused(
        decide(view, caller(KAYO), on("approverRemove", FINANCE_ASSIGNMENT)),
        R.REQUESTOR_NOT_ALLOWED,
    )
    allowed(decide(view, caller(ADELE), on("approverRemove", FINANCE_ASSIGNMENT)))


def test_request_type_not_allowed_for_self_service(make_view: MakeView) -> None:
    def no_self_add(document: dict[str, Any]) -> None:
        policy_in(document, SALES_POLICY)["requestorSettings"]["enableTargetsToSelfAddAccess"] = (
            False
        )

    refused(
        decide(make_view(no_self_add), caller(KAYO), user_add(SALES, SALES_POLICY)),
        R.REQUEST_TYPE_NOT_ALLOWED,
    )
    allowed(decide(make_view(), caller(MEGAN), on("userRemove", SALES_ASSIGNMENT)))
    # A direct-assignment policy offers no self-service at all.
    refused(
        decide(make_view(), caller(KAYO), user_add(SALES, SALES_DIRECT)), R.REQUEST_TYPE_NOT_ALLOWED
    )


def test_request_type_not_allowed_on_behalf_when_the_policy_does_not_enable_it(
    view: InMemoryView,
) -> None:
    # Alex manages Kayo, but the finance policy does not enable on-behalf requests.
    body = user_add(FINANCE, FINANCE_POLICY, target=KAYO, answers=FINANCE_ANSWERS)
    refused(decide(view, caller(ALEX), body), R.REQUEST_TYPE_NOT_ALLOWED)


def test_target_not_in_scope(view: InMemoryView) -> None:
    refused(decide(view, caller(JORDAN), user_add(SALES, SALES_POLICY)), R.TARGET_NOT_IN_SCOPE)
    refused(decide(view, caller(KAYO), user_add(PARTNER)), R.TARGET_NOT_IN_SCOPE)
    body = user_add(PARTNER, justification="Fabrikam integration project")
    decision = decide(view, caller(JORDAN), body)
    allowed(decision, RequestState.PENDING_APPROVAL)
    assert decision.resolved is not None
    assert decision.resolved.assignment_policy_id == PARTNER_GUESTS


def test_target_not_in_scope_for_guests_when_the_catalog_is_internal(make_view: MakeView) -> None:
    def internal(document: dict[str, Any]) -> None:
        document["catalogs"][2]["isExternallyVisible"] = False

    body = user_add(PARTNER, justification="Fabrikam integration project")
    refused(decide(make_view(internal), caller(JORDAN), body), R.TARGET_NOT_IN_SCOPE)


def test_specific_directory_users_scope_admits_only_the_listed_users(make_view: MakeView) -> None:
    def specific(document: dict[str, Any]) -> None:
        policy = policy_in(document, SALES_POLICY)
        policy["allowedTargetScope"] = "specificDirectoryUsers"
        policy["specificAllowedTargets"] = [
            {"@odata.type": "#microsoft.graph.singleUser", "userId": KAYO}
        ]

    view = make_view(specific)
    allowed(decide(view, caller(KAYO), user_add(SALES, SALES_POLICY)))
    refused(decide(view, caller(IDRIS), user_add(SALES, SALES_POLICY)), R.TARGET_NOT_IN_SCOPE)


# Conflicts ------------------------------------------------------------------------------


def test_existing_open_request(make_view: MakeView) -> None:
    open_sales = [OpenRequest("r1", KAYO, SALES.upper())]
    refused(
        decide(make_view(open_requests=open_sales), caller(KAYO), user_add(SALES)),
        R.EXISTING_OPEN_REQUEST,
    )
    open_falcon = [OpenRequest("r1", KAYO, FALCON)]
    allowed(decide(make_view(open_requests=open_falcon), caller(KAYO), user_add(SALES)))


def test_already_assigned(make_view: MakeView) -> None:
    refused(decide(make_view(), caller(MEGAN), user_add(SALES)), R.ALREADY_ASSIGNED)
    refused(decide(make_view(), ADMIN, admin_add(SALES, SALES_DIRECT, MEGAN)), R.ALREADY_ASSIGNED)
    expired = [assignment(SALES_ASSIGNMENT, MEGAN, SALES, SALES_POLICY, state="expired")]
    allowed(decide(make_view(assignments=expired), caller(MEGAN), user_add(SALES)))


def test_incompatible_access_package_held_or_requested(make_view: MakeView) -> None:
    body = user_add(PAY_INITIATE, justification="Accounts payable")
    holds = [*standard_assignments(), assignment("p1", KAYO, PAY_APPROVE, PAY_APPROVE_POLICY)]
    refused(decide(make_view(assignments=holds), caller(KAYO), body), R.INCOMPATIBLE_ACCESS_PACKAGE)
    asked = [OpenRequest("r1", KAYO, PAY_APPROVE)]
    refused(
        decide(make_view(open_requests=asked), caller(KAYO), body), R.INCOMPATIBLE_ACCESS_PACKAGE
    )
    allowed(decide(make_view(), caller(KAYO), body))


def test_incompatibility_declared_on_one_side_only_still_applies(make_view: MakeView) -> None:
    def one_sided(document: dict[str, Any]) -> None:
        document["accessPackages"][4]["incompatibleAccessPackages"] = []  # initiate

    holds = [*standard_assignments(), assignment("p1", KAYO, PAY_APPROVE, PAY_APPROVE_POLICY)]
    body = user_add(PAY_INITIATE, justification="Accounts payable")
    refused(
        decide(make_view(one_sided, assignments=holds), caller(KAYO), body),
        R.INCOMPATIBLE_ACCESS_PACKAGE,
    )


# Content --------------------------------------------------------------------------------


def test_justification_required(view: InMemoryView) -> None:
    refused(decide(view, caller(KAYO), user_add(PAY_INITIATE)), R.JUSTIFICATION_REQUIRED)
    refused(
        decide(view, caller(KAYO), user_add(PAY_INITIATE, justification="  ")),
        R.JUSTIFICATION_REQUIRED,
    )
    allowed(decide(view, caller(KAYO), user_add(PAY_INITIATE, justification="Month end")))


def test_answer_required(view: InMemoryView) -> None:
    refused(decide(view, caller(KAYO), user_add(FINANCE)), R.ANSWER_REQUIRED)
    refused(
        decide(view, caller(KAYO), user_add(FINANCE, answers=FINANCE_ANSWERS[:1])),
        R.ANSWER_REQUIRED,
    )
    allowed(
        decide(view, caller(KAYO), user_add(FINANCE, answers=FINANCE_ANSWERS)),
        RequestState.PENDING_APPROVAL,
    )


@pytest.mark.parametrize(
    ("answers", "path"),
    [
        ([answer(MC_QUESTION, "Monthly")], "answers[0].value"),
        ([answer(TEXT_QUESTION, "short", "TextInput")], "answers[0].value"),
        ([answer("unknown-question", "x")], "answers[0].answeredQuestion.id"),
        ([answer(MC_QUESTION, "MultipleChoiceAnswerValue", "TextInput")], "answers[0]"),
        (
            [
                answer(MC_QUESTION, "MultipleChoiceAnswerValue"),
                answer(MC_QUESTION, "UpdatedAnswerValue"),
            ],
            "answers[1]",
        ),
    ],
    ids=["not-a-choice", "regex-mismatch", "unknown-question", "wrong-type", "two-choices"],
)
def test_invalid_answer(view: InMemoryView, answers: list[dict[str, Any]], path: str) -> None:
    decision = decide(view, caller(KAYO), user_add(FINANCE, answers=[*answers, *FINANCE_ANSWERS]))
    refused(decision, R.INVALID_ANSWER)
    assert decision.path == path


def test_invalid_answer_when_updating_a_non_editable_answer(make_view: MakeView) -> None:
    def frozen(document: dict[str, Any]) -> None:
        policy_in(document, FALCON_POLICY)["questions"][0]["isAnswerEditable"] = False

    body = on(
        "userUpdate", FALCON_ASSIGNMENT, answers=[answer(FALCON_QUESTION, "Data", "TextInput")]
    )
    refused(decide(make_view(frozen), caller(KAYO), body), R.INVALID_ANSWER)
    allowed(decide(make_view(), caller(KAYO), body))


def test_admins_need_not_answer_required_questions(view: InMemoryView) -> None:
    allowed(decide(view, ADMIN, admin_add(FINANCE, FINANCE_POLICY, KAYO)))


def schedule(
    start: Any = None, end: Any = None, duration: Any = None, kind: str | None = None
) -> dict[str, Any]:
    return {
        "startDateTime": start,
        "expiration": {"endDateTime": end, "duration": duration, "type": kind},
    }


def test_custom_schedule_not_allowed(view: InMemoryView) -> None:
    body = user_add(SALES, schedule=schedule(end="2026-04-01T00:00:00Z", kind="afterDateTime"))
    refused(decide(view, caller(KAYO), body), R.CUSTOM_SCHEDULE_NOT_ALLOWED)
    empty = user_add(SALES, schedule=schedule(kind="notSpecified"))
    allowed(decide(view, caller(KAYO), empty))


@pytest.mark.parametrize(
    "bad",
    [
        schedule(end="2026-04-01T00:00:00Z", duration="P30D"),
        schedule(start="2026-05-01T00:00:00Z", end="2026-04-01T00:00:00Z", kind="afterDateTime"),
        schedule(end="2026-02-01T00:00:00Z", kind="afterDateTime"),
        schedule(duration="P30D", kind="afterDateTime"),
        schedule(kind="afterDuration"),
        schedule(duration="P200D", kind="afterDuration"),
        schedule(kind="noExpiration"),
        schedule(duration="-P1D"),
    ],
    ids=[
        "end-and-duration",
        "start-after-end",
        "ends-in-past",
        "duration-wrong-type",
        "no-duration",
        "longer-than-policy",
        "never-ends-under-expiring-policy",
        "negative-duration",
    ],
)
def test_invalid_schedule(view: InMemoryView, bad: dict[str, Any]) -> None:
    refused(decide(view, caller(IDRIS), user_add(FALCON, schedule=bad)), R.INVALID_SCHEDULE)


def test_a_future_start_is_scheduled(view: InMemoryView) -> None:
    start = NOW + timedelta(days=10)
    body = user_add(
        FALCON, schedule=schedule(start=start.isoformat(), duration="P30D", kind="afterDuration")
    )
    allowed(decide(view, caller(IDRIS), body), RequestState.SCHEDULED)


def test_admins_may_extend_beyond_the_policy_expiration(view: InMemoryView) -> None:
    body = on(
        "adminUpdate",
        FALCON_ASSIGNMENT,
        schedule=schedule(end="2030-01-01T00:00:00Z", kind="afterDateTime"),
    )
    allowed(decide(view, ADMIN, body))
    user = on(
        "userUpdate",
        FALCON_ASSIGNMENT,
        schedule=schedule(end="2030-01-01T00:00:00Z", kind="afterDateTime"),
    )
    refused(decide(view, caller(KAYO), user), R.INVALID_SCHEDULE)


# Approval -------------------------------------------------------------------------------


def test_two_stage_approval_resolves_manager_then_group(view: InMemoryView) -> None:
    decision = decide(view, caller(KAYO), user_add(FINANCE, answers=FINANCE_ANSWERS))
    assert decision.approval is not None
    first, second = decision.approval.stages
    assert (first.approvers, first.used_fallback) == (frozenset({ALEX}), False)
    assert first.escalation_approvers == frozenset({NESTOR})
    assert first.duration_before_automatic_denial == timedelta(days=14)
    assert second.approvers == frozenset({ISAIAH, ADELE})
    assert second.is_approver_justification_required


def test_a_requestor_never_approves_their_own_request(view: InMemoryView) -> None:
    decision = decide(view, caller(ISAIAH), user_add(FINANCE, answers=FINANCE_ANSWERS))
    assert decision.approval is not None
    assert decision.approval.stages[0].approvers == frozenset({PATTI})
    assert decision.approval.stages[1].approvers == frozenset({ADELE})


def test_fallback_approvers_stand_in_when_there_is_no_manager(view: InMemoryView) -> None:
    decision = decide(view, caller(PATTI), user_add(FINANCE, answers=FINANCE_ANSWERS))
    assert decision.approval is not None
    assert (decision.approval.stages[0].approvers, decision.approval.stages[0].used_fallback) == (
        frozenset({NESTOR}),
        True,
    )


def test_approver_not_found_when_no_one_but_the_requestor_could_approve(
    make_view: MakeView,
) -> None:
    def no_fallback(document: dict[str, Any]) -> None:
        stage = policy_in(document, FINANCE_POLICY)["requestApprovalSettings"]["stages"][0]
        stage["fallbackPrimaryApprovers"] = []

    refused(
        decide(make_view(no_fallback), caller(PATTI), user_add(FINANCE, answers=FINANCE_ANSWERS)),
        R.APPROVER_NOT_FOUND,
    )
    allowed(
        decide(make_view(no_fallback), caller(KAYO), user_add(FINANCE, answers=FINANCE_ANSWERS)),
        RequestState.PENDING_APPROVAL,
    )


def test_admin_and_remove_types_skip_approval(view: InMemoryView) -> None:
    for who, body in [
        (ADMIN, admin_add(FINANCE, FINANCE_POLICY, KAYO)),
        (caller(MEGAN), on("userRemove", FINANCE_ASSIGNMENT)),
        (ADMIN, on("adminRemove", FINANCE_ASSIGNMENT)),
    ]:
        decision = decide(view, who, body)
        allowed(decision)
        assert decision.approval is None


def test_update_follows_the_policy_update_flag(make_view: MakeView) -> None:
    body = on("userUpdate", FINANCE_ASSIGNMENT, answers=[answer(MC_QUESTION, "UpdatedAnswerValue")])
    allowed(decide(make_view(), caller(MEGAN), body))

    def approve_updates(document: dict[str, Any]) -> None:
        policy_in(document, FINANCE_POLICY)["requestApprovalSettings"][
            "isApprovalRequiredForUpdate"
        ] = True

    allowed(decide(make_view(approve_updates), caller(MEGAN), body), RequestState.PENDING_APPROVAL)


def test_a_denied_decision_raises_as_a_rule_violation(view: InMemoryView) -> None:
    decision = decide(view, caller(JORDAN), user_add(SALES, SALES_POLICY))
    with pytest.raises(RuleViolationError) as raised:
        decision.raise_if_denied()
    assert raised.value.code is R.TARGET_NOT_IN_SCOPE
    decide(view, caller(KAYO), user_add(SALES)).raise_if_denied()
