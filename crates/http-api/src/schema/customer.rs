//! The `Customer` type, its ordering inputs and the `customers` listing.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::{
    Context, ContextSelectionSet, Enum, ID, InputObject, Lookahead, Object, OutputType, Positioned,
    Result, ServerResult, SimpleObject, Value,
};
use domain::listing::{CustomerQuery, CustomerSortField, Page, PageRequest, Sort, UserQuery};
use domain::{Customer, CustomerId, CustomerName, CustomerSummary, ExternalId, Timestamp};
use futures::future::BoxFuture;
use wire::Global as _;

use super::connection::{
    Connection, ConnectionPlan, Flat, FlatConnection, FlatFields, FlatNested, FlatNode, FlatPage,
    Leaf, OrderDirection, Output, check_cursors, counts_total, flat_node, int_argument,
    nodes_answer_flat, nodes_answer_flat_by, object_answers_flat_by, optional_text, page_request,
    scalar, text, text_argument,
};
use super::context::Scope;
use super::error::ApiError;
use super::event::{EventArguments, EventNode, list_events};
use super::user::{SUMMARY_FIELDS as USER_SUMMARY_FIELDS, UserNode, UserSummaryNode};

/// A customer as the API shows it to the caller.
#[derive(Clone)]
pub(crate) struct CustomerNode(pub(crate) Customer);

// The plain fields of `Customer`, as its resolvers below answer them
// (`flat_nodes_answer_as_their_resolvers`).
impl FlatFields for CustomerNode {
    fn flat_field(&self, name: &str) -> Option<Value> {
        let customer = &self.0;
        if SUMMARY_FIELDS.contains(&name) {
            return summary_field(
                customer.id,
                &customer.name,
                customer.external_id.as_ref(),
                name,
            )
            .map(Leaf::value);
        }
        Some(match name {
            "description" => text(customer.description.as_str()),
            "labels" => Value::List(
                customer
                    .labels
                    .to_strings()
                    .into_iter()
                    .map(Value::String)
                    .collect(),
            ),
            "isSystem" => scalar(&customer.is_system),
            "avatarUrl" => optional_text(customer.avatar_url.as_ref().map(|url| url.as_str())),
            "createdAt" => scalar(&customer.created_at),
            "updatedAt" => scalar(&customer.updated_at),
            "version" => scalar(&customer.version.get()),
            "allowEmbeddedDesigner" => scalar(&customer.allow_embedded_designer),
            "allowWorkflowCopilot" => scalar(&customer.allow_workflow_copilot),
            "concurrentExecutionLimit" => customer
                .concurrent_execution_limit
                .map_or(Value::Null, |limit| {
                    scalar(&i32::try_from(limit.get()).unwrap_or(i32::MAX))
                }),
            "starred" => scalar(&customer.starred),
            _ => return None,
        })
    }
}

/// The fields of `Customer` that a [`CustomerSummary`] answers: a `customers` listing whose
/// nodes select nothing else (but `__typename` and `users` the flat path answers) reads
/// summaries.
const SUMMARY_FIELDS: [&str; 3] = ["id", "name", "externalId"];

/// One of [`SUMMARY_FIELDS`], as `Customer`'s resolvers answer it.
fn summary_field<'a>(
    id: CustomerId,
    name: &'a CustomerName,
    external_id: Option<&'a ExternalId>,
    field: &str,
) -> Option<Leaf<'a>> {
    Some(match field {
        "id" => Leaf::Id(id.global()),
        "name" => Leaf::Text(Some(name.as_str())),
        "externalId" => Leaf::Text(external_id.map(ExternalId::as_str)),
        _ => return None,
    })
}

/// True for the plain fields a [`CustomerSummaryNode`] answers.
pub(crate) fn is_summary_field(name: &str) -> bool {
    name == "__typename" || SUMMARY_FIELDS.contains(&name)
}

/// A customer read as a summary, answered flat as a `Customer` holding only
/// [`SUMMARY_FIELDS`].
pub(crate) struct CustomerSummaryNode(pub(crate) CustomerSummary);

impl FlatNode for CustomerSummaryNode {
    fn flat_type_name(&self) -> Cow<'static, str> {
        <CustomerNode as OutputType>::type_name()
    }

    fn flat_node_field(&self, name: &str) -> Option<Value> {
        self.leaf(name).map(Leaf::value)
    }

    fn write_flat_field(&self, name: &str, out: &mut Vec<u8>) -> Option<()> {
        self.leaf(name)?.write(out)
    }
}

impl CustomerSummaryNode {
    /// Field `name`, when the summary holds it.
    fn leaf(&self, name: &str) -> Option<Leaf<'_>> {
        let customer = &self.0;
        summary_field(
            customer.id,
            &customer.name,
            customer.external_id.as_ref(),
            name,
        )
    }
}

/// A file linked to a customer.
#[derive(Clone, SimpleObject)]
#[graphql(name = "Attachment")]
pub(crate) struct AttachmentObject {
    name: String,
    url: String,
}

#[Object(name = "Customer")]
impl CustomerNode {
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.global().encode())
    }

    async fn name(&self) -> &str {
        self.0.name.as_str()
    }

    /// `""` when unset.
    async fn description(&self) -> &str {
        self.0.description.as_str()
    }

    async fn external_id(&self) -> Option<&str> {
        self.0.external_id.as_ref().map(|id| id.as_str())
    }

    async fn labels(&self) -> Vec<String> {
        self.0.labels.to_strings()
    }

    async fn is_system(&self) -> bool {
        self.0.is_system
    }

    async fn avatar_url(&self) -> Option<&str> {
        self.0.avatar_url.as_ref().map(|url| url.as_str())
    }

    async fn created_at(&self) -> Timestamp {
        self.0.created_at
    }

    async fn updated_at(&self) -> Timestamp {
        self.0.updated_at
    }

    /// Roster: how many times this record was written (1 when created, one more with every
    /// write). Send it back as `expectedVersion` to change or delete the record only as you
    /// read it.
    async fn version(&self) -> i32 {
        self.0.version.get()
    }

    async fn allow_embedded_designer(&self) -> bool {
        self.0.allow_embedded_designer
    }

    async fn allow_workflow_copilot(&self) -> bool {
        self.0.allow_workflow_copilot
    }

    /// `null` when executions are not limited.
    async fn concurrent_execution_limit(&self) -> Option<i32> {
        self.0
            .concurrent_execution_limit
            .map(|limit| i32::try_from(limit.get()).unwrap_or(i32::MAX))
    }

    async fn starred(&self) -> bool {
        self.0.starred
    }

    async fn attachments(&self) -> Vec<AttachmentObject> {
        self.0
            .attachments
            .iter()
            .map(|attachment| AttachmentObject {
                name: attachment.name().to_owned(),
                url: attachment.url().to_owned(),
            })
            .collect()
    }

    /// The customer's users that the caller may see.
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        last: Option<i32>,
        after: Option<String>,
        before: Option<String>,
        offset: Option<i32>,
    ) -> Result<Connection<UserNode>> {
        let scope = Scope::of(ctx)?;
        let page = page_request(first, last, after.as_deref(), before.as_deref(), offset)?;
        let query = users_query(page, counts_total(ctx))?;
        let page = scope
            .users_of_customers()
            .load_one((self.0.id, query))
            .await
            .map_err(|error| ApiError::from_directory(&error))?
            .unwrap_or_else(Page::empty);
        Ok(Connection::from_page(page, UserNode))
    }

    /// True when the caller may change this customer.
    async fn allow_update(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(Scope::of(ctx)?.actor.can_update_customer(&self.0))
    }

    /// True when the caller may delete this customer.
    async fn allow_remove(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(Scope::of(ctx)?.actor.can_delete_customer(&self.0))
    }

    /// True when the caller may add users to this customer.
    async fn allow_add_user(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(Scope::of(ctx)?.actor.can_manage_users_of(self.0.id))
    }

    /// Roster: the events about this customer (not its users'), in sequence order, as
    /// `Query.events` shows them to the caller.
    async fn events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        types: Option<Vec<String>>,
    ) -> Result<Connection<EventNode>> {
        let arguments = EventArguments {
            first,
            after,
            types,
            subject: Some(self.0.id.uuid()),
            ..EventArguments::default()
        };
        list_events(ctx, arguments).await
    }
}

/// What customers can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub(crate) enum CustomerOrderField {
    /// Accepted for compatibility; Roster keeps no rejection data, so sorting by it is a no-op.
    ConcurrencyRejections,
    ConcurrentExecutionLimit,
    CreatedAt,
    Description,
    Name,
    UpdatedAt,
}

/// One key of a customer sort order.
#[derive(Debug, Clone, Copy, InputObject)]
pub(crate) struct CustomerOrder {
    field: CustomerOrderField,
    direction: OrderDirection,
}

/// The sort keys of `sortBy`, or else of the deprecated `orderBy`; no-op keys are dropped.
pub(crate) fn customer_sort(
    sort_by: Option<Vec<Option<CustomerOrder>>>,
    order_by: Option<CustomerOrder>,
) -> Vec<Sort<CustomerSortField>> {
    let keys = match sort_by {
        Some(keys) => keys.into_iter().flatten().collect(),
        None => order_by.into_iter().collect::<Vec<_>>(),
    };
    keys.into_iter()
        .filter_map(|key| {
            let field = match key.field {
                CustomerOrderField::ConcurrencyRejections => return None,
                CustomerOrderField::ConcurrentExecutionLimit => {
                    CustomerSortField::ConcurrentExecutionLimit
                }
                CustomerOrderField::CreatedAt => CustomerSortField::CreatedAt,
                CustomerOrderField::Description => CustomerSortField::Description,
                CustomerOrderField::Name => CustomerSortField::Name,
                CustomerOrderField::UpdatedAt => CustomerSortField::UpdatedAt,
            };
            Some(Sort {
                field,
                direction: key.direction.into(),
            })
        })
        .collect()
}

/// One page of the customers the caller can see, read as summaries when the selection
/// allows (see [`CustomerListing`]); a cursor of another sort is refused first. The users
/// the selection asks for on them are loaded in one batch before they resolve.
pub(crate) async fn list_customers(
    ctx: &Context<'_>,
    scope: &Scope<'_>,
    query: CustomerQuery,
) -> Result<CustomerListing, ApiError> {
    check_cursors(query.cursors_fit())?;
    let field = &ctx.item.node;
    if !nodes_answer_flat_by(field, is_summary_field, |name, _| name == "users") {
        return Ok(CustomerListing::Whole(
            whole_customers(ctx, scope, &query).await?,
        ));
    }
    let page = scope
        .services
        .customers
        .customer_summaries(scope.actor, &query)
        .await?;
    let ids: Vec<CustomerId> = page.edges.iter().map(|edge| edge.node.id).collect();
    let user_summaries = nodes_answer_flat_by(field, is_summary_field, users_as_summaries);
    Ok(CustomerListing::Summaries(Box::new(SummaryListing {
        page: FlatPage::from_page::<Connection<CustomerNode>, _>(page, CustomerSummaryNode),
        users: prefetch_users(ctx, scope, ids, user_summaries).await,
        query,
    })))
}

/// The customer `id` for `customer(id)`, read as its summary when the selection holds only
/// what the flat path answers from one (see [`SUMMARY_FIELDS`]).
pub(crate) async fn find_customer(
    ctx: &Context<'_>,
    scope: &Scope<'_>,
    id: CustomerId,
) -> Result<CustomerAnswer, ApiError> {
    let customers = &scope.services.customers;
    if object_answers_flat_by(&ctx.item.node, is_summary_field) {
        let summary = customers.customer_summary(scope.actor, id).await?;
        return Ok(CustomerAnswer::Summary(CustomerSummaryNode(summary)));
    }
    let customer = customers.customer(scope.actor, id).await?;
    Ok(CustomerAnswer::Whole(Flat(CustomerNode(customer))))
}

/// What `customer(id)` answers: the whole customer, or its summary, which spares the row
/// all its other columns (three are read instead of sixteen).
pub(crate) enum CustomerAnswer {
    /// The whole customer, answered flat when the selection allows, else by its resolvers.
    Whole(Flat<CustomerNode>),
    /// The summary, answered flat.
    Summary(CustomerSummaryNode),
}

impl OutputType for CustomerAnswer {
    fn type_name() -> Cow<'static, str> {
        <CustomerNode as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <CustomerNode as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <CustomerNode as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        match self {
            CustomerAnswer::Whole(whole) => whole.resolve(ctx, field).await,
            CustomerAnswer::Summary(summary) => {
                if let Some(value) = flat_node(ctx, summary) {
                    return Ok(value);
                }
                // The selection looked flat but is not: the whole customer, read again.
                let at = ctx.with_field(field);
                let whole = async {
                    let scope = Scope::of(&at)?;
                    let customers = &scope.services.customers;
                    Ok::<_, ApiError>(customers.customer(scope.actor, summary.0.id).await?)
                };
                let whole = whole.await.map_err(|error| {
                    async_graphql::Error::from(error).into_server_error(field.pos)
                })?;
                Flat(CustomerNode(whole)).resolve(ctx, field).await
            }
        }
    }
}

/// What the `customers` field answers: a page of whole customers, or, when the selection
/// holds only what the flat path answers from summaries (see [`SUMMARY_FIELDS`]), a page
/// of customer summaries, which spares each row all its other columns.
pub(crate) enum CustomerListing {
    /// Whole customers, resolved as any connection.
    Whole(Connection<CustomerNode>),
    /// Summaries (boxed: the variant is large, and taken for most listings).
    Summaries(Box<SummaryListing>),
}

/// A page of customer summaries, with the users loaded ahead for them, and the listing
/// they were read with, should the resolvers have to answer after all.
pub(crate) struct SummaryListing {
    page: FlatPage<CustomerSummaryNode>,
    users: Option<PrefetchedUsers>,
    query: CustomerQuery,
}

impl OutputType for CustomerListing {
    fn type_name() -> Cow<'static, str> {
        <Connection<CustomerNode> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Connection<CustomerNode> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Connection<CustomerNode> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        match self {
            CustomerListing::Whole(connection) => connection.resolve(ctx, field).await,
            CustomerListing::Summaries(listing) => {
                let SummaryListing { page, users, query } = listing.as_ref();
                let nested = users.as_ref().map(|users| users as &dyn FlatNested);
                if let Some(value) = page.connection_value(ctx, nested) {
                    return Ok(value);
                }
                // The selection looked flat but is not (the users' arguments in error, a
                // user field that needs its resolver): whole customers, read again.
                let at = ctx.with_field(field);
                let whole = async {
                    let scope = Scope::of(&at)?;
                    whole_customers(&at, &scope, query).await
                };
                let whole = whole.await.map_err(|error| {
                    async_graphql::Error::from(error).into_server_error(field.pos)
                })?;
                whole.resolve(ctx, field).await
            }
        }
    }
}

/// A page of whole customers, with the users its selection asks for loaded ahead.
async fn whole_customers(
    ctx: &Context<'_>,
    scope: &Scope<'_>,
    query: &CustomerQuery,
) -> Result<Connection<CustomerNode>, ApiError> {
    let page = scope
        .services
        .customers
        .customers(scope.actor, query)
        .await?;
    let ids: Vec<CustomerId> = page.edges.iter().map(|edge| edge.node.id).collect();
    let summaries = page
        .edges
        .first()
        .is_some_and(|edge| summaries_suffice(ctx, &edge.node));
    let users = prefetch_users(ctx, scope, ids, summaries).await;
    let connection = Connection::from_page(page, CustomerNode);
    Ok(match users {
        Some(users) => connection.with_nested(Box::new(users)),
        None => connection,
    })
}

/// The listing behind `Customer.users(...)`, counted when `count_total`; a cursor of
/// another sort is refused. The prefetch and the field build it from the same selection.
fn users_query(page: PageRequest, count_total: bool) -> Result<UserQuery, ApiError> {
    let query = UserQuery {
        page,
        count_total,
        ..UserQuery::default()
    };
    check_cursors(query.cursors_fit())?;
    Ok(query)
}

/// The listing the `users` field at `ctx` asks for, its arguments decoded as its resolver
/// decodes them; `None` when they are in error (the resolver reports it).
fn users_field_query(ctx: &Context<'_>) -> Option<UserQuery> {
    let first = ctx.param_value::<Option<i32>>("first", None).ok()?.1;
    let last = ctx.param_value::<Option<i32>>("last", None).ok()?.1;
    let after = ctx.param_value::<Option<String>>("after", None).ok()?.1;
    let before = ctx.param_value::<Option<String>>("before", None).ok()?.1;
    let offset = ctx.param_value::<Option<i32>>("offset", None).ok()?.1;
    let page = page_request(first, last, after.as_deref(), before.as_deref(), offset).ok()?;
    users_query(page, counts_total(ctx)).ok()
}

/// True when the `customers` field at `ctx` will be answered by the flat path, customers
/// like `customer`, and its `users` select nothing a [`domain::UserSummary`] does not hold:
/// then reading summaries spares each user row all its other columns. When this is wrong
/// the answer is still right: the resolvers read whole users, in one more statement.
fn summaries_suffice(ctx: &Context<'_>, customer: &Customer) -> bool {
    nodes_answer_flat(
        &ctx.item.node,
        &CustomerNode(customer.clone()),
        users_as_summaries,
    )
}

/// True when `field` of a customer is `users` and `plan` selects of them nothing a
/// [`domain::UserSummary`] does not hold.
fn users_as_summaries(field: &str, plan: &ConnectionPlan) -> bool {
    field == "users"
        && plan
            .node_fields()
            .all(|name| name == "__typename" || USER_SUMMARY_FIELDS.contains(&name))
}

/// The `users` pages of a page of customers, loaded with it: for each distinct listing the
/// selection asks for, every customer's page, in the customers' order.
pub(crate) struct PrefetchedUsers {
    customers: Vec<CustomerId>,
    listings: Vec<(UserQuery, UserPages)>,
    /// Set once the pages are in the DataLoader's cache.
    fed: AtomicBool,
}

/// One listing's pages, one per customer.
enum UserPages {
    /// Whole users: for the flat path, and for the resolvers through the DataLoader.
    Users(Vec<Connection<UserNode>>),
    /// Summaries, read when the flat path answers the customers' nodes and their `users`
    /// select nothing a summary does not hold (see [`summaries_suffice`]): for the flat
    /// path alone. Should the resolvers answer after all, they read whole users.
    Summaries(Vec<FlatPage<UserSummaryNode>>),
}

impl FlatNested for PrefetchedUsers {
    fn listing(&self, ctx: &Context<'_>) -> Option<usize> {
        if ctx.item.node.name.node != "users" {
            return None;
        }
        let query = users_field_query(ctx)?;
        self.listings
            .iter()
            .position(|(loaded, _)| *loaded == query)
    }

    fn value(
        &self,
        listing: usize,
        index: usize,
        plan: &ConnectionPlan,
        output: Output,
    ) -> Option<Value> {
        match &self.listings.get(listing)?.1 {
            UserPages::Users(pages) => pages.get(index)?.flat_value(plan, output),
            UserPages::Summaries(pages) => pages.get(index)?.flat_value(plan, output),
        }
    }

    fn write(
        &self,
        listing: usize,
        index: usize,
        plan: &ConnectionPlan,
        out: &mut Vec<u8>,
        counts: &mut Vec<u32>,
    ) -> Option<()> {
        match &self.listings.get(listing)?.1 {
            UserPages::Users(pages) => pages.get(index)?.write_flat(plan, out, counts),
            UserPages::Summaries(pages) => pages.get(index)?.write_flat(plan, out, counts),
        }
    }

    fn before_resolvers<'a>(&'a self, ctx: &'a Context<'a>) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if self.fed.swap(true, Ordering::Relaxed) {
                return;
            }
            let Ok(scope) = Scope::of(ctx) else {
                return;
            };
            let loader = scope.users_of_customers();
            let mut pages = Vec::with_capacity(self.customers.len() * self.listings.len());
            for (query, listing) in &self.listings {
                let UserPages::Users(connections) = listing else {
                    continue;
                };
                for (customer, connection) in self.customers.iter().zip(connections) {
                    if let Some(page) = connection.to_page(|user| user.0.clone()) {
                        pages.push(((*customer, query.clone()), page));
                    }
                }
            }
            loader.feed_many(pages).await;
        })
    }
}

/// Loads every `users` page the selection under the `customers` field asks for, one
/// directory call (one statement) per distinct listing, before the customers resolve: the
/// flat path answers from them, and the resolvers find them in the DataLoader's cache (fed
/// only when they run). With `summaries`, users are read as summaries, for the flat path
/// alone. `None` when no `users` is selected. A listing that fails is left out, for its
/// fields to report when their resolvers load it again.
async fn prefetch_users(
    ctx: &Context<'_>,
    scope: &Scope<'_>,
    customers: Vec<CustomerId>,
    summaries: bool,
) -> Option<PrefetchedUsers> {
    if customers.is_empty() {
        return None;
    }
    let look_ahead = ctx.look_ahead();
    let selections = [
        look_ahead.field("nodes").field("users"),
        look_ahead.field("edges").field("node").field("users"),
    ];
    let mut queries: Vec<UserQuery> = Vec::new();
    for field in selections.iter().flat_map(|users| users.selection_fields()) {
        let Ok(arguments) = field.arguments() else {
            continue;
        };
        let page = page_request(
            int_argument(&arguments, "first"),
            int_argument(&arguments, "last"),
            text_argument(&arguments, "after"),
            text_argument(&arguments, "before"),
            int_argument(&arguments, "offset"),
        );
        let count_total = Lookahead::from(field).field("totalCount").exists();
        if let Ok(query) = page.and_then(|page| users_query(page, count_total))
            && !queries.contains(&query)
        {
            queries.push(query);
        }
    }
    if queries.is_empty() {
        return None;
    }
    let mut listings = Vec::with_capacity(queries.len());
    let users = &scope.services.users;
    for query in queries {
        let pages = if summaries {
            let Ok(pages) = users
                .user_summaries_of_customers(scope.actor, &customers, &query)
                .await
            else {
                continue;
            };
            let pages = in_customer_order(&customers, pages)
                .into_iter()
                .map(|page| FlatPage::from_page::<Connection<UserNode>, _>(page, UserSummaryNode))
                .collect();
            UserPages::Summaries(pages)
        } else {
            let Ok(pages) = users
                .users_of_customers(scope.actor, &customers, &query)
                .await
            else {
                continue;
            };
            let pages = in_customer_order(&customers, pages)
                .into_iter()
                .map(|page| Connection::from_page(page, UserNode))
                .collect();
            UserPages::Users(pages)
        };
        listings.push((query, pages));
    }
    Some(PrefetchedUsers {
        customers,
        listings,
        fed: AtomicBool::new(false),
    })
}

/// One page per customer of `customers`, in their order: storage answers in the order
/// asked, one page per customer; anything else is matched by id.
fn in_customer_order<T>(
    customers: &[CustomerId],
    pages: Vec<(CustomerId, Page<T>)>,
) -> Vec<Page<T>> {
    let in_order = pages.len() == customers.len()
        && pages
            .iter()
            .zip(customers)
            .all(|((customer, _), asked)| customer == asked);
    if in_order {
        return pages.into_iter().map(|(_, page)| page).collect();
    }
    let mut found: HashMap<CustomerId, Page<T>> = pages.into_iter().collect();
    customers
        .iter()
        .map(|customer| found.remove(customer).unwrap_or_else(Page::empty))
        .collect()
}
