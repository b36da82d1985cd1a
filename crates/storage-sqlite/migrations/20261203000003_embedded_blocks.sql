-- blocked embedded subjects: deleting an embedded user blocks its (customer, subject), so the
-- next jwt naming that subject is refused (401) instead of silently creating a new user.
-- an owner or admin lifts the block with unblockEmbeddedUser; the block goes with its
-- customer (and organization).
create table embedded_blocks (
    organization_id text not null,
    customer_id text not null,
    subject text not null,
    blocked_at integer not null,
    primary key (organization_id, customer_id, subject),
    foreign key (organization_id, customer_id)
        references customers (organization_id, id) on delete cascade
) strict;

-- the subject row goes with its user (on delete cascade), whoever deletes it and however;
-- a user deleted with its customer leaves nothing to block (the customer row is gone by the
-- time the cascade reaches the subject).
create trigger embedded_subjects_blocked_on_delete
    after delete on embedded_subjects
    for each row
    when exists (select 1 from customers
                 where organization_id = old.organization_id and id = old.customer_id)
begin
    insert into embedded_blocks (organization_id, customer_id, subject, blocked_at)
    values (old.organization_id, old.customer_id, old.subject,
            cast(unixepoch('subsec') * 1000000 as integer))
    on conflict do nothing;
end;
