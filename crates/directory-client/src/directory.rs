//! The directory ports over the wire. The `Actor` argument is ignored: the server knows the
//! caller from the token ([`Client::actor`] says who that is).

use async_trait::async_trait;
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
use serde_json::{Map, Value, json};
use wire::Global as _;

use crate::documents;
use crate::error::{ClientError, directory_error};
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

fn field(data: Value, name: &str) -> Result<Value, ClientError> {
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

fn put(input: &mut Map<String, Value>, key: &str, value: Value) {
    input.insert(key.to_owned(), value);
}

/// Roster's `expectedVersion`, sent only when given (Prismatic has no such input field).
fn expected_version(input: &mut Map<String, Value>, expected: Option<Version>) {
    if let Some(version) = expected {
        put(input, "expectedVersion", json!(version.get()));
    }
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
            .run_versioned::<Value>(Kind::Query, documents::me, json!({}))
            .await?;
        parse::<WireUser>(field(data, "authenticatedUser")?)?.into_domain()
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
                |versions| documents::customers(query.count_total, versions),
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
                |versions| documents::users(query.count_total, versions),
                variables,
            )
            .await
            .map_err(directory_error)?;
        let next = next_cursor(&data.users);
        let page = data
            .users
            .into_page(WireUser::into_domain, |u| u.id.uuid())
            .map_err(directory_error)?;
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

    async fn mutate<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        input_type: &str,
        object: &str,
        input: Map<String, Value>,
    ) -> Result<T, DirectoryError> {
        let variables = json!({ "input": input });
        let codes = self.error_codes.load(Ordering::Relaxed);
        let document = |versions| documents::mutation(name, input_type, object, codes, versions);
        let data = match self
            .run_versioned::<Value>(Kind::Mutation, document, variables.clone())
            .await
        {
            // The schema has no `ErrorType.code`: the document failed validation, so nothing
            // ran, and sending it again without `code` is safe.
            Err(ClientError::GraphQl(errors)) if codes && lacks_error_codes(&errors) => {
                self.error_codes.store(false, Ordering::Relaxed);
                let document =
                    |versions| documents::mutation(name, input_type, object, false, versions);
                self.run_versioned::<Value>(Kind::Mutation, document, variables)
                    .await
                    .map_err(directory_error)?
            }
            other => other.map_err(directory_error)?,
        };
        let key = {
            let mut chars = name.chars();
            chars
                .next()
                .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
                .unwrap_or_default()
        };
        let payload = field(data, &key).map_err(directory_error)?;
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

    async fn customer_mutation(
        &self,
        name: &str,
        input_type: &str,
        input: Map<String, Value>,
    ) -> Result<Customer, DirectoryError> {
        let organization = self.organization_id().await?;
        let wire: WireCustomer = self.mutate(name, input_type, "customer", input).await?;
        wire.into_domain(organization).map_err(directory_error)
    }

    async fn user_mutation(
        &self,
        name: &str,
        input_type: &str,
        input: Map<String, Value>,
    ) -> Result<User, DirectoryError> {
        let wire: WireUser = self.mutate(name, input_type, "user", input).await?;
        wire.into_domain().map_err(directory_error)
    }

    async fn roles(&self, scope: RoleScope) -> Result<Vec<Role>, DirectoryError> {
        let name = match scope {
            RoleScope::Organization => "organizationRoles",
            RoleScope::Customer => "customerRoles",
        };
        let data = self
            .run::<Value>(
                Kind::Query,
                &format!("query {{ {name} {{ id name }} }}"),
                json!({}),
            )
            .await
            .map_err(directory_error)?;
        let roles: Vec<WireRole> = field(data, name).and_then(parse).map_err(directory_error)?;
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
                documents::customer,
                json!({ "id": id.global().to_string() }),
            )
            .await
            .map_err(directory_error)?;
        match field(data, "customer").map_err(directory_error)? {
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
        _actor: &Actor,
        customer: NewCustomer,
    ) -> Result<Customer, DirectoryError> {
        let mut input = Map::new();
        put(&mut input, "name", json!(customer.name.as_str()));
        put(
            &mut input,
            "description",
            json!(customer.description.as_str()),
        );
        if let Some(external_id) = &customer.external_id {
            put(&mut input, "externalId", json!(external_id.as_str()));
        }
        put(&mut input, "labels", json!(customer.labels.to_strings()));
        put(
            &mut input,
            "allowEmbeddedDesigner",
            json!(customer.allow_embedded_designer),
        );
        put(
            &mut input,
            "allowWorkflowCopilot",
            json!(customer.allow_workflow_copilot),
        );
        if let Some(limit) = customer.concurrent_execution_limit {
            put(&mut input, "concurrentExecutionLimit", json!(limit.get()));
        }
        self.customer_mutation("CreateCustomer", "CreateCustomerInput", input)
            .await
    }

    async fn update_customer(
        &self,
        _actor: &Actor,
        id: CustomerId,
        patch: CustomerPatch,
        expected: Option<Version>,
    ) -> Result<Customer, DirectoryError> {
        let mut input = Map::new();
        put(&mut input, "id", json!(id.global().to_string()));
        expected_version(&mut input, expected);
        if let Some(name) = &patch.name {
            put(&mut input, "name", json!(name.as_str()));
        }
        if let Some(description) = &patch.description {
            put(&mut input, "description", json!(description.as_str()));
        }
        if let Some(external_id) = &patch.external_id {
            let text = external_id.as_ref().map_or("", |e| e.as_str());
            put(&mut input, "externalId", json!(text));
        }
        if let Some(labels) = &patch.labels {
            put(&mut input, "labels", json!(labels.to_strings()));
        }
        if let Some(avatar) = &patch.avatar_url {
            let text = avatar.as_ref().map_or("", |a| a.as_str());
            put(&mut input, "avatarUrl", json!(text));
        }
        if let Some(allow) = patch.allow_embedded_designer {
            put(&mut input, "allowEmbeddedDesigner", json!(allow));
        }
        if let Some(allow) = patch.allow_workflow_copilot {
            put(&mut input, "allowWorkflowCopilot", json!(allow));
        }
        if let Some(limit) = patch.concurrent_execution_limit {
            put(
                &mut input,
                "concurrentExecutionLimit",
                json!(limit.map(|l| l.get())),
            );
        }
        if let Some(starred) = patch.starred {
            put(&mut input, "starred", json!(starred));
        }
        if let Some(add) = &patch.add_attachment {
            put(
                &mut input,
                "addAttachment",
                json!({ "name": add.name(), "url": add.url() }),
            );
        }
        if let Some(remove) = &patch.remove_attachment {
            put(
                &mut input,
                "removeAttachment",
                json!({ "name": remove.name(), "url": remove.url() }),
            );
        }
        if let Some((old_name, renamed)) = &patch.rename_attachment {
            put(
                &mut input,
                "renameAttachment",
                json!({ "name": renamed.name(), "oldName": old_name, "url": renamed.url() }),
            );
        }
        self.customer_mutation("UpdateCustomer", "UpdateCustomerInput", input)
            .await
    }

    async fn delete_customer(
        &self,
        _actor: &Actor,
        id: CustomerId,
        expected: Option<Version>,
    ) -> Result<Customer, DirectoryError> {
        let mut input = Map::new();
        put(&mut input, "id", json!(id.global().to_string()));
        expected_version(&mut input, expected);
        self.customer_mutation("DeleteCustomer", "DeleteCustomerInput", input)
            .await
    }
}

fn new_user_input(user: &NewUser) -> Map<String, Value> {
    let mut input = Map::new();
    put(&mut input, "email", json!(user.email.as_str()));
    put(&mut input, "role", json!(user.role.global().to_string()));
    put(&mut input, "name", json!(user.name.as_str()));
    put(&mut input, "phone", json!(user.phone.as_str()));
    if let Some(external_id) = &user.external_id {
        put(&mut input, "externalId", json!(external_id.as_str()));
    }
    input
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
                documents::user,
                json!({ "id": id.global().to_string() }),
            )
            .await
            .map_err(directory_error)?;
        match field(data, "user").map_err(directory_error)? {
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
        _actor: &Actor,
        user: NewUser,
    ) -> Result<User, DirectoryError> {
        self.user_mutation(
            "CreateOrganizationUser",
            "CreateOrganizationUserInput",
            new_user_input(&user),
        )
        .await
    }

    async fn create_customer_user(
        &self,
        _actor: &Actor,
        customer: Option<CustomerId>,
        user: NewUser,
    ) -> Result<User, DirectoryError> {
        let mut input = new_user_input(&user);
        if let Some(customer) = customer {
            put(&mut input, "customer", json!(customer.global().to_string()));
        }
        self.user_mutation("CreateCustomerUser", "CreateCustomerUserInput", input)
            .await
    }

    async fn update_user(
        &self,
        _actor: &Actor,
        id: UserId,
        patch: UserPatch,
        expected: Option<Version>,
    ) -> Result<User, DirectoryError> {
        let mut input = Map::new();
        put(&mut input, "id", json!(id.global().to_string()));
        expected_version(&mut input, expected);
        if let Some(name) = &patch.name {
            put(&mut input, "name", json!(name.as_str()));
        }
        if let Some(phone) = &patch.phone {
            put(&mut input, "phone", json!(phone.as_str()));
        }
        if let Some(external_id) = &patch.external_id {
            let text = external_id.as_ref().map_or("", |e| e.as_str());
            put(&mut input, "externalId", json!(text));
        }
        if let Some(role) = patch.role {
            put(&mut input, "role", json!(role.global().to_string()));
        }
        if let Some(avatar) = &patch.avatar_url {
            let text = avatar.as_ref().map_or("", |a| a.as_str());
            put(&mut input, "avatarUrl", json!(text));
        }
        if let Some(dark) = patch.dark_mode {
            put(&mut input, "darkMode", json!(dark));
        }
        if let Some(sync) = patch.dark_mode_sync_with_os {
            put(&mut input, "darkModeSyncWithOs", json!(sync));
        }
        if let Some(flags) = &patch.feature_flags {
            put(&mut input, "featureFlags", json!(flags.as_str()));
        }
        self.user_mutation("UpdateUser", "UpdateUserInput", input)
            .await
    }

    async fn delete_user(
        &self,
        _actor: &Actor,
        id: UserId,
        expected: Option<Version>,
    ) -> Result<User, DirectoryError> {
        let mut input = Map::new();
        put(&mut input, "id", json!(id.global().to_string()));
        expected_version(&mut input, expected);
        self.user_mutation("DeleteUser", "DeleteUserInput", input)
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
                |versions| {
                    let version = if versions { " version" } else { "" };
                    format!("query {{ organization {{ id name{version} }} }}")
                },
                json!({}),
            )
            .await
            .map_err(directory_error)?;
        let wire: WireOrganization = field(data, "organization")
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
