"""The rules' view of the directory for one batch, read from PostgreSQL in a few queries.

The catalog objects (catalogs, packages, policies) are few and cached per process until
``catalog_version`` moves. Users, memberships, assignments and open requests are read for
the ids the batch is about: its users and their managers (three levels, for
``requestorManager`` approvers), the groups those users are in, the full membership of the
groups policies name as approvers, and the targets' assignments and open add requests.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

from accessflow.adapters.postgres.pool import Conn
from accessflow.domain.catalog import Catalog
from accessflow.domain.models.packages import DirectoryGroup, DirectoryUser
from accessflow.domain.models.requests import AccessPackageAssignment
from accessflow.domain.models.subjects import GroupMembers
from accessflow.domain.view import InMemoryView, OpenRequest
from accessflow.service.ports import canonical_uuids
from accessflow.service.read_model import CatalogObjects

_USERS = """
WITH RECURSIVE chain(id, depth) AS (
    SELECT u.id, 0 FROM unnest($1::text[]) AS i(id)
    CROSS JOIN LATERAL (SELECT id FROM directory_users WHERE id = i.id OFFSET 0) AS u
    UNION
    SELECT u.id, 0 FROM unnest($2::text[]) AS m(mail)
    CROSS JOIN LATERAL (SELECT id FROM directory_users WHERE lower(mail) = m.mail OFFSET 0) AS u
    UNION
    SELECT u.manager_id, c.depth + 1 FROM chain c
    CROSS JOIN LATERAL (SELECT manager_id FROM directory_users WHERE id = c.id OFFSET 0) AS u
    WHERE u.manager_id IS NOT NULL AND c.depth < 3
)
SELECT u.id, u.display_name, u.mail, u.user_type, u.manager_id
FROM (SELECT DISTINCT id FROM chain) AS c
CROSS JOIN LATERAL (
    SELECT id, display_name, mail, user_type, manager_id FROM directory_users
    WHERE id = c.id OFFSET 0
) AS u
"""

# Every lookup below walks the batch's ids and probes an index per id (LATERAL … OFFSET 0
# keeps the planner from turning it into a join): with "col = ANY($1)" a table the
# planner has no statistics for yet (a fresh deployment, before autovacuum's first ANALYZE)
# is read in full for every batch, and the batch gets slower with every row written.
_OPEN_ADDS = """
SELECT r.id::text, r.target_id, r.access_package_id FROM unnest($1::text[]) AS t(id)
CROSS JOIN LATERAL (
    SELECT id, target_id, access_package_id FROM assignment_requests
    WHERE target_id = t.id
      AND state IN ('submitted', 'pendingApproval', 'scheduled', 'delivering')
      AND request_type IN ('userAdd', 'adminAdd', 'systemAdd')
    OFFSET 0
) AS r
"""

_ASSIGNMENTS = """
SELECT a.id, a.document FROM unnest($1::text[]) AS t(id)
CROSS JOIN LATERAL (
    SELECT id, document FROM assignments WHERE target_id = t.id AND state <> 'expired' OFFSET 0
) AS a
UNION ALL
SELECT a.id, a.document FROM unnest($2::uuid[]) AS i(id)
CROSS JOIN LATERAL (SELECT id, document FROM assignments WHERE id = i.id OFFSET 0) AS a
"""

_MEMBERS = """
SELECT m.group_id, m.user_id FROM unnest($1::text[]) AS u(id)
CROSS JOIN LATERAL (SELECT group_id, user_id FROM group_members WHERE user_id = u.id OFFSET 0) AS m
UNION
SELECT m.group_id, m.user_id FROM unnest($2::text[]) AS g(id)
CROSS JOIN LATERAL (SELECT group_id, user_id FROM group_members WHERE group_id = g.id OFFSET 0) AS m
"""

_TARGETS = """
SELECT a.target_id FROM unnest($1::uuid[]) AS i(id)
CROSS JOIN LATERAL (SELECT target_id FROM assignments WHERE id = i.id OFFSET 0) AS a
"""


def approver_groups(objects: CatalogObjects) -> list[str]:
    groups = set()
    for policy in objects.policies.values():
        for stage in policy.request_approval_settings.stages:
            for subject_set in (
                *stage.primary_approvers,
                *stage.fallback_primary_approvers,
                *stage.escalation_approvers,
                *stage.fallback_escalation_approvers,
            ):
                if isinstance(subject_set, GroupMembers):
                    groups.add(subject_set.group_id.lower())
    return sorted(groups)


async def load_view(
    conn: Conn,
    objects: CatalogObjects,
    user_ids: Collection[str],
    mails: Collection[str],
    assignment_ids: Collection[str],
) -> InMemoryView:
    wanted_assignments = canonical_uuids(assignment_ids)
    people = {u.lower() for u in user_ids}
    if wanted_assignments:
        # An update or removal names only the assignment: its person is in the batch too.
        people.update(row["target_id"] for row in await conn.fetch(_TARGETS, wanted_assignments))
    ids = sorted(people)
    users = {
        row["id"]: DirectoryUser(
            id=row["id"],
            display_name=row["display_name"],
            mail=row["mail"],
            user_type=row["user_type"],
            manager_id=row["manager_id"],
        )
        for row in await conn.fetch(_USERS, ids, sorted({m.lower() for m in mails}))
    }
    known = sorted(users)
    members: dict[str, list[str]] = defaultdict(list)
    for row in await conn.fetch(_MEMBERS, known, approver_groups(objects)):
        members[row["group_id"]].append(row["user_id"])
    groups = {gid: DirectoryGroup(id=gid, members=ms) for gid, ms in members.items()}
    catalog = Catalog(
        users=users,
        groups=groups,
        catalogs=objects.catalogs,
        access_packages=objects.packages,
        assignment_policies=objects.policies,
    )
    # Graph ids are case-insensitive (one documented example is upper case); an assignment
    # found both by its target and by its id is read once.
    documents = {
        row["id"]: row["document"]
        for row in await conn.fetch(_ASSIGNMENTS, known, wanted_assignments)
    }
    assignments = [AccessPackageAssignment.model_validate(d) for d in documents.values()]
    open_requests = [OpenRequest(*row) for row in await conn.fetch(_OPEN_ADDS, known)]
    return InMemoryView(catalog, assignments=assignments, open_requests=open_requests)
