-- The directory (users, groups) and catalog (catalogs, access packages, policies) that
-- `accessflow catalog apply` loads, and the assignments and grants the worker delivers.

CREATE TABLE directory_users (
    id           text PRIMARY KEY,
    display_name text,
    mail         text,
    user_type    text NOT NULL DEFAULT 'Member',
    manager_id   text
);
CREATE INDEX directory_users_mail ON directory_users (lower(mail));

CREATE TABLE directory_groups (
    id           text PRIMARY KEY,
    display_name text
);

-- Membership from the catalog file (source 'catalog') and memberships the built-in
-- directory connector delivers (source 'accessflow'); revocation only removes the latter.
CREATE TABLE group_members (
    group_id text NOT NULL,
    user_id  text NOT NULL,
    source   text NOT NULL DEFAULT 'catalog',
    PRIMARY KEY (group_id, user_id, source)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- Catalogs, access packages and policies as their Graph documents: few, read whole, and
-- cached by workers, which reload when catalog_version moves.
CREATE TABLE catalog_objects (
    kind     text NOT NULL CHECK (kind IN ('catalog', 'accessPackage', 'assignmentPolicy')),
    id       text NOT NULL,
    document jsonb NOT NULL,
    PRIMARY KEY (kind, id)
);

CREATE TABLE catalog_version (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version    bigint      NOT NULL,
    applied_at timestamptz NOT NULL
);
INSERT INTO catalog_version VALUES (true, 0, now());

CREATE TABLE assignments (
    id                   uuid PRIMARY KEY,
    access_package_id    text        NOT NULL,
    assignment_policy_id text,
    target_id            text        NOT NULL,
    state                text        NOT NULL,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    document             jsonb       NOT NULL
);
-- One live assignment per target and package; expired ones are kept for audits.
CREATE UNIQUE INDEX assignments_one_live
    ON assignments (target_id, access_package_id) WHERE state <> 'expired';

-- One row per resource role scope delivered for an assignment.
CREATE TABLE grants (
    assignment_id     uuid NOT NULL REFERENCES assignments (id),
    resource_scope_id text NOT NULL,
    origin_system     text NOT NULL,
    origin_id         text NOT NULL,
    state             text NOT NULL,
    detail            text,
    updated_at        timestamptz NOT NULL,
    PRIMARY KEY (assignment_id, resource_scope_id)
);
