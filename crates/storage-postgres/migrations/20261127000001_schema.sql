-- roster schema for postgresql.
--
-- conventions:
-- * *_key columns hold text case-folded in rust (domain::text::fold_case): uniqueness and
--   ordering ignore case the same way on every engine. text that listings sort by uses
--   collate "C" (byte order), the order sqlite and rust use, whatever the database locale.
-- * lists (labels, attachments) are jsonb arrays.
-- * every row belongs to one organization, and every foreign key includes organization_id,
--   so no reference can cross tenants.
-- * unique constraints are named: the adapter maps each name to the rule it enforces.

create table organizations (
    id uuid primary key,
    name text not null,
    name_key text collate "C" not null,
    created_at timestamptz not null,
    constraint organizations_name_key_unique unique (name_key)
);

-- one row per built-in role (domain::RoleKind::key) per organization.
create table roles (
    id uuid primary key,
    organization_id uuid not null references organizations (id) on delete cascade,
    kind text not null,
    constraint roles_kind_unique unique (organization_id, kind),
    constraint roles_organization_id_unique unique (organization_id, id)
);

create table customers (
    id uuid primary key,
    organization_id uuid not null references organizations (id) on delete cascade,
    name text not null,
    name_key text collate "C" not null,
    description text collate "C" not null,
    external_id text,
    labels jsonb not null,
    is_system boolean not null,
    avatar_url text,
    allow_embedded_designer boolean not null,
    allow_workflow_copilot boolean not null,
    concurrent_execution_limit integer,
    starred boolean not null,
    attachments jsonb not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    -- the name is unique per organization, ignoring case; also the default listing order.
    constraint customers_name_key_unique unique (organization_id, name_key),
    -- null external ids are distinct, so any number of customers may have none.
    constraint customers_external_id_unique unique (organization_id, external_id),
    constraint customers_organization_id_unique unique (organization_id, id)
);

create index customers_created_at on customers (organization_id, created_at);
create index customers_updated_at on customers (organization_id, updated_at);

-- team members have no customer_id; customer users belong to one customer and go with it.
create table users (
    id uuid primary key,
    organization_id uuid not null references organizations (id) on delete cascade,
    customer_id uuid,
    email text not null,
    email_key text collate "C" not null,
    name text not null,
    name_key text collate "C" not null,
    phone text not null,
    external_id text,
    avatar_url text,
    role_id uuid not null,
    dark_mode boolean not null,
    dark_mode_sync_with_os boolean not null,
    feature_flags text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    last_login timestamptz,
    constraint users_customer_fk foreign key (organization_id, customer_id)
        references customers (organization_id, id) on delete cascade,
    constraint users_role_fk foreign key (organization_id, role_id)
        references roles (organization_id, id),
    -- the email is unique per organization, ignoring case.
    constraint users_email_key_unique unique (organization_id, email_key)
);

-- external ids are unique among one customer's users, and among the team members.
create unique index users_customer_external_id_unique
    on users (organization_id, customer_id, external_id) where customer_id is not null;
create unique index users_team_external_id_unique
    on users (organization_id, external_id) where customer_id is null;

create index users_customer on users (organization_id, customer_id, name_key);
create index users_name on users (organization_id, name_key);
create index users_role on users (role_id);
-- users_by_email_anywhere looks across organizations.
create index users_email_key on users (email_key);

-- server-wide secrets such as the token signing key.
create table secrets (
    name text primary key,
    value bytea not null
);
