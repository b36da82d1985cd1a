-- the user an outbox mail invites (issue 10: `invitation.sent` is logged when it is
-- delivered). null for rows queued before these columns, which log nothing.

alter table outbox add column organization_id uuid;
alter table outbox add column user_id uuid;
