"""``applicable_policies`` (getApplicablePolicyRequirements and the catalog read rule) agrees
with the worker's decision: a policy is applicable exactly when a userAdd naming it passes
eligibility in :func:`evaluate_create`, for every user, package and on-behalf pair of the
example catalog."""

from __future__ import annotations

from typing import Any

from domain_support import (
    ALEX,
    FINANCE,
    FINANCE_POLICY,
    JORDAN,
    MEGAN,
    NOW,
    PARTNER,
    PARTNER_GUESTS,
    SALES,
    SALES_POLICY,
)

from accessflow.domain import (
    Caller,
    InMemoryView,
    ReasonCode,
    evaluate_create,
    load_catalog,
    parse_create_request,
)
from accessflow.domain.rules.applicable import applicable_policies

ELIGIBILITY = {
    ReasonCode.REQUESTOR_NOT_ALLOWED,
    ReasonCode.REQUEST_TYPE_NOT_ALLOWED,
    ReasonCode.TARGET_NOT_IN_SCOPE,
}


def worker_admits(
    view: InMemoryView, caller: str, package: str, policy: str, target: str | None
) -> bool:
    assignment = {"accessPackageId": package, "assignmentPolicyId": policy}
    if target is not None:
        assignment["targetId"] = target
    body = parse_create_request({"requestType": "userAdd", "assignment": assignment})
    decision = evaluate_create(body, Caller(object_id=caller), view, NOW)
    return decision.reason not in ELIGIBILITY


def test_applicable_policies_are_those_the_worker_admits(
    view: InMemoryView, example_document: dict[str, Any]
) -> None:
    catalog = load_catalog(example_document)
    users = [u.id for u in catalog.users.values()]
    packages = list(catalog.access_packages.values())
    checked = 0
    for caller in users:
        for target in (None, MEGAN, JORDAN):
            for package in packages:
                found = {
                    p.id
                    for p in applicable_policies(package.id, Caller(object_id=caller), view, target)
                }
                expected = {
                    p.id
                    for p in view.policies_of(package.id)
                    if worker_admits(view, caller, package.id, p.id, target)
                }
                assert found == expected, (caller, target, package.id)
                checked += 1
    assert checked == len(users) * 3 * len(packages)


def test_examples_of_who_may_request_what(view: InMemoryView) -> None:
    def ids(package: str, caller: str, target: str | None = None) -> list[str]:
        return [p.id for p in applicable_policies(package, Caller(object_id=caller), view, target)]

    assert ids(SALES, MEGAN) == [SALES_POLICY]  # not the direct-assignment policy
    assert ids(FINANCE, MEGAN) == [FINANCE_POLICY]
    assert ids(SALES, JORDAN) == []  # a guest; Sales is for members
    assert ids(PARTNER, JORDAN) == [PARTNER_GUESTS]
    assert ids(SALES, ALEX, MEGAN) == [SALES_POLICY]  # her manager, on her behalf
    assert ids(FINANCE, ALEX, MEGAN) == []  # self-service only
    assert ids("no-such-package", MEGAN) == []
    assert ids(SALES, "not-in-the-directory") == []
