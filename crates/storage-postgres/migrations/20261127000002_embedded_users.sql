-- embedded customer users: the organizations' signing keys and the users' subjects.

-- public keys that verify an organization's embedded-user jwts; private keys are never
-- stored, only the last characters of a generated one (private_key_preview).
create table signing_keys (
    id uuid primary key,
    organization_id uuid not null references organizations (id) on delete cascade,
    public_key text not null,
    private_key_preview text,
    imported boolean not null,
    issued_at timestamptz not null
);

create index signing_keys_organization on signing_keys (organization_id, issued_at, id);

-- the subject (jwt `sub`) of each embedded user, unique per customer; it goes with its user.
create table embedded_subjects (
    user_id uuid primary key references users (id) on delete cascade,
    organization_id uuid not null,
    customer_id uuid not null,
    subject text not null,
    constraint embedded_subjects_subject_unique unique (organization_id, customer_id, subject)
);
