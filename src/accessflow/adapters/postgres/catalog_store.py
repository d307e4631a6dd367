"""Writing a validated catalog file to PostgreSQL, and reading the catalog back for workers.

``apply`` upserts: what the file names is created or replaced, nothing else is deleted.
Users, groups and memberships go through COPY into temporary tables and one set-based
upsert each, so 100,000 users take seconds. Every apply bumps ``catalog_version``, which is
how workers know to reload their cached copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from accessflow.adapters.postgres.pool import Conn
from accessflow.domain.catalog import Catalog
from accessflow.domain.models.packages import AccessPackage, AccessPackageCatalog
from accessflow.domain.models.policies import AccessPackageAssignmentPolicy
from accessflow.domain.models.requests import to_graph
from accessflow.service.read_model import CatalogObjects


@dataclass(frozen=True, slots=True)
class ApplyResult:
    version: int
    users: int
    groups: int
    memberships: int
    catalogs: int
    access_packages: int
    assignment_policies: int


async def apply_catalog(conn: Conn, catalog: Catalog) -> ApplyResult:
    users = [
        (
            u.id.lower(),
            u.display_name,
            u.mail,
            u.user_type.value,
            u.manager_id.lower() if u.manager_id else None,
        )
        for u in catalog.users.values()
    ]
    groups = [(g.id.lower(), g.display_name) for g in catalog.groups.values()]
    members = [(g.id.lower(), m.lower()) for g in catalog.groups.values() for m in g.members]
    objects = [
        *(("catalog", c.id.lower(), to_graph(c)) for c in catalog.catalogs.values()),
        *(("accessPackage", p.id.lower(), to_graph(p)) for p in catalog.access_packages.values()),
        *(
            ("assignmentPolicy", p.id.lower(), to_graph(p))
            for p in catalog.assignment_policies.values()
        ),
    ]
    async with conn.transaction():
        await _copy_upsert(
            conn,
            "directory_users",
            ["id", "display_name", "mail", "user_type", "manager_id"],
            users,
        )
        await _copy_upsert(conn, "directory_groups", ["id", "display_name"], groups)
        # The file is the truth for its groups' catalog memberships; deliveries stay.
        await conn.execute(
            "DELETE FROM group_members WHERE source = 'catalog' AND group_id = ANY($1::text[])",
            [g[0] for g in groups],
        )
        if members:
            await conn.copy_records_to_table(
                "group_members", records=members, columns=["group_id", "user_id"]
            )
        await conn.executemany(
            "INSERT INTO catalog_objects (kind, id, document) VALUES ($1, $2, $3) "
            "ON CONFLICT (kind, id) DO UPDATE SET document = excluded.document",
            objects,
        )
        version: int = await conn.fetchval(
            "UPDATE catalog_version SET version = version + 1, applied_at = now() RETURNING version"
        )
    return ApplyResult(
        version,
        len(users),
        len(groups),
        len(members),
        len(catalog.catalogs),
        len(catalog.access_packages),
        len(catalog.assignment_policies),
    )


async def _copy_upsert(
    conn: Conn, table: str, columns: list[str], rows: Sequence[tuple[object, ...]]
) -> None:
    if not rows:
        return
    staging = f"staging_{table}"
    await conn.execute(
        f"CREATE TEMP TABLE {staging} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    await conn.copy_records_to_table(staging, records=rows, columns=columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
    cols = ", ".join(columns)
    await conn.execute(
        f"INSERT INTO {table} ({cols}) SELECT DISTINCT ON (id) {cols} FROM {staging} "
        f"ON CONFLICT (id) DO UPDATE SET {updates}"
    )


async def catalog_version(conn: Conn) -> int:
    version: int = await conn.fetchval("SELECT version FROM catalog_version")
    return version


async def load_catalog_objects(conn: Conn, version: int) -> CatalogObjects:
    rows = await conn.fetch("SELECT kind, id, document FROM catalog_objects")
    catalogs, packages, policies = {}, {}, {}
    for row in rows:
        if row["kind"] == "catalog":
            catalogs[row["id"]] = AccessPackageCatalog.model_validate(row["document"])
        elif row["kind"] == "accessPackage":
            packages[row["id"]] = AccessPackage.model_validate(row["document"])
        else:
            policies[row["id"]] = AccessPackageAssignmentPolicy.model_validate(row["document"])
    return CatalogObjects(version, catalogs, packages, policies)
