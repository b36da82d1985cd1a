-- blocked embedded subjects: deleting an embedded user blocks its (customer, subject), so the
-- next jwt naming that subject is refused (401) instead of silently creating a new user.
-- an owner or admin lifts the block with unblockEmbeddedUser; the block goes with its
-- customer (and organization).
create table embedded_blocks (
    organization_id uuid not null,
    customer_id uuid not null,
    subject text not null,
    blocked_at timestamptz not null default now(),
    primary key (organization_id, customer_id, subject),
    foreign key (organization_id, customer_id)
        references customers (organization_id, id) on delete cascade
);

-- the subject row goes with its user (on delete cascade), whoever deletes it and however;
-- a user deleted with its customer leaves nothing to block (the customer row is gone by the
-- time the cascade reaches the subject).
create function roster_block_embedded_subject() returns trigger
language plpgsql as $$
begin
    if exists (select 1 from customers
               where organization_id = old.organization_id and id = old.customer_id) then
        insert into embedded_blocks (organization_id, customer_id, subject)
        values (old.organization_id, old.customer_id, old.subject)
        on conflict do nothing;
    end if;
    return null;
end;
$$;

create trigger embedded_subjects_blocked_on_delete
    after delete on embedded_subjects
    for each row
    execute function roster_block_embedded_subject();
