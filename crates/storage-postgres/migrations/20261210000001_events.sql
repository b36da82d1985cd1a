-- the event log (issue 10): every customer and user write appends one event in its own
-- transaction. an organization's events are numbered 1, 2, 3... by its counter row, which
-- a write bumps last (an upsert: the row is made by the first event), so writers of one
-- organization commit in sequence order and readers never see a gap. an event's time is
-- the later of its write's and the counter's last_at: times never fall along the sequence.
-- events outlive their subject (no reference to customers or users); they go with their
-- organization.

create table event_counters (
    organization_id uuid primary key references organizations (id) on delete cascade,
    last_seq bigint not null,
    last_at timestamptz not null
);

create table events (
    organization_id uuid not null references organizations (id) on delete cascade,
    seq bigint not null,
    id uuid not null,
    occurred_at timestamptz not null,
    type text not null,                 -- domain::events::EventType::key
    subject_kind text not null,         -- customer | user
    subject_id uuid not null,
    customer_id uuid,                   -- the subject's customer, for a customer admin's view
    actor_id uuid,                      -- null for the operator and the system
    actor_kind text not null,           -- domain::events::ActorKind::key
    request_id text,
    client_id text,
    entity_version integer,
    before jsonb,
    after jsonb,
    primary key (organization_id, seq), -- the `after` cursor and the default order
    constraint events_id_unique unique (id)
);

-- the audit filters: a time range, one subject, one customer, one actor (each in sequence
-- order: times never fall along the sequence, so (occurred_at, seq) is sequence order too).
-- types are few and dense: they filter the primary key's walk.
create index events_occurred on events (organization_id, occurred_at, seq);
create index events_subject on events (organization_id, subject_id, seq);
create index events_customer on events (organization_id, customer_id, seq)
    where customer_id is not null;
create index events_actor on events (organization_id, actor_id, seq)
    where actor_id is not null;
