//! DataLoaders, created per request, so nested fields cost one directory call per batch
//! instead of one per parent (no N+1).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use domain::listing::{Page, UserQuery};
use domain::{Actor, Customer, CustomerId, User};
use ports::{CustomerDirectory, DirectoryError, UserDirectory};

/// The per-request loader of `Customer.users`; it caches, so a prefetched page is reused.
pub(crate) type UsersLoader = DataLoader<UsersOfCustomers, HashMapCache>;

/// The per-request loader of `User.customer`; it caches, so a prefetched customer is reused.
pub(crate) type CustomersLoader = DataLoader<CustomersById, HashMapCache>;

/// Loads `Customer.users` pages: one `users_of_customers` call per distinct query.
pub(crate) struct UsersOfCustomers {
    users: Arc<dyn UserDirectory>,
    actor: Actor,
}

impl UsersOfCustomers {
    /// A loader acting as `actor`.
    pub(crate) fn new(users: Arc<dyn UserDirectory>, actor: Actor) -> Self {
        UsersOfCustomers { users, actor }
    }
}

impl Loader<(CustomerId, UserQuery)> for UsersOfCustomers {
    type Value = Page<User>;
    type Error = Arc<DirectoryError>;

    async fn load(
        &self,
        keys: &[(CustomerId, UserQuery)],
    ) -> Result<HashMap<(CustomerId, UserQuery), Page<User>>, Self::Error> {
        let mut batches: Vec<(&UserQuery, Vec<CustomerId>)> = Vec::new();
        for (customer, query) in keys {
            match batches.iter_mut().find(|(q, _)| *q == query) {
                Some((_, customers)) => customers.push(*customer),
                None => batches.push((query, vec![*customer])),
            }
        }
        let mut pages = HashMap::with_capacity(keys.len());
        for (query, customers) in batches {
            let mut found: HashMap<CustomerId, Page<User>> = self
                .users
                .users_of_customers(&self.actor, &customers, query)
                .await
                .map_err(Arc::new)?
                .into_iter()
                .collect();
            for customer in customers {
                let page = found.remove(&customer).unwrap_or_else(Page::empty);
                pages.insert((customer, query.clone()), page);
            }
        }
        Ok(pages)
    }
}

/// Loads `User.customer`: one `customers_by_ids` call per batch. A customer the caller
/// cannot see loads as `None`, so the cache remembers that too.
pub(crate) struct CustomersById {
    customers: Arc<dyn CustomerDirectory>,
    actor: Actor,
}

impl CustomersById {
    /// A loader acting as `actor`.
    pub(crate) fn new(customers: Arc<dyn CustomerDirectory>, actor: Actor) -> Self {
        CustomersById { customers, actor }
    }
}

impl Loader<CustomerId> for CustomersById {
    type Value = Option<Customer>;
    type Error = Arc<DirectoryError>;

    async fn load(
        &self,
        keys: &[CustomerId],
    ) -> Result<HashMap<CustomerId, Option<Customer>>, Self::Error> {
        let mut found: HashMap<CustomerId, Customer> = self
            .customers
            .customers_by_ids(&self.actor, keys)
            .await
            .map_err(Arc::new)?
            .into_iter()
            .map(|customer| (customer.id, customer))
            .collect();
        Ok(keys.iter().map(|id| (*id, found.remove(id))).collect())
    }
}
