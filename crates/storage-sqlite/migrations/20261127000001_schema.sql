-- roster schema for sqlite.
--
-- conventions:
-- * ids are lowercase hyphenated uuid text; times are integer microseconds since the unix
--   epoch (utc), so they round-trip exactly and sort as numbers.
-- * *_key columns hold text case-folded in rust (domain::text::fold_case): uniqueness and
--   ordering ignore case the same way on every engine, without collations.
-- * lists (labels, attachments) are json text.
-- * every row belongs to one organization, and every foreign key includes organization_id,
--   so no reference can cross tenants.
-- * strict tables: a value of the wrong type is an error, not a silent conversion.

create table organizations (
    id text primary key,
    name text not null,
    name_key text not null,
    created_at integer not null,
    unique (name_key)
) strict;

-- one row per built-in role (domain::RoleKind::key) per organization.
create table roles (
    id text primary key,
    organization_id text not null references organizations (id) on delete cascade,
    kind text not null,
    unique (organization_id, kind),
    unique (organization_id, id)
) strict;

create table customers (
    id text primary key,
    organization_id text not null references organizations (id) on delete cascade,
    name text not null,
    name_key text not null,
    description text not null,
    external_id text,
    labels text not null,
    is_system integer not null,
    avatar_url text,
    allow_embedded_designer integer not null,
    allow_workflow_copilot integer not null,
    concurrent_execution_limit integer,
    starred integer not null,
    attachments text not null,
    created_at integer not null,
    updated_at integer not null,
    -- the name is unique per organization, ignoring case; also the default listing order.
    unique (organization_id, name_key),
    -- null external ids are distinct, so any number of customers may have none.
    unique (organization_id, external_id),
    unique (organization_id, id)
) strict;

create index customers_created_at on customers (organization_id, created_at);
create index customers_updated_at on customers (organization_id, updated_at);

-- team members have no customer_id; customer users belong to one customer and go with it.
create table users (
    id text primary key,
    organization_id text not null references organizations (id) on delete cascade,
    customer_id text,
    email text not null,
    email_key text not null,
    name text not null,
    name_key text not null,
    phone text not null,
    external_id text,
    avatar_url text,
    role_id text not null,
    dark_mode integer not null,
    dark_mode_sync_with_os integer not null,
    feature_flags text not null,
    created_at integer not null,
    updated_at integer not null,
    last_login integer,
    foreign key (organization_id, customer_id)
        references customers (organization_id, id) on delete cascade,
    foreign key (organization_id, role_id) references roles (organization_id, id),
    -- the email is unique per organization, ignoring case.
    unique (organization_id, email_key)
) strict;

-- external ids are unique among one customer's users, and among the team members.
create unique index users_customer_external_id
    on users (organization_id, customer_id, external_id) where customer_id is not null;
create unique index users_team_external_id
    on users (organization_id, external_id) where customer_id is null;

create index users_customer on users (organization_id, customer_id, name_key);
create index users_name on users (organization_id, name_key);
create index users_role on users (role_id);
-- users_by_email_anywhere looks across organizations.
create index users_email_key on users (email_key);

-- server-wide secrets such as the token signing key.
create table secrets (
    name text primary key,
    value blob not null
) strict;
