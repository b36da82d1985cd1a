-- when the sweep logged an invitation's expiry (issue 10: `invitation.expired`, once per
-- link); null while the link is pending or accepted, cleared when a renewal replaces it.

alter table invitations add column expired_at timestamptz;

-- links that expired before the event existed are marked as logged: they log nothing
-- (as mails delivered before `invitation.sent` existed), rather than a burst at upgrade.
update invitations set expired_at = expires_at
    where accepted_at is null and expires_at <= now();

-- the sweep's search: pending links whose expiry is not logged, by expiry.
create index invitations_expiring on invitations (expires_at)
    where accepted_at is null and expired_at is null;
