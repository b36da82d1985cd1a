-- revocable access tokens (issue 9). every access token carries its user's token generation
-- (`gen`), and a login's tokens their session, the refresh family (`sid`): a token counts
-- only while its user's generation is the one it names and its family is not revoked. the
-- per-request user lookup reads both in the same statement as the user.

alter table users add column token_generation bigint not null default 0;

-- a role change starts a new generation: the user's earlier tokens end.
create function roster_role_change_ends_tokens() returns trigger
language plpgsql as $$
begin
    if new.role_id is distinct from old.role_id then
        new.token_generation := old.token_generation + 1;
    end if;
    return new;
end;
$$;

create trigger users_role_ends_tokens
    before update of role_id on users
    for each row
    execute function roster_role_change_ends_tokens();

-- so does a password being set or replaced (set-password, a reset, an accepted invitation).
create function roster_password_ends_tokens() returns trigger
language plpgsql as $$
begin
    update users set token_generation = token_generation + 1 where id = new.user_id;
    return null;
end;
$$;

create trigger passwords_end_tokens
    after insert or update on passwords
    for each row
    execute function roster_password_ends_tokens();

-- other servers hear of a new generation, and of a revoked session, on roster_access (see
-- 20261202000001_access_changes.sql), and drop their cached copy of the user.
create trigger users_tokens_ended
    after update of token_generation on users
    for each row
    when (old.token_generation is distinct from new.token_generation)
    execute function roster_notify_user_changed();

create function roster_notify_session_revoked() returns trigger
language plpgsql as $$
begin
    perform pg_notify('roster_access', new.user_id::text);
    return null;
end;
$$;

create trigger refresh_tokens_revoked
    after update of revoked_at on refresh_tokens
    for each row
    when (old.revoked_at is null and new.revoked_at is not null)
    execute function roster_notify_session_revoked();

-- the lookup reads a user's recently revoked families.
create index refresh_tokens_user_revoked on refresh_tokens (user_id, revoked_at)
    where revoked_at is not null;

-- signing keys added by `roster token-key rotate`; tokens name theirs in the header's kid.
-- the original key (secrets.access_token_hs256) signs the tokens without a kid.
create table token_keys (
    kid text primary key,
    secret bytea not null,
    created_at timestamptz not null
);
