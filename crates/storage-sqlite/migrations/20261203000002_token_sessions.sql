-- revocable access tokens (issue 9). every access token carries its user's token generation
-- (`gen`), and a login's tokens their session, the refresh family (`sid`): a token counts
-- only while its user's generation is the one it names and its family is not revoked. the
-- per-request user lookup reads both in the same statement as the user.

alter table users add column token_generation integer not null default 0;

-- a role change starts a new generation: the user's earlier tokens end.
create trigger users_role_ends_tokens
    after update of role_id on users
    for each row
    when old.role_id is not new.role_id
begin
    update users set token_generation = token_generation + 1 where id = new.id;
end;

-- so does a password being set or replaced (set-password, a reset, an accepted invitation).
create trigger passwords_inserted_end_tokens
    after insert on passwords
    for each row
begin
    update users set token_generation = token_generation + 1 where id = new.user_id;
end;

create trigger passwords_updated_end_tokens
    after update on passwords
    for each row
begin
    update users set token_generation = token_generation + 1 where id = new.user_id;
end;

-- the lookup reads a user's recently revoked families.
create index refresh_tokens_user_revoked on refresh_tokens (user_id, revoked_at)
    where revoked_at is not null;

-- signing keys added by `roster token-key rotate`; tokens name theirs in the header's kid.
-- the original key (secrets.access_token_hs256) signs the tokens without a kid.
create table token_keys (
    kid text primary key,
    secret blob not null,
    created_at integer not null
) strict;
