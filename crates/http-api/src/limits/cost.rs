//! What a GraphQL document costs, computed before it runs (the requested cost, from page
//! sizes) and after (the actual cost, from what came back), with the same prices.
//!
//! The requested pass walks the chosen operation once and expands each fragment once: a
//! fragment's cost is memoized, so a document of nested spreads (a "fragment bomb") costs
//! what its expansion would, computed in time linear in the document. Cycles are refused.

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::{Name, Pos, Positioned, Value, Variables};

use super::{QueryLimits, Refusal, RefusalCode};
use crate::json;

/// Every selected field, `__typename` and introspection fields included.
pub(crate) const FIELD_PRICE: u64 = 1;
/// One storage statement: a lookup, a page of rows, one batch of a DataLoader.
pub(crate) const STATEMENT_PRICE: u64 = 10;
/// A listing: its page statement plus the count statement storage runs for every page.
pub(crate) const LISTING_PRICE: u64 = 2 * STATEMENT_PRICE;
/// A substring filter (`name_Icontains`, ...): no index helps, so the page and the count
/// both scan the organization's rows: as dear as fifty lookups.
pub(crate) const TEXT_FILTER_PRICE: u64 = 500;
/// A mutation root field: a transaction of several statements.
pub(crate) const WRITE_PRICE: u64 = 100;
/// Page size assumed when a connection has no `first`/`last`; also the server's maximum.
pub(crate) const DEFAULT_PAGE_SIZE: u64 = domain::listing::MAX_PAGE_SIZE as u64;
/// Items assumed in a list that is not a connection page (roles, introspection lists).
pub(crate) const LIST_SIZE: u64 = 10;
/// Items assumed in `Customer.attachments` (its maximum).
pub(crate) const ATTACHMENTS_SIZE: u64 = 50;

/// The result of the requested pass: what the operation may cost and how it is shaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Analysis {
    /// The requested cost: every field, times the page sizes of the connections around it.
    pub(crate) cost: u64,
    /// Selection depth, fragments expanded.
    pub(crate) depth: usize,
    /// Fields of the operation's root, fragments expanded and aliases counted.
    pub(crate) root_fields: u64,
    /// True for a `mutation` operation.
    pub(crate) mutation: bool,
}

/// Checks `document` against `limits` and returns its requested cost, or why it is refused.
/// Without an operation to run (an unknown `operationName`), every operation is analysed
/// and the costliest one counts, so async-graphql reports the error on a bounded document.
pub(crate) fn analyze(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
    limits: &QueryLimits,
) -> Result<Analysis, Refusal> {
    let fragments = document.fragments.len();
    if fragments > limits.max_fragments {
        return Err(Refusal::new(
            RefusalCode::TooManyFragments,
            format!(
                "The document defines {fragments} fragments; at most {} are allowed.",
                limits.max_fragments
            ),
        ));
    }
    let selected = selected_operation(document, operation_name);
    let operations = match selected {
        Some(operation) => vec![operation],
        None => document.operations.iter().map(|(_, op)| op).collect(),
    };
    // One walker for every operation, so each fragment is priced once in all: without a
    // selected operation, variables' defaults are ignored (pages count as 100).
    let mut walker = Walker::new(document, variables, selected.map(|op| &op.node));
    walker.max_depth = limits.max_depth;
    let mut worst: Option<Analysis> = None;
    for operation in operations {
        let root = walker.set(
            &operation.node.selection_set.node,
            root_kind(&operation.node),
            0,
        )?;
        check_shape(&root, limits)?;
        let analysis = Analysis {
            cost: root.plain.plus(root.paged).total(),
            depth: root.depth,
            root_fields: root.fields,
            mutation: operation.node.ty == OperationType::Mutation,
        };
        if worst
            .as_ref()
            .is_none_or(|worst| analysis.cost > worst.cost)
        {
            worst = Some(analysis);
        }
    }
    // Fragments no operation uses still reach validation: bound them too.
    for (name, _) in document.fragments.iter() {
        check_shape(&walker.fragment(name, Context::Nested, 0)?, limits)?;
    }
    let analysis = worst.unwrap_or(Analysis {
        cost: 0,
        depth: 0,
        root_fields: 0,
        mutation: false,
    });
    if analysis.mutation && analysis.root_fields > limits.max_mutation_fields {
        return Err(Refusal::new(
            RefusalCode::TooManyMutations,
            format!(
                "The document runs {} mutation fields; at most {} are allowed per request.",
                analysis.root_fields, limits.max_mutation_fields
            ),
        )
        .with_cost(analysis.cost, limits.max_cost));
    }
    if analysis.root_fields > limits.max_root_fields {
        return Err(Refusal::new(
            RefusalCode::TooManyRootFields,
            format!(
                "The document selects {} root fields (aliases and fragments counted); at most {} are allowed.",
                analysis.root_fields, limits.max_root_fields
            ),
        )
        .with_cost(analysis.cost, limits.max_cost));
    }
    Ok(analysis)
}

/// Most lists (other than connection pages) nested in one another: introspection's
/// `types { fields { args } }` needs three; more multiplies the answer, not the work.
pub(crate) const MAX_LIST_NESTING: usize = 3;

/// Refuses a selection too deep, too large once expanded, with too many nested lists, or
/// too costly.
fn check_shape(set: &SetCost, limits: &QueryLimits) -> Result<(), Refusal> {
    let cost = set.plain.plus(set.paged).total();
    let depth = set.depth;
    if depth > limits.max_depth {
        return Err(Refusal::new(
            RefusalCode::QueryTooDeep,
            format!(
                "The document nests {depth} levels; at most {} are allowed.",
                limits.max_depth
            ),
        )
        .with_cost(cost, limits.max_cost));
    }
    if set.lists > MAX_LIST_NESTING {
        return Err(Refusal::new(
            RefusalCode::QueryTooComplex,
            format!(
                "The document nests {} lists in one another; at most {MAX_LIST_NESTING} are allowed.",
                set.lists
            ),
        )
        .with_cost(cost, limits.max_cost));
    }
    if cost > limits.max_cost {
        return Err(Refusal::new(
            RefusalCode::QueryTooComplex,
            format!(
                "The document costs {cost}; at most {} is allowed. Ask for smaller pages or fewer fields.",
                limits.max_cost
            ),
        )
        .with_cost(cost, limits.max_cost));
    }
    if set.expanded > limits.max_fields {
        return Err(Refusal::new(
            RefusalCode::TooManyFields,
            format!(
                "The document selects {} fields once its fragments are expanded; at most {} are allowed.",
                set.expanded, limits.max_fields
            ),
        )
        .with_cost(cost, limits.max_cost));
    }
    Ok(())
}

/// The actual cost of an executed operation: the same prices, applied to the fields that
/// came back in `data`, with real list lengths. Statements that DataLoaders batch count once
/// per place in the document.
pub(crate) fn actual_cost(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
    data: &Value,
) -> u64 {
    let Some(operation) = selected_operation(document, operation_name) else {
        return 0;
    };
    let mut walker = Walker::new(document, variables, Some(&operation.node));
    let mut batched = HashSet::new();
    walker.actual_set(
        &operation.node.selection_set.node,
        data,
        root_kind(&operation.node),
        &mut batched,
        0,
    )
}

/// The operation async-graphql will run, if the document and name determine one.
pub(crate) fn selected_operation<'a>(
    document: &'a ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<&'a Positioned<OperationDefinition>> {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => Some(operation),
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next()
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

fn root_kind(operation: &OperationDefinition) -> Context {
    match operation.ty {
        OperationType::Mutation => Context::MutationRoot,
        OperationType::Query | OperationType::Subscription => Context::QueryRoot,
    }
}

/// Where a selection set sits, since the same name costs differently in each place: the
/// query root's fields are lookups and listings, the mutation root's are writes, their
/// payloads' fields (`customer`, `user`, `errors`) are values already loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Context {
    QueryRoot,
    MutationRoot,
    Payload,
    Nested,
}

impl Context {
    /// The context of the selection under a field of this one.
    fn below(self) -> Context {
        match self {
            Context::MutationRoot => Context::Payload,
            Context::QueryRoot | Context::Payload | Context::Nested => Context::Nested,
        }
    }
}

/// A cost in two parts: `each` is paid per object the selection appears on (multiplied by
/// page sizes), `once` per request (statements a DataLoader or a cache batches).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Cost {
    each: u64,
    once: u64,
}

impl Cost {
    fn each(each: u64) -> Self {
        Cost { each, once: 0 }
    }

    fn plus(self, other: Cost) -> Cost {
        Cost {
            each: self.each.saturating_add(other.each),
            once: self.once.saturating_add(other.once),
        }
    }

    fn times(self, n: u64) -> Cost {
        Cost {
            each: self.each.saturating_mul(n),
            once: self.once,
        }
    }

    fn total(self) -> u64 {
        self.each.saturating_add(self.once)
    }
}

/// What one selection set costs per object, with the pages of a connection (`nodes` and
/// `edges` subtrees, per item) apart so the connection can multiply them.
#[derive(Debug, Clone, Copy, Default)]
struct SetCost {
    plain: Cost,
    paged: Cost,
    has_pages: bool,
    depth: usize,
    /// Most lists (not connection pages) nested in one another.
    lists: usize,
    fields: u64,
    /// Fields of the whole subtree, fragments expanded, without page multipliers.
    expanded: u64,
}

enum Memo {
    InProgress,
    Done(SetCost),
}

struct Walker<'a> {
    document: &'a ExecutableDocument,
    variables: &'a Variables,
    defaults: HashMap<&'a str, &'a Value>,
    memo: HashMap<(&'a str, Context), Memo>,
    /// Deepest field nesting walked before refusing.
    max_depth: usize,
}

/// Deepest fragment nesting the actual pass follows; deeper documents were refused before.
const MAX_SPREAD_NESTING: usize = 256;

impl<'a> Walker<'a> {
    fn new(
        document: &'a ExecutableDocument,
        variables: &'a Variables,
        operation: Option<&'a OperationDefinition>,
    ) -> Self {
        let defaults = operation
            .iter()
            .flat_map(|operation| operation.variable_definitions.iter())
            .filter_map(|definition| {
                let default = definition.node.default_value.as_ref()?;
                Some((definition.node.name.node.as_str(), &default.node))
            })
            .collect();
        Walker {
            document,
            variables,
            defaults,
            memo: HashMap::new(),
            max_depth: usize::MAX,
        }
    }

    /// The memoized cost and depth of fragment `name`; a cycle is refused.
    fn fragment(
        &mut self,
        name: &'a Name,
        context: Context,
        nesting: usize,
    ) -> Result<SetCost, Refusal> {
        match self.memo.get(&(name.as_str(), context)) {
            Some(Memo::Done(cost)) => return Ok(*cost),
            Some(Memo::InProgress) => {
                return Err(Refusal::new(
                    RefusalCode::FragmentCycle,
                    format!("Fragment \"{name}\" spreads itself."),
                ));
            }
            None => {}
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            // Unknown fragments are a validation error; they cost nothing here.
            return Ok(SetCost::default());
        };
        self.memo.insert((name.as_str(), context), Memo::InProgress);
        let cost = self.set(&fragment.node.selection_set.node, context, nesting)?;
        self.memo.insert((name.as_str(), context), Memo::Done(cost));
        Ok(cost)
    }

    /// The cost of `set`, whose fields sit `nesting` levels deep where it is first expanded.
    /// A selection deeper than the maximum is refused as soon as it is reached, so the walk's
    /// own recursion stays shallow.
    fn set(
        &mut self,
        set: &'a SelectionSet,
        context: Context,
        nesting: usize,
    ) -> Result<SetCost, Refusal> {
        let mut total = SetCost::default();
        for item in &set.items {
            let part = match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let name = field.name.node.as_str();
                    let price = self.price(field, context);
                    if nesting >= self.max_depth {
                        return Err(Refusal::new(
                            RefusalCode::QueryTooDeep,
                            format!("The document nests more than {} levels.", self.max_depth),
                        ));
                    }
                    let sub = self.set(&field.selection_set.node, context.below(), nesting + 1)?;
                    let items = list_size(name);
                    let mut part = SetCost {
                        depth: 1 + sub.depth,
                        lists: sub.lists + usize::from(items > 1),
                        fields: 1,
                        expanded: sub.expanded.saturating_add(1),
                        ..SetCost::default()
                    };
                    let own = Cost::each(FIELD_PRICE).plus(price);
                    if (name == "nodes" || name == "edges") && context != Context::MutationRoot {
                        part.plain = own;
                        part.paged = sub.plain.plus(sub.paged);
                        part.has_pages = true;
                    } else if sub.has_pages {
                        let size = self.page_size(field);
                        part.plain = own.plus(sub.plain).plus(sub.paged.times(size));
                    } else {
                        part.plain = own.plus(sub.plain.plus(sub.paged).times(items));
                    }
                    part
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment(&spread.node.fragment_name.node, context, nesting)?
                }
                Selection::InlineFragment(inline) => {
                    self.set(&inline.node.selection_set.node, context, nesting)?
                }
            };
            total = SetCost {
                plain: total.plain.plus(part.plain),
                paged: total.paged.plus(part.paged),
                has_pages: total.has_pages || part.has_pages,
                depth: total.depth.max(part.depth),
                lists: total.lists.max(part.lists),
                fields: total.fields.saturating_add(part.fields),
                expanded: total.expanded.saturating_add(part.expanded),
            };
        }
        Ok(total)
    }

    /// What a field costs beyond [`FIELD_PRICE`], from what its resolver does.
    fn price(&self, field: &Field, context: Context) -> Cost {
        let filters = || {
            let scans = field
                .arguments
                .iter()
                .filter(|(name, _)| is_text_filter(name.node.as_str()))
                .filter(|(name, _)| {
                    !matches!(
                        self.argument(field, name.node.as_str()),
                        None | Some(Value::Null)
                    )
                })
                .count() as u64;
            scans.saturating_mul(TEXT_FILTER_PRICE)
        };
        let once = |once| Cost { each: 0, once };
        match (context, field.name.node.as_str()) {
            (Context::MutationRoot, _) => Cost::each(WRITE_PRICE),
            (Context::Payload, _) => Cost::default(),
            (Context::QueryRoot, "customers" | "users") => {
                Cost::each(LISTING_PRICE.saturating_add(filters()))
            }
            (
                Context::QueryRoot,
                "customer" | "user" | "node" | "authenticatedUser" | "organizationRoles"
                | "customerRoles",
            ) => Cost::each(STATEMENT_PRICE),
            // Fetched once per request and cached (`User.org` shares it).
            (Context::QueryRoot, "organization") | (Context::Nested, "org") => {
                once(STATEMENT_PRICE)
            }
            // `Customer.users` is batched by a DataLoader; `Organization.users` sits on the
            // one organization: once per place in the document either way.
            (Context::Nested, "users") => once(LISTING_PRICE.saturating_add(filters())),
            // `User.customer`: one batch for every user of the page.
            (Context::Nested, "customer") => once(STATEMENT_PRICE),
            // `User.invitation`: the user and the invitation, per user, unbatched.
            (Context::Nested, "invitation") => Cost::each(2 * STATEMENT_PRICE),
            (Context::Nested, "signingKeys") => Cost::each(STATEMENT_PRICE),
            // The event log: a page, after `since`/`until` are found in the log; nested
            // (`Customer.events`, `User.events`) once per record, unbatched.
            (Context::QueryRoot | Context::Nested, "events") => Cost::each(LISTING_PRICE),
            // Webhooks: a page of endpoints; an endpoint's deliveries, a page and its
            // attempts, per endpoint (unbatched).
            (Context::QueryRoot, "webhookEndpoints") => Cost::each(LISTING_PRICE),
            (Context::Nested, "deliveries") => Cost::each(2 * LISTING_PRICE),
            // A page of one customer's SCIM tokens (their `customer`: the batch above).
            (Context::QueryRoot, "scimTokens") => Cost::each(LISTING_PRICE),
            _ => Cost::default(),
        }
    }

    /// `first` or `last`, literal or variable, clamped to 1..=100; 100 when absent.
    fn page_size(&self, field: &Field) -> u64 {
        let requested =
            ["first", "last"]
                .iter()
                .find_map(|wanted| match self.argument(field, wanted)? {
                    Value::Number(number) => number.as_i64(),
                    _ => None,
                });
        requested.map_or(DEFAULT_PAGE_SIZE, |n| {
            u64::try_from(n).unwrap_or(0).clamp(1, DEFAULT_PAGE_SIZE)
        })
    }

    /// Argument `name` of `field` with variables replaced (their defaults when not sent);
    /// `None` when absent or when a variable is neither sent nor defaulted.
    fn argument(&self, field: &Field, name: &str) -> Option<Value> {
        let (_, value) = field
            .arguments
            .iter()
            .find(|(argument, _)| argument.node.as_str() == name)?;
        value
            .node
            .clone()
            .into_const_with(|variable| {
                self.variables
                    .get(&variable)
                    .or_else(|| self.defaults.get(variable.as_str()).copied())
                    .cloned()
                    .ok_or(())
            })
            .ok()
    }

    /// The actual cost of `set` over `data` (an object, a list of them, or null).
    fn actual_set(
        &mut self,
        set: &'a SelectionSet,
        data: &Value,
        context: Context,
        batched: &mut HashSet<Pos>,
        nesting: usize,
    ) -> u64 {
        if !holds_objects(data) {
            return 0;
        }
        let priced = self.priced(set, context);
        self.actual_priced(&priced, data, context, batched, nesting)
    }

    /// The actual cost of the selection `below` an item of a priced set, over `data`: the
    /// selection is priced the first time only, so once per list of objects.
    fn actual_below(
        &mut self,
        below: &Below<'a>,
        data: &Value,
        context: Context,
        batched: &mut HashSet<Pos>,
        nesting: usize,
    ) -> u64 {
        let Some(set) = below.set else {
            return 0;
        };
        if set.items.is_empty() || !holds_objects(data) {
            return 0;
        }
        let priced = below.priced.get_or_init(|| self.priced(set, context));
        self.actual_priced(priced, data, context, batched, nesting)
    }

    /// What each selection of `set` costs, in `context`: found once per list of objects,
    /// not once per object.
    fn priced(&self, set: &'a SelectionSet, context: Context) -> Vec<Priced<'a>> {
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(field) => Priced::Field {
                    key: &field.node.alias.as_ref().unwrap_or(&field.node.name).node,
                    price: self.price(&field.node, context),
                    pos: field.pos,
                    below: Below::of(Some(&field.node.selection_set.node)),
                },
                Selection::FragmentSpread(spread) => Priced::Spread(Below::of(
                    self.document
                        .fragments
                        .get(&spread.node.fragment_name.node)
                        .map(|fragment| &fragment.node.selection_set.node),
                )),
                Selection::InlineFragment(inline) => {
                    Priced::Inline(Below::of(Some(&inline.node.selection_set.node)))
                }
            })
            .collect()
    }

    /// The actual cost of a selection priced as `priced` over `data`.
    fn actual_priced(
        &mut self,
        priced: &[Priced<'a>],
        data: &Value,
        context: Context,
        batched: &mut HashSet<Pos>,
        nesting: usize,
    ) -> u64 {
        let object = match data {
            Value::Object(object) => object,
            Value::Binary(fragment) => {
                let mut shape = json::fragment_shape(fragment);
                return self.actual_fragment(priced, &mut shape, context, batched, nesting);
            }
            Value::List(items) => {
                return items.iter().fold(0, |sum, item| {
                    sum.saturating_add(self.actual_priced(priced, item, context, batched, nesting))
                });
            }
            _ => return 0,
        };
        let mut total: u64 = 0;
        // The answer's keys mostly come in the selection's order: each is first looked for
        // where the previous one was found, one comparison, and only then by its hash.
        let mut next = 0;
        for item in priced {
            let part = match item {
                Priced::Field {
                    key,
                    price,
                    pos,
                    below,
                } => {
                    let found = match object.get_index(next) {
                        Some((at, value)) if at == *key => Some((next, value)),
                        _ => object
                            .get_full(*key)
                            .map(|(index, _, value)| (index, value)),
                    };
                    let Some((index, value)) = found else {
                        continue;
                    };
                    next = index + 1;
                    let field = field_cost(*price, *pos, batched);
                    let sub = self.actual_below(below, value, context.below(), batched, nesting);
                    field.saturating_add(sub)
                }
                fragment => match fragment.spread(nesting) {
                    Some((below, nesting)) => {
                        self.actual_below(below, data, context, batched, nesting)
                    }
                    None => 0,
                },
            };
            total = total.saturating_add(part);
        }
        total
    }

    /// The actual cost of a selection priced as `priced` over an object the flat path wrote
    /// as JSON (`json::Fragments`): it holds every field selected, and a field with a
    /// selection of its own holds as many objects as the fragment's `shape` says, counts
    /// taken in the order this walk meets such fields (`json::fragment_shape`).
    fn actual_fragment(
        &mut self,
        priced: &[Priced<'a>],
        shape: &mut impl ExactSizeIterator<Item = u64>,
        context: Context,
        batched: &mut HashSet<Pos>,
        nesting: usize,
    ) -> u64 {
        let mut total: u64 = 0;
        for item in priced {
            let part = match item {
                Priced::Field {
                    price, pos, below, ..
                } => {
                    let field = field_cost(*price, *pos, batched);
                    let sub = self.fragment_below(below, shape, context.below(), batched, nesting);
                    field.saturating_add(sub)
                }
                fragment => match fragment.spread(nesting) {
                    Some((below, nesting)) => {
                        self.fragment_below(below, shape, context, batched, nesting)
                    }
                    None => 0,
                },
            };
            total = total.saturating_add(part);
        }
        total
    }

    /// As [`Walker::actual_below`], over the objects a fragment's `shape` says the item
    /// holds (none for a leaf field, which has no count).
    fn fragment_below(
        &mut self,
        below: &Below<'a>,
        shape: &mut impl ExactSizeIterator<Item = u64>,
        context: Context,
        batched: &mut HashSet<Pos>,
        nesting: usize,
    ) -> u64 {
        let Some(set) = below.set else {
            return 0;
        };
        if set.items.is_empty() {
            return 0;
        }
        let objects = shape.next().unwrap_or(0);
        if objects == 0 {
            return 0;
        }
        let priced = below.priced.get_or_init(|| self.priced(set, context));
        let counts_left = shape.len();
        let first = self.actual_fragment(priced, shape, context, batched, nesting);
        if objects == 1 {
            return first;
        }
        if shape.len() == counts_left {
            // Objects of leaves only (no count taken): each after the first costs what the
            // second does (what is charged once was charged on the first).
            let next = self.actual_fragment(priced, shape, context, batched, nesting);
            return first.saturating_add(next.saturating_mul(objects - 1));
        }
        (1..objects).fold(first, |sum, _| {
            sum.saturating_add(self.actual_fragment(priced, shape, context, batched, nesting))
        })
    }
}

/// What a field of a priced set costs, its own selection apart: the field, its price per
/// object, and what is charged once per place in the document the first time it is met.
fn field_cost(price: Cost, pos: Pos, batched: &mut HashSet<Pos>) -> u64 {
    let once = if price.once > 0 && batched.insert(pos) {
        price.once
    } else {
        0
    };
    FIELD_PRICE.saturating_add(price.each).saturating_add(once)
}

/// One selection of a set as the actual pass walks it: a field with its response key, its
/// price, its place (for what is charged once) and its own selection; a fragment's
/// selection (`None` for an unknown fragment), spread or inline.
enum Priced<'a> {
    Field {
        key: &'a Name,
        price: Cost,
        pos: Pos,
        below: Below<'a>,
    },
    Spread(Below<'a>),
    Inline(Below<'a>),
}

impl<'a> Priced<'a> {
    /// For a fragment, spread or inline, the selection it adds to the same object and the
    /// nesting to walk it at; `None` for a field, and for a spread nested deeper than
    /// [`MAX_SPREAD_NESTING`] (refused before, so never walked).
    fn spread(&self, nesting: usize) -> Option<(&Below<'a>, usize)> {
        match self {
            Priced::Spread(fragment) if nesting < MAX_SPREAD_NESTING => {
                Some((fragment, nesting + 1))
            }
            Priced::Inline(selection) => Some((selection, nesting)),
            Priced::Field { .. } | Priced::Spread(_) => None,
        }
    }
}

/// The selection below an item of a priced set, priced when first walked.
struct Below<'a> {
    set: Option<&'a SelectionSet>,
    priced: OnceCell<Vec<Priced<'a>>>,
}

impl<'a> Below<'a> {
    fn of(set: Option<&'a SelectionSet>) -> Self {
        Below {
            set,
            priced: OnceCell::new(),
        }
    }
}

/// True for what a selection can be walked over: an object, a list, or an object written
/// as JSON by the flat path (`json::Fragments`).
fn holds_objects(data: &Value) -> bool {
    matches!(data, Value::Object(_) | Value::List(_) | Value::Binary(_))
}

/// `name_Icontains`, `email_Icontains`, `name_Istartswith`, `description_Icontains`,
/// `labels_Contains`: the filters no index serves.
fn is_text_filter(argument: &str) -> bool {
    argument.ends_with("_Icontains")
        || argument.ends_with("_Istartswith")
        || argument == "labels_Contains"
}

/// Items assumed in a list field that is not a connection page.
fn list_size(field: &str) -> u64 {
    match field {
        "attachments" => ATTACHMENTS_SIZE,
        "organizationRoles" | "customerRoles" | "types" | "fields" | "inputFields" | "args"
        | "enumValues" | "interfaces" | "possibleTypes" | "directives" => LIST_SIZE,
        _ => 1,
    }
}

#[cfg(test)]
#[path = "cost_tests.rs"]
mod tests;
