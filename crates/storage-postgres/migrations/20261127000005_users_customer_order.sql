-- a customer's users in listing order (name, then id): the batched users listing reads
-- each customer's page from this index and stops at the page's end, with no sort. it
-- replaces users_customer (organization_id, customer_id, name_key), which left the id
-- tie-break to a sort of all the customer's users.

drop index users_customer;
create index users_customer on users (organization_id, customer_id, name_key, id);
