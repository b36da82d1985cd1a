-- invitations and the mail outbox.

-- one invitation per invited user, by the sha-256 of the token in its current link; it
-- goes with its user.
create table invitations (
    user_id text primary key references users (id) on delete cascade,
    organization_id text not null,
    token_hash text not null unique,
    sent_at integer not null,
    expires_at integer not null,
    accepted_at integer
) strict;

-- mails waiting for delivery; a row is deleted once delivered. a claimer leases a row by
-- moving next_attempt_at past now, so no other claimer takes it meanwhile.
create table outbox (
    id text primary key,
    recipient text not null,
    subject text not null,
    body text not null,
    attempts integer not null default 0,
    created_at integer not null,
    next_attempt_at integer not null,
    last_error text
) strict;

create index outbox_due on outbox (next_attempt_at);
