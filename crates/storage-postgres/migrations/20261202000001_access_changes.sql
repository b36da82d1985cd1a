-- access changes: every committed change that can alter what a caller may do (a user's
-- role, customer or organization changed, a user deleted, directly or with its customer or
-- organization) is announced on the channel roster_access, so every server drops its cached
-- copy of that caller (service's actor cache; see docs/operations.md, "Actor cache").
--
-- payload: the affected user ids, comma-separated, at most 100 of them (3,700 bytes, under
-- postgresql's 8,000-byte limit), or '*' for everyone. postgresql sends notifications when
-- the transaction commits, and only if it commits.

create function roster_notify_user_changed() returns trigger
language plpgsql as $$
begin
    perform pg_notify('roster_access', new.id::text);
    return null;
end;
$$;

create function roster_notify_users_deleted() returns trigger
language plpgsql as $$
declare
    deleted bigint;
begin
    select count(*) into deleted from deleted_users;
    if deleted > 100 then
        perform pg_notify('roster_access', '*');
    elsif deleted > 0 then
        perform pg_notify('roster_access', (select string_agg(id::text, ',') from deleted_users));
    end if;
    return null;
end;
$$;

create function roster_notify_everyone() returns trigger
language plpgsql as $$
begin
    perform pg_notify('roster_access', '*');
    return null;
end;
$$;

-- updates write every column, so the when clause keeps other edits quiet.
create trigger users_access_updated
    after update of organization_id, customer_id, role_id on users
    for each row
    when (old.organization_id is distinct from new.organization_id
          or old.customer_id is distinct from new.customer_id
          or old.role_id is distinct from new.role_id)
    execute function roster_notify_user_changed();

-- also fires for the users a customer's or an organization's deletion cascades to.
create trigger users_access_deleted
    after delete on users
    referencing old table as deleted_users
    for each statement
    execute function roster_notify_users_deleted();

create trigger users_access_truncated
    after truncate on users
    for each statement
    execute function roster_notify_everyone();

-- roles never change kind today; if one ever does, every caller is reloaded.
create trigger roles_access_updated
    after update of kind on roles
    for each row
    when (old.kind is distinct from new.kind)
    execute function roster_notify_everyone();
