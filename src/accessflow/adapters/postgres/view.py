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

from accessflow.adapters.postgres.catalog_store import CatalogObjects
from accessflow.adapters.postgres.pool import Conn
from accessflow.domain.catalog import Catalog
from accessflow.domain.models.packages import DirectoryGroup, DirectoryUser
from accessflow.domain.models.requests import AccessPackageAssignment
from accessflow.domain.models.subjects import GroupMembers
from accessflow.domain.view import InMemoryView, OpenRequest

_USERS = """
WITH RECURSIVE chain(id, depth) AS (
    SELECT id, 0 FROM directory_users WHERE id = ANY($1::text[]) OR lower(mail) = ANY($2::text[])
    UNION
    SELECT u.manager_id, c.depth + 1
    FROM chain c JOIN directory_users u ON u.id = c.id
    WHERE u.manager_id IS NOT NULL AND c.depth < 3
)
SELECT u.id, u.display_name, u.mail, u.user_type, u.manager_id
FROM directory_users u WHERE u.id IN (SELECT id FROM chain)
"""

_OPEN_ADDS = """
SELECT id::text, target_id, access_package_id FROM assignment_requests
WHERE target_id = ANY($1::text[])
  AND state IN ('submitted', 'pendingApproval', 'scheduled', 'delivering')
  AND request_type IN ('userAdd', 'adminAdd', 'systemAdd')
"""

_ASSIGNMENTS = """
SELECT document FROM assignments
WHERE (target_id = ANY($1::text[]) AND state <> 'expired') OR id::text = ANY($2::text[])
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
    wanted_assignments = sorted({a.lower() for a in assignment_ids})
    people = {u.lower() for u in user_ids}
    if wanted_assignments:
        # An update or removal names only the assignment: its person is in the batch too.
        people.update(
            row["target_id"]
            for row in await conn.fetch(
                "SELECT target_id FROM assignments WHERE id::text = ANY($1::text[])",
                wanted_assignments,
            )
        )
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
    for row in await conn.fetch(
        "SELECT DISTINCT group_id, user_id FROM group_members "
        "WHERE user_id = ANY($1::text[]) OR group_id = ANY($2::text[])",
        known,
        approver_groups(objects),
    ):
        members[row["group_id"]].append(row["user_id"])
    groups = {gid: DirectoryGroup(id=gid, members=ms) for gid, ms in members.items()}
    catalog = Catalog(
        users=users,
        groups=groups,
        catalogs=objects.catalogs,
        access_packages=objects.packages,
        assignment_policies=objects.policies,
    )
    assignments = [
        AccessPackageAssignment.model_validate(row["document"])
        # Graph ids are case-insensitive (one documented example is upper case).
        for row in await conn.fetch(
            _ASSIGNMENTS, known, sorted({a.lower() for a in assignment_ids})
        )
    ]
    open_requests = [OpenRequest(*row) for row in await conn.fetch(_OPEN_ADDS, known)]
    return InMemoryView(catalog, assignments=assignments, open_requests=open_requests)
