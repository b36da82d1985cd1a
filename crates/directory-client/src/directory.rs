//! The directory ports over the wire. The `Actor` argument is ignored: the server knows the
//! caller from the token ([`Client::actor`] says who that is).

use async_trait::async_trait;
use domain::events::{Origin, RequestMeta};
use domain::listing::{CustomerQuery, Page, UserQuery};
use domain::{
    Actor, Customer, CustomerId, CustomerPatch, NewCustomer, NewUser, Organization, OrganizationId,
    OrganizationName, Role, RoleId, RoleScope, User, UserId, UserPatch, Version,
};
use futures::stream::{self, Stream, TryStreamExt};
use ports::{
    CustomerDirectory, DirectoryError, OrganizationDirectory, RoleDirectory, UserDirectory,
};
use std::sync::atomic::Ordering;

use serde::Deserialize;
use serde_json::{Value, json};
use wire::Global as _;

use crate::documents;
use crate::error::{ClientError, directory_error};
use crate::operations::{
    Document, create_customer, create_customer_user, create_organization_user, customer,
    customer_roles, customers, deactivate_user, delete_customer, delete_user, me, organization,
    organization_roles, reactivate_user, update_customer, update_user, user, users,
};
use crate::transport::{Client, Kind};
use crate::wire::{Connection, Payload, WireCustomer, WireRole, WireUser};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CustomersData {
    customers: Connection<WireCustomer>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsersData {
    users: Connection<WireUser>,
}

fn field_of(data: Value, name: &str) -> Result<Value, ClientError> {
    match data {
        Value::Object(mut map) => map
            .remove(name)
            .ok_or_else(|| ClientError::Decode(format!("no `{name}` in the answer"))),
        _ => Err(ClientError::Decode("data is not an object".into())),
    }
}

fn parse<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ClientError> {
    serde_json::from_value(value).map_err(|e| ClientError::Decode(e.to_string()))
}

/// Serializes generated variables (which cannot fail: strings, numbers and booleans only).
fn to_value(variables: &impl serde::Serialize) -> Value {
    serde_json::to_value(variables).unwrap_or_else(|_| json!({}))
}

/// Roster's `expectedVersion`, sent only when given (Prismatic has no such input field).
fn expected_version(expected: Option<Version>) -> Option<i64> {
    expected.map(|version| i64::from(version.get()))
}

/// The document `query` with Roster's `version` when `versions`.
fn versioned(query: &'static str, versions: bool) -> String {
    Document {
        versions,
        ..Document::full(query)
    }
    .text()
}

impl Client {
    /// The caller the token authenticates (`authenticatedUser`), as an [`Actor`] for the
    /// ports' first argument; fetched once per client.
    ///
    /// # Errors
    /// As any query: transport, authentication, decoding.
    pub async fn actor(&self) -> Result<Actor, DirectoryError> {
        self.actor
            .get_or_try_init(|| async {
                let me = self.me_raw().await?;
                Ok::<_, ClientError>(Actor::of(&me))
            })
            .await
            .copied()
            .map_err(directory_error)
    }

    async fn me_raw(&self) -> Result<User, ClientError> {
        let data = self
            .run_versioned::<Value>(
                Kind::Query,
                |versions| versioned(me::QUERY, versions),
                json!({}),
            )
            .await?;
        parse::<WireUser>(field_of(data, "authenticatedUser")?)?.into_domain()
    }

    async fn organization_id(&self) -> Result<OrganizationId, DirectoryError> {
        Ok(self.actor().await?.organization_id)
    }

    async fn customer_page(
        &self,
        query: &CustomerQuery,
        after: Option<&str>,
    ) -> Result<(Page<Customer>, Option<String>), DirectoryError> {
        let organization = self.organization_id().await?;
        let mut variables = documents::customer_variables(query);
        if let (Some(after), Some(vars)) = (after, variables.as_object_mut()) {
            vars.insert("after".into(), json!(after));
        }
        let data: CustomersData = self
            .run_versioned(
                Kind::Query,
                |versions| {
                    Document {
                        versions,
                        total: query.count_total,
                        ..Document::full(customers::QUERY)
                    }
                    .text()
                },
                variables,
            )
            .await
            .map_err(directory_error)?;
        let next = next_cursor(&data.customers);
        let page = data
            .customers
            .into_page(|c| c.into_domain(organization), |c| c.id.uuid())
            .map_err(directory_error)?;
        Ok((page, next))
    }

    async fn user_page(
        &self,
        query: &UserQuery,
        after: Option<&str>,
    ) -> Result<(Page<User>, Option<String>), DirectoryError> {
        let mut variables = documents::user_variables(query);
        if let (Some(after), Some(vars)) = (after, variables.as_object_mut()) {
            vars.insert("after".into(), json!(after));
        }
        let data: UsersData = self
            .run_versioned(
                Kind::Query,
                |versions| {
                    Document {
                        versions,
                        total: query.count_total,
                        ..Document::full(users::QUERY)
                    }
                    .text()
                },
                variables,
            )
            .await
            .map_err(directory_error)?;
        let next = next_cursor(&data.users);
        let mut page = data
            .users
            .into_page(WireUser::into_domain, |u| u.id.uuid())
            .map_err(directory_error)?;
        // A server without the `active` argument (Prismatic, whose users are all active)
        // was not asked to filter: the page is filtered here (Roster's already is).
        if let Some(active) = query.filter.active {
            page.edges.retain(|edge| edge.node.is_active() == active);
        }
        Ok((page, next))
    }

    /// Every customer matching `query`'s filters and order, page after page (`first`/`after`
    /// with the server's own cursors, starting from `after: ""`), as a stream.
    pub fn customer_stream(
        &self,
        query: CustomerQuery,
    ) -> impl Stream<Item = Result<Customer, DirectoryError>> + Send + 'static {
        let client = self.clone();
        stream::try_unfold(Some(String::new()), move |after| {
            let client = client.clone();
            let query = query.clone();
            async move {
                let Some(after) = after else {
                    return Ok::<_, DirectoryError>(None);
                };
                let (page, next) = client.customer_page(&query, Some(&after)).await?;
                let rows = page.edges.into_iter().map(|edge| Ok(edge.node));
                Ok(Some((stream::iter(rows), next)))
            }
        })
        .try_flatten()
    }

    /// Every user matching `query`'s filters and order, page after page, as a stream.
    pub fn user_stream(
        &self,
        query: UserQuery,
    ) -> impl Stream<Item = Result<User, DirectoryError>> + Send + 'static {
        let client = self.clone();
        stream::try_unfold(Some(String::new()), move |after| {
            let client = client.clone();
            let query = query.clone();
            async move {
                let Some(after) = after else {
                    return Ok::<_, DirectoryError>(None);
                };
                let (page, next) = client.user_page(&query, Some(&after)).await?;
                let rows = page.edges.into_iter().map(|edge| Ok(edge.node));
                Ok(Some((stream::iter(rows), next)))
            }
        })
        .try_flatten()
    }

    /// Sends the mutation `query` (its root field `field`, its payload's object `object`)
    /// with `variables`, and reads the payload.
    async fn mutate<T: serde::de::DeserializeOwned>(
        &self,
        query: &'static str,
        field: &str,
        object: &str,
        variables: Value,
        tags: &RequestMeta,
    ) -> Result<T, DirectoryError> {
        let codes = self.error_codes.load(Ordering::Relaxed);
        let document = |codes: bool| {
            move |versions| {
                Document {
                    versions,
                    codes,
                    ..Document::full(query)
                }
                .text()
            }
        };
        let data = match self
            .run_versioned_tagged::<Value>(Kind::Mutation, document(codes), variables.clone(), tags)
            .await
        {
            // The schema has no `ErrorType.code`: the document failed validation, so nothing
            // ran, and sending it again without `code` is safe.
            Err(ClientError::GraphQl(errors)) if codes && lacks_error_codes(&errors) => {
                self.error_codes.store(false, Ordering::Relaxed);
                self.run_versioned_tagged::<Value>(Kind::Mutation, document(false), variables, tags)
                    .await
                    .map_err(directory_error)?
            }
            other => other.map_err(directory_error)?,
        };
        let payload = field_of(data, field).map_err(directory_error)?;
        let mut payload = match payload {
            Value::Object(map) => map,
            _ => return Err(directory_error(ClientError::Decode("null payload".into()))),
        };
        let object_value = payload.remove(object).unwrap_or(Value::Null);
        payload.insert("object".into(), object_value);
        parse::<Payload<T>>(Value::Object(payload))
            .and_then(Payload::into_result)
            .map_err(directory_error)
    }

    /// Sends a customer mutation, tagged with `origin`'s request (`X-Request-Id`,
    /// `Roster-Client-Id`) so the server's event log records them.
    async fn customer_mutation(
        &self,
        origin: &Origin,
        query: &'static str,
        field: &str,
        variables: Value,
    ) -> Result<Customer, DirectoryError> {
        let organization = self.organization_id().await?;
        let wire: WireCustomer = self
            .mutate(query, field, "customer", variables, &origin.request)
            .await?;
        wire.into_domain(organization).map_err(directory_error)
    }

    /// Sends a user mutation, tagged with `origin`'s request.
    async fn user_mutation(
        &self,
        origin: &Origin,
        query: &'static str,
        field: &str,
        variables: Value,
    ) -> Result<User, DirectoryError> {
        let wire: WireUser = self
            .mutate(query, field, "user", variables, &origin.request)
            .await?;
        wire.into_domain().map_err(directory_error)
    }

    async fn roles(&self, scope: RoleScope) -> Result<Vec<Role>, DirectoryError> {
        let (name, query) = match scope {
            RoleScope::Organization => ("organizationRoles", organization_roles::QUERY),
            RoleScope::Customer => ("customerRoles", customer_roles::QUERY),
        };
        let data = self
            .run::<Value>(Kind::Query, &Document::full(query).text(), json!({}))
            .await
            .map_err(directory_error)?;
        let roles: Vec<WireRole> = field_of(data, name)
            .and_then(parse)
            .map_err(directory_error)?;
        roles
            .into_iter()
            .map(|role| role.into_domain(scope))
            .collect::<Result<_, _>>()
            .map_err(directory_error)
    }
}

/// True when the errors say the server's `ErrorType` has no `code` field.
fn lacks_error_codes(errors: &[crate::error::GraphQlError]) -> bool {
    errors
        .iter()
        .any(|e| e.message.contains("\"code\"") && e.message.contains("ErrorType"))
}

fn next_cursor<T>(connection: &Connection<T>) -> Option<String> {
    if connection.page_info.has_next_page && !connection.edges.is_empty() {
        connection
            .page_info
            .end_cursor
            .clone()
            .or_else(|| connection.edges.last().map(|e| e.cursor.clone()))
    } else {
        None
    }
}

#[async_trait]
impl CustomerDirectory for Client {
    async fn customer(&self, _actor: &Actor, id: CustomerId) -> Result<Customer, DirectoryError> {
        let organization = self.organization_id().await?;
        let data = self
            .run_versioned::<Value>(
                Kind::Query,
                |versions| versioned(customer::QUERY, versions),
                to_value(&customer::Variables {
                    id: id.global().to_string(),
                }),
            )
            .await
            .map_err(directory_error)?;
        match field_of(data, "customer").map_err(directory_error)? {
            Value::Null => Err(DirectoryError::NotFound),
            value => parse::<WireCustomer>(value)
                .and_then(|c| c.into_domain(organization))
                .map_err(directory_error),
        }
    }

    async fn customers_by_ids(
        &self,
        actor: &Actor,
        ids: &[CustomerId],
    ) -> Result<Vec<Customer>, DirectoryError> {
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            match self.customer(actor, *id).await {
                Ok(customer) => found.push(customer),
                Err(DirectoryError::NotFound) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(found)
    }

    async fn customers(
        &self,
        _actor: &Actor,
        query: &CustomerQuery,
    ) -> Result<Page<Customer>, DirectoryError> {
        Ok(self.customer_page(query, None).await?.0)
    }

    async fn create_customer(
        &self,
        origin: &Origin,
        customer: NewCustomer,
    ) -> Result<Customer, DirectoryError> {
        let input = create_customer::CreateCustomerInput {
            name: customer.name.as_str().to_owned(),
            description: Some(customer.description.as_str().to_owned()),
            external_id: customer.external_id.as_ref().map(|e| e.as_str().to_owned()),
            labels: Some(customer.labels.to_strings().into_iter().map(Some).collect()),
            allow_embedded_designer: Some(customer.allow_embedded_designer),
            allow_workflow_copilot: Some(customer.allow_workflow_copilot),
            concurrent_execution_limit: customer
                .concurrent_execution_limit
                .map(|limit| i64::from(limit.get())),
            client_mutation_id: None,
        };
        self.customer_mutation(
            origin,
            create_customer::QUERY,
            "createCustomer",
            to_value(&create_customer::Variables { input }),
        )
        .await
    }

    async fn update_customer(
        &self,
        origin: &Origin,
        id: CustomerId,
        patch: CustomerPatch,
        expected: Option<Version>,
    ) -> Result<Customer, DirectoryError> {
        let attachment = |a: &domain::Attachment| update_customer::AttachmentInput {
            name: a.name().to_owned(),
            url: a.url().to_owned(),
        };
        let input = update_customer::UpdateCustomerInput {
            id: Some(id.global().to_string()),
            name: patch.name.as_ref().map(|n| n.as_str().to_owned()),
            description: patch.description.as_ref().map(|d| d.as_str().to_owned()),
            external_id: patch
                .external_id
                .as_ref()
                .map(|e| e.as_ref().map_or("", |e| e.as_str()).to_owned()),
            labels: patch
                .labels
                .as_ref()
                .map(|l| l.to_strings().into_iter().map(Some).collect()),
            avatar_url: patch
                .avatar_url
                .as_ref()
                .map(|a| a.as_ref().map_or("", |a| a.as_str()).to_owned()),
            allow_embedded_designer: patch.allow_embedded_designer,
            allow_workflow_copilot: patch.allow_workflow_copilot,
            concurrent_execution_limit: patch
                .concurrent_execution_limit
                .flatten()
                .map(|limit| i64::from(limit.get())),
            starred: patch.starred,
            add_attachment: patch.add_attachment.as_ref().map(attachment),
            remove_attachment: patch.remove_attachment.as_ref().map(attachment),
            rename_attachment: patch.rename_attachment.as_ref().map(|(old_name, renamed)| {
                update_customer::AttachmentRenameInput {
                    name: renamed.name().to_owned(),
                    old_name: old_name.to_string(),
                    url: renamed.url().to_owned(),
                }
            }),
            expected_version: expected_version(expected),
            client_mutation_id: None,
        };
        let mut variables = to_value(&update_customer::Variables { input });
        // `null` lifts the limit, but the generated input leaves every `None` out.
        if patch.concurrent_execution_limit == Some(None)
            && let Some(input) = variables.get_mut("input").and_then(Value::as_object_mut)
        {
            input.insert("concurrentExecutionLimit".into(), Value::Null);
        }
        self.customer_mutation(origin, update_customer::QUERY, "updateCustomer", variables)
            .await
    }

    async fn delete_customer(
        &self,
        origin: &Origin,
        id: CustomerId,
        expected: Option<Version>,
    ) -> Result<Customer, DirectoryError> {
        let input = delete_customer::DeleteCustomerInput {
            id: Some(id.global().to_string()),
            expected_version: expected_version(expected),
            client_mutation_id: None,
        };
        self.customer_mutation(
            origin,
            delete_customer::QUERY,
            "deleteCustomer",
            to_value(&delete_customer::Variables { input }),
        )
        .await
    }
}

#[async_trait]
impl UserDirectory for Client {
    async fn me(&self, _actor: &Actor) -> Result<User, DirectoryError> {
        self.me_raw().await.map_err(directory_error)
    }

    async fn user(&self, _actor: &Actor, id: UserId) -> Result<User, DirectoryError> {
        let data = self
            .run_versioned::<Value>(
                Kind::Query,
                |versions| versioned(user::QUERY, versions),
                to_value(&user::Variables {
                    id: id.global().to_string(),
                }),
            )
            .await
            .map_err(directory_error)?;
        match field_of(data, "user").map_err(directory_error)? {
            Value::Null => Err(DirectoryError::NotFound),
            value => parse::<WireUser>(value)
                .and_then(WireUser::into_domain)
                .map_err(directory_error),
        }
    }

    async fn users(&self, _actor: &Actor, query: &UserQuery) -> Result<Page<User>, DirectoryError> {
        Ok(self.user_page(query, None).await?.0)
    }

    async fn users_of_customers(
        &self,
        _actor: &Actor,
        customers: &[CustomerId],
        query: &UserQuery,
    ) -> Result<Vec<(CustomerId, Page<User>)>, DirectoryError> {
        let mut pages = Vec::with_capacity(customers.len());
        for customer in customers {
            let mut per_customer = query.clone();
            per_customer.filter.customer = Some(*customer);
            pages.push((*customer, self.user_page(&per_customer, None).await?.0));
        }
        Ok(pages)
    }

    async fn create_organization_user(
        &self,
        origin: &Origin,
        user: NewUser,
    ) -> Result<User, DirectoryError> {
        let input = create_organization_user::CreateOrganizationUserInput {
            email: user.email.as_str().to_owned(),
            role: user.role.global().to_string(),
            name: Some(user.name.as_str().to_owned()),
            phone: Some(user.phone.as_str().to_owned()),
            external_id: user.external_id.as_ref().map(|e| e.as_str().to_owned()),
            client_mutation_id: None,
        };
        self.user_mutation(
            origin,
            create_organization_user::QUERY,
            "createOrganizationUser",
            to_value(&create_organization_user::Variables { input }),
        )
        .await
    }

    async fn create_customer_user(
        &self,
        origin: &Origin,
        customer: Option<CustomerId>,
        user: NewUser,
    ) -> Result<User, DirectoryError> {
        let input = create_customer_user::CreateCustomerUserInput {
            customer: customer.map(|c| c.global().to_string()),
            email: user.email.as_str().to_owned(),
            role: user.role.global().to_string(),
            name: Some(user.name.as_str().to_owned()),
            phone: Some(user.phone.as_str().to_owned()),
            external_id: user.external_id.as_ref().map(|e| e.as_str().to_owned()),
            client_mutation_id: None,
        };
        self.user_mutation(
            origin,
            create_customer_user::QUERY,
            "createCustomerUser",
            to_value(&create_customer_user::Variables { input }),
        )
        .await
    }

    async fn update_user(
        &self,
        origin: &Origin,
        id: UserId,
        patch: UserPatch,
        expected: Option<Version>,
    ) -> Result<User, DirectoryError> {
        let input = update_user::UpdateUserInput {
            id: Some(id.global().to_string()),
            name: patch.name.as_ref().map(|n| n.as_str().to_owned()),
            phone: patch.phone.as_ref().map(|p| p.as_str().to_owned()),
            external_id: patch
                .external_id
                .as_ref()
                .map(|e| e.as_ref().map_or("", |e| e.as_str()).to_owned()),
            role: patch.role.map(|role| role.global().to_string()),
            avatar_url: patch
                .avatar_url
                .as_ref()
                .map(|a| a.as_ref().map_or("", |a| a.as_str()).to_owned()),
            dark_mode: patch.dark_mode,
            dark_mode_sync_with_os: patch.dark_mode_sync_with_os,
            feature_flags: patch.feature_flags.as_ref().map(|f| f.as_str().to_owned()),
            expected_version: expected_version(expected),
            client_mutation_id: None,
        };
        let updated = self
            .user_mutation(
                origin,
                update_user::QUERY,
                "updateUser",
                to_value(&update_user::Variables { input }),
            )
            .await?;
        // `updateUser`'s input has no `active` (it is Prismatic's): a second write sets it.
        match patch.active {
            Some(active) if active != updated.is_active() => {
                self.set_user_active(origin, id, active, None).await
            }
            _ => Ok(updated),
        }
    }

    async fn set_user_active(
        &self,
        origin: &Origin,
        id: UserId,
        active: bool,
        expected: Option<Version>,
    ) -> Result<User, DirectoryError> {
        let id = Some(id.global().to_string());
        let expected_version = expected_version(expected);
        if active {
            let input = reactivate_user::SetUserActiveInput {
                id,
                expected_version,
                client_mutation_id: None,
            };
            let variables = to_value(&reactivate_user::Variables { input });
            self.user_mutation(origin, reactivate_user::QUERY, "reactivateUser", variables)
                .await
        } else {
            let input = deactivate_user::SetUserActiveInput {
                id,
                expected_version,
                client_mutation_id: None,
            };
            let variables = to_value(&deactivate_user::Variables { input });
            self.user_mutation(origin, deactivate_user::QUERY, "deactivateUser", variables)
                .await
        }
    }

    async fn delete_user(
        &self,
        origin: &Origin,
        id: UserId,
        expected: Option<Version>,
    ) -> Result<User, DirectoryError> {
        let input = delete_user::DeleteUserInput {
            id: Some(id.global().to_string()),
            expected_version: expected_version(expected),
            client_mutation_id: None,
        };
        self.user_mutation(
            origin,
            delete_user::QUERY,
            "deleteUser",
            to_value(&delete_user::Variables { input }),
        )
        .await
    }
}

#[async_trait]
impl RoleDirectory for Client {
    async fn organization_roles(&self, _actor: &Actor) -> Result<Vec<Role>, DirectoryError> {
        self.roles(RoleScope::Organization).await
    }

    async fn customer_roles(&self, _actor: &Actor) -> Result<Vec<Role>, DirectoryError> {
        self.roles(RoleScope::Customer).await
    }

    async fn role(&self, actor: &Actor, id: RoleId) -> Result<Role, DirectoryError> {
        // Customer users see no organization roles; skip asking for them.
        let organization_roles = if actor.customer_id.is_some() {
            Vec::new()
        } else {
            self.roles(RoleScope::Organization).await?
        };
        organization_roles
            .into_iter()
            .chain(self.roles(RoleScope::Customer).await?)
            .find(|role| role.id == id)
            .ok_or(DirectoryError::NotFound)
    }
}

#[derive(Deserialize)]
struct WireOrganization {
    id: String,
    name: String,
    /// Roster's; absent from a server without versions (Prismatic).
    #[serde(default)]
    version: Option<i64>,
}

#[async_trait]
impl OrganizationDirectory for Client {
    /// The API does not expose when the organization was created: `created_at` is the
    /// Unix epoch.
    async fn organization(&self, _actor: &Actor) -> Result<Organization, DirectoryError> {
        let data = self
            .run_versioned::<Value>(
                Kind::Query,
                |versions| versioned(organization::QUERY, versions),
                json!({}),
            )
            .await
            .map_err(directory_error)?;
        let wire: WireOrganization = field_of(data, "organization")
            .and_then(parse)
            .map_err(directory_error)?;
        let decode = |what: &str, e: &dyn std::fmt::Display| {
            directory_error(ClientError::Decode(format!("{what}: {e}")))
        };
        Ok(Organization {
            id: OrganizationId::parse_global(&wire.id)
                .map_err(|e| decode("organization id", &e))?,
            name: OrganizationName::parse(&wire.name)
                .map_err(|e| decode("organization name", &e))?,
            created_at: domain::Timestamp::UNIX_EPOCH,
            version: match wire.version {
                None => Version::FIRST,
                Some(n) => Version::new(n).ok_or_else(|| decode("version", &n))?,
            },
        })
    }
}
