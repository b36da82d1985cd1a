-- webhooks (issue 10): endpoints, the deliveries of events to them (a lease queue like the
-- mail outbox's) and every attempt. an endpoint's fanned_seq is its fan-out cursor: the
-- last sequence of its organization's log turned into deliveries; a worker moves it by
-- compare-and-set with the deliveries it inserts. secrets are kept as given (they sign);
-- no event holds them. event_types is json text.

create table webhook_endpoints (
    id text primary key,
    organization_id text not null references organizations (id) on delete cascade,
    customer_id text,                   -- only this customer's events, when set
    url text not null,
    event_types text not null,          -- json array of domain::events::EventType::key; [] = all
    exclude_client_id text,
    secret text not null,
    previous_secret text,               -- honoured until previous_secret_until
    previous_secret_until integer,
    enabled integer not null,
    failing_since integer,              -- every attempt failed since then
    disabled_at integer,
    fanned_seq integer not null,
    created_at integer not null,
    updated_at integer not null,
    version integer not null,
    foreign key (organization_id, customer_id)
        references customers (organization_id, id) on delete cascade
) strict;

create index webhook_endpoints_organization on webhook_endpoints (organization_id, id);

-- one event to one endpoint. next_attempt_at is null once delivered or given up; a
-- claimer leases a row by moving it past now. deliveries go with their event (retention).
create table webhook_deliveries (
    id text primary key,
    endpoint_id text not null references webhook_endpoints (id) on delete cascade,
    organization_id text not null,
    seq integer not null,
    subject_id text not null,
    origin text not null,               -- fanout | redeliver | replay
    attempts integer not null default 0,
    created_at integer not null,
    next_attempt_at integer,
    delivered_at integer,
    gave_up_at integer,
    last_error text,
    foreign key (organization_id, seq) references events (organization_id, seq) on delete cascade
) strict;

-- an event is fanned out to an endpoint once.
create unique index webhook_deliveries_once on webhook_deliveries (endpoint_id, seq)
    where origin = 'fanout';
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at, id)
    where next_attempt_at is not null;
-- in order per subject: a subject's delivery waits for its earlier pending ones.
create index webhook_deliveries_pending on webhook_deliveries (endpoint_id, subject_id, seq)
    where delivered_at is null and gave_up_at is null;
create index webhook_deliveries_endpoint on webhook_deliveries (endpoint_id, id);
create index webhook_deliveries_event on webhook_deliveries (organization_id, seq);

create table webhook_attempts (
    delivery_id text not null references webhook_deliveries (id) on delete cascade,
    attempt integer not null,
    attempted_at integer not null,
    status integer,                     -- null when no answer came
    latency_ms integer not null,
    response_excerpt text,              -- at most 1 KiB
    error text,
    primary key (delivery_id, attempt)
) strict;
