-- SCIM users (issue 12): the SCIM attributes a customer's identity provider sent for a
-- user (name, displayName, emails, phoneNumbers), kept as sent so it reads back what it
-- wrote: json text in the `scim` crate's shape (scim::user), null for users SCIM never
-- wrote. the user's own email, name and phone are derived from them, in their columns.

alter table users add column scim text;
