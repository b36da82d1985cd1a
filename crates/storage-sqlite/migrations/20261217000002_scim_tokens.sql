-- scim tokens (issue 12): the bearer tokens a customer's identity provider provisions its
-- users with, one customer each. the token itself is never stored: token_hash is the
-- lowercase hex sha-256 of its text, which finds it; preview is its first characters, for
-- lists. last_used_at is written at most once a minute. a token goes with its customer.

create table scim_tokens (
    id text primary key,
    organization_id text not null references organizations (id) on delete cascade,
    customer_id text not null,
    token_hash text not null unique,
    description text not null,
    preview text not null,
    send_invitations integer not null,
    created_at integer not null,
    last_used_at integer,
    foreign key (organization_id, customer_id)
        references customers (organization_id, id) on delete cascade
) strict;

create index scim_tokens_customer on scim_tokens (organization_id, customer_id, id);
