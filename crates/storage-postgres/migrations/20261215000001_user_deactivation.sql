-- user deactivation (issue 12): a deactivated user keeps its data but cannot sign in.
-- `deactivated_at` is null while the user is active.

alter table users add column deactivated_at timestamptz;

-- deactivating starts a new token generation: the user's access tokens end at once.
create function roster_deactivation_ends_tokens() returns trigger
language plpgsql as $$
begin
    if old.deactivated_at is null and new.deactivated_at is not null then
        new.token_generation := old.token_generation + 1;
    end if;
    return new;
end;
$$;

create trigger users_deactivation_ends_tokens
    before update of deactivated_at on users
    for each row
    execute function roster_deactivation_ends_tokens();

-- and revokes its refresh families, so a reactivation does not bring old sessions back
-- (refresh_tokens_revoked announces each one on roster_access). other servers drop their
-- cached caller on any change of deactivated_at: a bump made by a before trigger does not
-- fire users_tokens_ended, which watches token_generation in the update's own columns.
create function roster_deactivation_ends_sessions() returns trigger
language plpgsql as $$
begin
    if old.deactivated_at is null and new.deactivated_at is not null then
        update refresh_tokens set revoked_at = new.deactivated_at
            where user_id = new.id and revoked_at is null;
    end if;
    perform pg_notify('roster_access', new.id::text);
    return null;
end;
$$;

create trigger users_deactivation_ends_sessions
    after update of deactivated_at on users
    for each row
    when (old.deactivated_at is distinct from new.deactivated_at)
    execute function roster_deactivation_ends_sessions();
