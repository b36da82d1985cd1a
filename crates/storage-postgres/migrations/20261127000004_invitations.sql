-- invitations and the mail outbox.

-- one invitation per invited user, by the sha-256 of the token in its current link; it
-- goes with its user.
create table invitations (
    user_id uuid primary key references users (id) on delete cascade,
    organization_id uuid not null,
    token_hash text not null unique,
    sent_at timestamptz not null,
    expires_at timestamptz not null,
    accepted_at timestamptz
);

-- mails waiting for delivery; a row is deleted once delivered. a claimer leases a row by
-- moving next_attempt_at past now (rows are claimed with for update skip locked), so no
-- other claimer takes it meanwhile.
create table outbox (
    id uuid primary key,
    recipient text not null,
    subject text not null,
    body text not null,
    attempts bigint not null default 0,
    created_at timestamptz not null,
    next_attempt_at timestamptz not null,
    last_error text
);

create index outbox_due on outbox (next_attempt_at);
