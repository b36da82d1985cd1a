-- user deactivation (issue 12): a deactivated user keeps its data but cannot sign in.
-- `deactivated_at` is null while the user is active.

alter table users add column deactivated_at integer;

-- deactivating starts a new token generation (the user's access tokens end at once) and
-- revokes its refresh families, so a reactivation does not bring old sessions back.
create trigger users_deactivation_ends_sessions
    after update of deactivated_at on users
    for each row
    when old.deactivated_at is null and new.deactivated_at is not null
begin
    update users set token_generation = token_generation + 1 where id = new.id;
    update refresh_tokens set revoked_at = new.deactivated_at
        where user_id = new.id and revoked_at is null;
end;
