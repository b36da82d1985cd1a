-- passwords and refresh tokens.

-- one argon2id phc string per user that has set a password; it goes with its user.
create table passwords (
    user_id text primary key references users (id) on delete cascade,
    organization_id text not null,
    hash text not null,
    updated_at integer not null
) strict;

-- refresh tokens by the sha-256 of the opaque token; rotated tokens of one login share a
-- family, so reuse of a rotated one revokes the family. they go with their user.
create table refresh_tokens (
    token_hash text primary key,
    family text not null,
    organization_id text not null,
    user_id text not null references users (id) on delete cascade,
    created_at integer not null,
    expires_at integer not null,
    used_at integer,
    revoked_at integer
) strict;

create index refresh_tokens_family on refresh_tokens (family);
create index refresh_tokens_user on refresh_tokens (user_id);
