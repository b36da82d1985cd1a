-- row versions: every customer, user and organization counts its writes, starting at 1.
-- an update writes only the columns it changes, plus version = version + 1, and only
-- where the version is still the one it read (compare-and-set), so concurrent writers
-- never undo each other; existing rows start at 1.

alter table customers add column version integer not null default 1;
alter table users add column version integer not null default 1;
alter table organizations add column version integer not null default 1;
