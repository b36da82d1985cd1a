//! A page's `nodes` answered without a future per field when the document selects only plain
//! scalar fields of them, as list pages mostly do (`nodes { id email name externalId }`), or
//! plain fields and nested connections loaded with the page (`users { nodes { ... } }`).
//!
//! async-graphql resolves each object of a list as a set of boxed futures, one per selected
//! field, polled together; for a page of 50 customers with 5 users each that is over a
//! thousand futures, most of them returning a string the node already holds, and it was most
//! of the page's CPU. [`Nodes`] looks at the selection once per list: when every selection is
//! either a field without arguments, directives or sub-selection that the node type answers in
//! [`FlatFields::flat_field`] (or `__typename`), or a nested connection that the listing
//! loaded ahead ([`FlatNested`]) selected only through `nodes` (plain fields), `pageInfo`,
//! `totalCount` and `__typename`, it builds the objects directly; anything else (fragments,
//! `@include`, `edges`, an unknown field, a nested listing that failed to load) goes through
//! async-graphql's own list resolution, unchanged. [`connection_value`] builds a whole
//! connection the same way, for nodes that have no resolvers to fall back on (customers read
//! as summaries): its caller reads whole nodes when it answers `None`.
//!
//! When the request's answer is written by `json::response_json` ([`Output::Json`]), an object
//! of plain fields (a page's users) is written as its JSON text, one buffer per list, instead
//! of a map holding a string per field: on a page of customers with their users, building and
//! dropping those maps and strings was a sixth of the CPU. A node with nested connections (a
//! customer with its users) is written whole the same way, its text preceded by its shape
//! (`json::begin_shape`), the sizes of its nested objects and lists that the actual-cost walk
//! needs: the customers' maps were another tenth.

use std::borrow::Cow;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{
    Context, ContextSelectionSet, Name, OutputType, Positioned, ScalarType, ServerResult, Value,
};
use bytes::Bytes;
use futures::future::BoxFuture;
use wire::GlobalId;

use crate::json::{self, Fragments};

/// A GraphQL object whose plain scalar fields can be read without running its resolvers.
pub(crate) trait FlatFields: OutputType {
    /// The value of the argument-free scalar field `name`, exactly as its resolver answers,
    /// or `None` when the field needs its resolver (objects, arguments, the context).
    fn flat_field(&self, name: &str) -> Option<Value>;
}

/// What the flat path reads of a node: its `__typename` and its plain fields. Every
/// [`FlatFields`] type is one; so are values the schema has no type of its own for, such as
/// a user read as a summary, which answer only some of their type's fields.
pub(crate) trait FlatNode {
    /// The GraphQL type the node is an object of.
    fn flat_type_name(&self) -> Cow<'static, str>;

    /// As [`FlatFields::flat_field`]; `None` also for a field the value does not hold.
    fn flat_node_field(&self, name: &str) -> Option<Value>;

    /// Writes plain field `name` as JSON, the text `json::write_value` makes of
    /// [`FlatNode::flat_node_field`]'s value; `None` when that is `None`. Nodes that hold their
    /// fields as text write them without making a `Value` first.
    fn write_flat_field(&self, name: &str, out: &mut Vec<u8>) -> Option<()> {
        json::write_value(out, &self.flat_node_field(name)?).ok()
    }
}

/// How the flat path hands over an object of plain fields.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Output {
    /// As a map of async-graphql values, which any writer of the answer can write.
    Values,
    /// As its JSON text, a `Value::Binary` that only `json::response_json` writes (as it is).
    Json,
}

impl Output {
    /// [`Output::Json`] when the request's answer is written by `json::response_json`
    /// ([`Fragments`]); values otherwise (sockets, schema tests).
    pub(crate) fn of<T>(ctx: &async_graphql::ContextBase<'_, T>) -> Output {
        match ctx.data_opt::<Fragments>() {
            Some(_) => Output::Json,
            None => Output::Values,
        }
    }
}

/// A plain field's value borrowed from its node: made into a `Value`, or written as JSON
/// without one.
pub(crate) enum Leaf<'a> {
    /// A node's id, as clients see it.
    Id(GlobalId),
    /// Text, or null.
    Text(Option<&'a str>),
}

impl Leaf<'_> {
    /// The value the field's resolver answers.
    pub(crate) fn value(self) -> Value {
        match self {
            Leaf::Id(id) => Value::String(id.encode()),
            Leaf::Text(text) => optional_text(text),
        }
    }

    /// Writes the field's value as JSON, as `json::write_value` writes [`Leaf::value`].
    pub(crate) fn write(self, out: &mut Vec<u8>) -> Option<()> {
        match self {
            // The base64 alphabet needs no escape.
            Leaf::Id(id) => {
                out.push(b'"');
                id.encode_into(out);
                out.push(b'"');
            }
            Leaf::Text(Some(text)) => json::write_str(out, text).ok()?,
            Leaf::Text(None) => out.extend_from_slice(b"null"),
        }
        Some(())
    }
}

impl<T: FlatFields> FlatNode for T {
    fn flat_type_name(&self) -> Cow<'static, str> {
        self.introspection_type_name()
    }

    fn flat_node_field(&self, name: &str) -> Option<Value> {
        self.flat_field(name)
    }
}

/// The nested connections of a page's nodes that its listing loaded ahead, so the flat path
/// can answer them too (the customers' `users`).
pub(crate) trait FlatNested: Send + Sync {
    /// Which of the loaded listings is the one the nested field at `ctx` asks for, decoding
    /// its arguments as its resolver does; `None` when none is (another field, other
    /// arguments, a listing that failed to load, arguments in error).
    fn listing(&self, ctx: &Context<'_>) -> Option<usize>;

    /// The nested connection of the `index`th node in `listing`, as `plan` selects it, its
    /// nodes handed over as `output`.
    fn value(
        &self,
        listing: usize,
        index: usize,
        plan: &ConnectionPlan,
        output: Output,
    ) -> Option<Value>;

    /// Writes that connection as JSON, as `json::write_value` writes its value, pushing its
    /// fields' counts for the fragment's shape ([`ConnectionPlan::write`]).
    fn write(
        &self,
        listing: usize,
        index: usize,
        plan: &ConnectionPlan,
        out: &mut Vec<u8>,
        counts: &mut Vec<u32>,
    ) -> Option<()>;

    /// Hands what was loaded to the resolvers, when they answer instead (the DataLoader's
    /// cache), so they run no statement the flat path would not have.
    fn before_resolvers<'a>(&'a self, ctx: &'a Context<'a>) -> BoxFuture<'a, ()>;
}

/// A loaded connection the flat path answers as a nested one (a customer's `users`).
pub(crate) trait FlatConnection {
    /// What its nodes are.
    type Node: FlatNode;

    /// `answer` given the connection as the flat path reads one.
    fn with_parts<R>(&self, answer: impl FnOnce(&ConnectionParts<'_, Self::Node>) -> R) -> R;

    /// The connection's value as `plan` selects it ([`ConnectionPlan::value`]); `None` when
    /// part of it needs the resolvers.
    fn flat_value(&self, plan: &ConnectionPlan, output: Output) -> Option<Value> {
        self.with_parts(|parts| plan.value(parts, output))
    }

    /// The same connection written as JSON ([`ConnectionPlan::write`]).
    fn write_flat(
        &self,
        plan: &ConnectionPlan,
        out: &mut Vec<u8>,
        counts: &mut Vec<u32>,
    ) -> Option<()> {
        self.with_parts(|parts| plan.write(parts, out, counts))
    }
}

/// A page's nodes: in the schema exactly `[T!]!`, resolved flat when the selection allows.
pub(crate) struct Nodes<T> {
    pub(crate) nodes: Vec<T>,
    /// What was loaded ahead for their nested connections, if anything.
    pub(crate) nested: Option<Box<dyn FlatNested>>,
}

impl<T> Nodes<T> {
    /// Nodes with nothing loaded ahead.
    pub(crate) fn plain(nodes: Vec<T>) -> Self {
        Nodes {
            nodes,
            nested: None,
        }
    }

    /// Lets the resolvers find what was loaded ahead, when they run instead of the flat path.
    pub(crate) async fn before_resolvers(&self, ctx: &Context<'_>) {
        if let Some(nested) = &self.nested {
            nested.before_resolvers(ctx).await;
        }
    }
}

impl<T: FlatFields> OutputType for Nodes<T> {
    fn type_name() -> Cow<'static, str> {
        <Vec<T> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<T> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<T> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        if let Some(nodes) = flat_nodes(ctx, &self.nodes, self.nested.as_deref()) {
            return Ok(nodes);
        }
        self.before_resolvers(&ctx.with_field(field)).await;
        <Vec<T> as OutputType>::resolve(&self.nodes, ctx, field).await
    }
}

/// One object (`customer(id)`): in the schema exactly `T`, answered flat when the selection
/// is plain fields `T` answers, else by `T`'s resolvers.
pub(crate) struct Flat<T>(pub(crate) T);

impl<T: FlatFields> OutputType for Flat<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        if let Some(object) = flat_node(ctx, &self.0) {
            return Ok(object);
        }
        self.0.resolve(ctx, field).await
    }
}

/// One node as the flat path answers the selection at `ctx` (plain fields only), or `None`
/// when part of it needs the resolvers.
pub(crate) fn flat_node<T: FlatNode>(ctx: &ContextSelectionSet<'_>, node: &T) -> Option<Value> {
    let selection = flat_selection(ctx, None)?;
    let output = Output::of(ctx);
    if output == Output::Json && selection.len() <= SHORT_SELECTION {
        return short_object_json(node, &selection);
    }
    let shape = ObjectShape::new(selection.iter().map(Item::key));
    match output {
        Output::Json => {
            let mut text = Vec::with_capacity(NODE_TEXT_GUESS);
            shape.write(&mut text, |at, out| {
                write_leaf(node, selection.get(at)?.plain()?, out)
            })?;
            Some(Value::Binary(text.into()))
        }
        Output::Values => shape.object(|at| leaf_value(node, selection.get(at)?.plain()?)),
    }
}

/// One node as [`flat_node`] writes it as JSON for `selection`, for a lookup answered
/// without the executor (`schema::lookup`): `None` unless `selection` holds only plain leaf
/// fields (no fragment, directive, argument or sub-selection), at most [`SHORT_SELECTION`].
pub(crate) fn plain_object_json<T: FlatNode>(node: &T, selection: &SelectionSet) -> Option<Value> {
    if selection.items.len() > SHORT_SELECTION {
        return None;
    }
    let items = plain_selections(selection)
        .map(|item| {
            let (field, key) = item?;
            is_leaf(&field.node).then(|| Item::Plain(key, field.node.name.node.as_str()))
        })
        .collect::<Option<Vec<_>>>()?;
    short_object_json(node, &items)
}

/// Plain fields written in one pass, without the shape a list shares: each key at its
/// first place with the value of its last selection, as `ObjectShape::object` leaves it.
/// Quadratic in the selection's length: for at most [`SHORT_SELECTION`] fields.
fn short_object_json<T: FlatNode>(node: &T, selection: &[Item<'_>]) -> Option<Value> {
    let mut text = Vec::with_capacity(NODE_TEXT_GUESS);
    text.push(b'{');
    for (at, item) in selection.iter().enumerate() {
        let key = item.key();
        if selection[..at].iter().any(|earlier| earlier.key() == key) {
            continue;
        }
        let last = selection.iter().rev().find(|later| later.key() == key)?;
        if at > 0 {
            text.push(b',');
        }
        json::write_str(&mut text, key).ok()?;
        text.push(b':');
        write_leaf(node, last.plain()?, &mut text)?;
    }
    text.push(b'}');
    Some(Value::Binary(text.into()))
}

/// Fields of one object written without a shape: looking for a key among the earlier ones
/// costs less than hashing it below this, and stays bounded above it.
pub(crate) const SHORT_SELECTION: usize = 16;

/// One selected field of a node, as the flat path answers it.
enum Item<'a> {
    /// A plain field: (response key, field name).
    Plain(Name, &'a str),
    /// A nested connection: its response key, the loaded listing and what it selects.
    Nested(Name, usize, ConnectionPlan),
}

impl<'a> Item<'a> {
    fn key(&self) -> &Name {
        match self {
            Item::Plain(key, _) | Item::Nested(key, ..) => key,
        }
    }

    /// How many counts the item adds to its object's fragment shape (`json::fragment_shape`):
    /// none for a plain field; for a nested connection, its own and its fields'.
    fn shape_counts(&self) -> usize {
        match self {
            Item::Plain(..) => 0,
            Item::Nested(_, _, plan) => 1 + plan.shape_counts(),
        }
    }

    /// The field name of a plain field.
    fn plain(&self) -> Option<&'a str> {
        match self {
            Item::Plain(_, name) => Some(name),
            Item::Nested(..) => None,
        }
    }
}

/// What a nested connection's selection asks for, when the flat path can answer it all.
pub(crate) struct ConnectionPlan(Vec<ConnectionItem>);

/// One selected field of a nested connection.
enum ConnectionItem {
    Typename(Name),
    TotalCount(Name),
    /// `nodes`, with its plain fields as (response key, field name), and the shape of the
    /// nodes' objects.
    Nodes(Name, Vec<(Name, String)>, ObjectShape),
    /// `pageInfo`, with each selected field.
    PageInfo(Name, Vec<(Name, PageInfoField)>),
}

impl ConnectionItem {
    fn key(&self) -> &Name {
        match self {
            ConnectionItem::Typename(key)
            | ConnectionItem::TotalCount(key)
            | ConnectionItem::Nodes(key, ..)
            | ConnectionItem::PageInfo(key, _) => key,
        }
    }
}

/// A field of `PageInfo`.
#[derive(Clone, Copy)]
pub(crate) enum PageInfoField {
    Typename,
    HasNextPage,
    HasPreviousPage,
    StartCursor,
    EndCursor,
}

/// What a nested connection holds, for the flat path to build its value from.
pub(crate) struct ConnectionParts<'a, T> {
    /// The connection type's name, made only when `__typename` is selected.
    pub(crate) type_name: &'a dyn Fn() -> Cow<'static, str>,
    pub(crate) nodes: &'a [T],
    pub(crate) total: Option<u64>,
    pub(crate) has_next_page: bool,
    pub(crate) has_previous_page: bool,
    /// The first and the last node's cursor, encoded only when selected.
    pub(crate) start_cursor: &'a dyn Fn() -> Option<String>,
    pub(crate) end_cursor: &'a dyn Fn() -> Option<String>,
}

impl ConnectionPlan {
    /// The plan of a nested connection's selection, when it selects only `__typename`,
    /// `totalCount`, `nodes` (plain fields) and `pageInfo` (its scalar fields), each without
    /// argument or directive, and no key twice (async-graphql would merge them).
    pub(crate) fn of(selection: &SelectionSet) -> Option<ConnectionPlan> {
        let mut items = Vec::with_capacity(selection.items.len());
        for selection in &selection.items {
            items.push(ConnectionItem::of(plain_field(&selection.node)?)?);
        }
        let keys: Vec<&Name> = items.iter().map(ConnectionItem::key).collect();
        let repeated = keys
            .iter()
            .enumerate()
            .any(|(at, key)| keys[at + 1..].contains(key));
        (!repeated && !items.is_empty()).then_some(ConnectionPlan(items))
    }

    /// The name of each field the plan selects of the nodes.
    pub(crate) fn node_fields(&self) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .flat_map(|item| match item {
                ConnectionItem::Nodes(_, fields, _) => fields.as_slice(),
                _ => &[],
            })
            .map(|(_, name)| name.as_str())
    }

    /// How many counts the connection's fields add to a fragment's shape: one for `nodes`
    /// (its length) and one for `pageInfo` (an object), the fields with selections.
    fn shape_counts(&self) -> usize {
        self.0
            .iter()
            .filter(|item| {
                matches!(
                    item,
                    ConnectionItem::Nodes(..) | ConnectionItem::PageInfo(..)
                )
            })
            .count()
    }

    /// Writes the connection as JSON, the text `json::write_value` makes of
    /// [`ConnectionPlan::value`]'s, its nodes in place; pushes to `counts`, in the plan's
    /// order (the document's), how many nodes `nodes` holds and 1 for `pageInfo`, as
    /// [`ConnectionPlan::shape_counts`] says. `None` as `value` would be.
    pub(crate) fn write<T: FlatNode>(
        &self,
        parts: &ConnectionParts<'_, T>,
        out: &mut Vec<u8>,
        counts: &mut Vec<u32>,
    ) -> Option<()> {
        out.push(b'{');
        for (at, item) in self.0.iter().enumerate() {
            if at > 0 {
                out.push(b',');
            }
            json::write_str(out, item.key()).ok()?;
            out.push(b':');
            match item {
                ConnectionItem::Nodes(_, fields, shape) => {
                    counts.push(u32::try_from(parts.nodes.len()).ok()?);
                    out.push(b'[');
                    for (at, node) in parts.nodes.iter().enumerate() {
                        if at > 0 {
                            out.push(b',');
                        }
                        shape.write(out, |at, out| write_leaf(node, &fields.get(at)?.1, out))?;
                    }
                    out.push(b']');
                }
                // Rare, and small: written from their values.
                other => {
                    if matches!(other, ConnectionItem::PageInfo(..)) {
                        counts.push(1);
                    }
                    json::write_value(out, &other.value(parts, Output::Json)?).ok()?;
                }
            }
        }
        out.push(b'}');
        Some(())
    }

    /// The connection's value as the plan selects it, its nodes handed over as `output`;
    /// `None` when a node field is not flat or the total was not counted.
    pub(crate) fn value<T: FlatNode>(
        &self,
        parts: &ConnectionParts<'_, T>,
        output: Output,
    ) -> Option<Value> {
        let mut object = IndexMap::with_capacity(self.0.len());
        for item in &self.0 {
            object.insert(item.key().clone(), item.value(parts, output)?);
        }
        Some(Value::Object(object))
    }
}

impl ConnectionItem {
    /// The item a selected field of a connection is, when the flat path answers it:
    /// `__typename`, `totalCount`, `nodes` with plain leaf fields, `pageInfo`.
    fn of(field: &Field) -> Option<ConnectionItem> {
        let key = field.response_key().node.clone();
        Some(match field.name.node.as_str() {
            "__typename" if is_leaf(field) => ConnectionItem::Typename(key),
            "totalCount" if is_leaf(field) => ConnectionItem::TotalCount(key),
            "nodes" => {
                let fields = leaf_fields(&field.selection_set.node)?;
                let shape = ObjectShape::new(fields.iter().map(|(key, _)| key));
                ConnectionItem::Nodes(key, fields, shape)
            }
            "pageInfo" => {
                let fields = leaf_fields(&field.selection_set.node)?
                    .into_iter()
                    .map(|(key, name)| Some((key, page_info_field(&name)?)))
                    .collect::<Option<Vec<_>>>()?;
                ConnectionItem::PageInfo(key, fields)
            }
            _ => return None,
        })
    }

    /// The item's value in the connection `parts` describes, its nodes handed over as
    /// `output`; `None` when a node field is not flat or the total was not counted.
    fn value<T: FlatNode>(&self, parts: &ConnectionParts<'_, T>, output: Output) -> Option<Value> {
        Some(match self {
            ConnectionItem::Typename(_) => Value::String((parts.type_name)().into_owned()),
            ConnectionItem::TotalCount(_) => {
                Value::from(i32::try_from(parts.total?).unwrap_or(i32::MAX))
            }
            ConnectionItem::Nodes(_, fields, shape) => match output {
                Output::Json => fragments(parts.nodes, |_, node, out| {
                    shape.write(out, |at, out| write_leaf(node, &fields.get(at)?.1, out))
                })?,
                Output::Values => Value::List(
                    parts
                        .nodes
                        .iter()
                        .map(|node| leaf_object(node, fields, shape))
                        .collect::<Option<Vec<Value>>>()?,
                ),
            },
            ConnectionItem::PageInfo(_, fields) => {
                let mut info = IndexMap::with_capacity(fields.len());
                for (key, field) in fields {
                    let value = match field {
                        PageInfoField::Typename => Value::String("PageInfo".to_owned()),
                        PageInfoField::HasNextPage => Value::Boolean(parts.has_next_page),
                        PageInfoField::HasPreviousPage => Value::Boolean(parts.has_previous_page),
                        PageInfoField::StartCursor => {
                            (parts.start_cursor)().map_or(Value::Null, Value::String)
                        }
                        PageInfoField::EndCursor => {
                            (parts.end_cursor)().map_or(Value::Null, Value::String)
                        }
                    };
                    // A scalar selected twice keeps its first place, as async-graphql's
                    // merge does.
                    info.insert(key.clone(), value);
                }
                Value::Object(info)
            }
        })
    }
}

/// A whole connection's value built flat, as async-graphql would resolve the selection at
/// `ctx` (the connection field's): when it selects only `__typename`, `totalCount`,
/// `pageInfo` (its scalar fields) and `nodes` that the flat path answers (plain fields and
/// nested connections `nested` loaded ahead), each once, without fragments or directives.
/// `None` otherwise: the caller answers through the resolvers.
pub(crate) fn connection_value<T: FlatNode>(
    ctx: &ContextSelectionSet<'_>,
    parts: &ConnectionParts<'_, T>,
    nested: Option<&dyn FlatNested>,
) -> Option<Value> {
    let output = Output::of(ctx);
    let mut object = IndexMap::with_capacity(ctx.item.node.items.len());
    for selection in plain_selections(&ctx.item.node) {
        let (positioned, key) = selection?;
        let field = &positioned.node;
        // async-graphql would merge a key selected twice.
        if object.contains_key(&key) {
            return None;
        }
        let value = if field.name.node == "nodes" {
            let nodes = ctx.with_field(positioned);
            flat_nodes(
                &nodes.with_selection_set(&field.selection_set),
                parts.nodes,
                nested,
            )?
        } else {
            ConnectionItem::of(field)?.value(parts, output)?
        };
        object.insert(key, value);
    }
    Some(Value::Object(object))
}

/// The field a selection is when it is one without directives (fragments are not).
fn plain_field(selection: &Selection) -> Option<&Field> {
    match selection {
        Selection::Field(field) => field.node.directives.is_empty().then_some(&field.node),
        Selection::FragmentSpread(_) | Selection::InlineFragment(_) => None,
    }
}

/// Each selection of `set` as a field without directives and its response key; `None`
/// for a fragment or a field with directives, which the flat path leaves to the resolvers.
fn plain_selections(
    set: &SelectionSet,
) -> impl Iterator<Item = Option<(&Positioned<Field>, Name)>> {
    set.items.iter().map(|selection| match &selection.node {
        Selection::Field(field) if field.node.directives.is_empty() => {
            Some((field, field.node.response_key().node.clone()))
        }
        _ => None,
    })
}

/// True for a field without arguments or sub-selection.
fn is_leaf(field: &Field) -> bool {
    field.arguments.is_empty() && field.selection_set.node.items.is_empty()
}

/// Each selected field as (response key, field name), when the selection holds only plain
/// leaf fields: no fragment, directive, argument or sub-selection.
fn leaf_fields(selection: &SelectionSet) -> Option<Vec<(Name, String)>> {
    selection
        .items
        .iter()
        .map(|selection| {
            let field = plain_field(&selection.node)?;
            is_leaf(field).then(|| {
                (
                    field.response_key().node.clone(),
                    field.name.node.to_string(),
                )
            })
        })
        .collect()
}

fn page_info_field(name: &str) -> Option<PageInfoField> {
    Some(match name {
        "__typename" => PageInfoField::Typename,
        "hasNextPage" => PageInfoField::HasNextPage,
        "hasPreviousPage" => PageInfoField::HasPreviousPage,
        "startCursor" => PageInfoField::StartCursor,
        "endCursor" => PageInfoField::EndCursor,
        _ => return None,
    })
}

/// Each selected field of the list's nodes, when the selection holds only plain leaf fields
/// and nested connections `nested` loaded ahead (each under a key of its own).
fn flat_selection<'a>(
    ctx: &ContextSelectionSet<'a>,
    nested: Option<&dyn FlatNested>,
) -> Option<Vec<Item<'a>>> {
    let mut items = Vec::with_capacity(ctx.item.node.items.len());
    for selection in plain_selections(&ctx.item.node) {
        let (positioned, key) = selection?;
        let field = &positioned.node;
        if is_leaf(field) {
            items.push(Item::Plain(key, field.name.node.as_str()));
            continue;
        }
        let nested = nested?;
        let listing = nested.listing(&ctx.with_field(positioned))?;
        let plan = ConnectionPlan::of(&field.selection_set.node)?;
        items.push(Item::Nested(key, listing, plan));
    }
    let repeated_nested = items.iter().any(|item| match item {
        Item::Nested(key, ..) => {
            items
                .iter()
                .filter(|other| match other {
                    Item::Plain(other, _) | Item::Nested(other, ..) => other == key,
                })
                .count()
                > 1
        }
        Item::Plain(..) => false,
    });
    (!repeated_nested).then_some(items)
}

/// Whether the flat path will answer the object `field` selects (`customer(id)`) for a node
/// that answers the plain fields `leaf` accepts by name (`__typename` among them, when it
/// does): plain leaf fields only, as [`flat_node`] takes them. Asked before the node is read.
pub(crate) fn object_answers_flat_by(field: &Field, leaf: impl Fn(&str) -> bool) -> bool {
    field.selection_set.node.items.iter().all(|selection| {
        plain_field(&selection.node).is_some_and(|field| is_leaf(field) && leaf(&field.name.node))
    })
}

/// Whether the flat path will answer the `nodes` of the connection `field` for nodes like
/// `node` (plain fields without fragments or directives that `node` answers flat, nested
/// connections that [`ConnectionPlan::of`] accepts and `nested` accepts by field name and
/// plan), looked at before the nodes are resolved. Conservative: `edges`, or fragments
/// on the connection, say no.
pub(crate) fn nodes_answer_flat<T: FlatFields>(
    field: &Field,
    node: &T,
    nested: impl Fn(&str, &ConnectionPlan) -> bool,
) -> bool {
    nodes_answer_flat_by(field, |name| leaf_value(node, name).is_some(), nested)
}

/// As [`nodes_answer_flat`], for nodes that answer the plain fields `leaf` accepts by name
/// (`__typename` among them, when they do), so it can be asked before any node is read.
pub(crate) fn nodes_answer_flat_by(
    field: &Field,
    leaf: impl Fn(&str) -> bool,
    nested: impl Fn(&str, &ConnectionPlan) -> bool,
) -> bool {
    field.selection_set.node.items.iter().all(|selection| {
        let Some(field) = plain_field(&selection.node) else {
            return false;
        };
        match field.name.node.as_str() {
            "nodes" => field.selection_set.node.items.iter().all(|selection| {
                let Some(field) = plain_field(&selection.node) else {
                    return false;
                };
                let name = field.name.node.as_str();
                if is_leaf(field) {
                    return leaf(name);
                }
                ConnectionPlan::of(&field.selection_set.node)
                    .is_some_and(|plan| nested(name, &plan))
            }),
            "edges" => false,
            _ => true,
        }
    })
}

/// The keys of the objects a selection makes, in answer order, found once per selection:
/// each object is a copy of `template` whose values are then set by position, so no key is
/// hashed again per object (async-graphql's objects hash theirs with SipHash).
struct ObjectShape {
    template: IndexMap<Name, Value>,
    /// The position in `template` of each selected key; a key selected twice has one place,
    /// its first, as async-graphql's own merge gives it.
    slots: Vec<usize>,
    /// For each key of `template` in order: its JSON text (`"key":`), and the selection
    /// whose value it holds (of a key selected twice, the last, as [`ObjectShape::object`]
    /// leaves it).
    json: Vec<(Box<[u8]>, usize)>,
}

impl ObjectShape {
    fn new<'k>(keys: impl Iterator<Item = &'k Name>) -> Self {
        let mut template = IndexMap::new();
        let slots: Vec<usize> = keys
            .map(|key| template.insert_full(key.clone(), Value::Null).0)
            .collect();
        // A response key is a GraphQL name (letters, digits, `_`): nothing to escape.
        let mut json: Vec<(Box<[u8]>, usize)> = template
            .keys()
            .map(|key| (format!("\"{key}\":").into_bytes().into_boxed_slice(), 0))
            .collect();
        for (selection, slot) in slots.iter().enumerate() {
            if let Some(entry) = json.get_mut(*slot) {
                entry.1 = selection;
            }
        }
        ObjectShape {
            template,
            slots,
            json,
        }
    }

    /// The object whose `i`th selected key holds `value(i)`; `None` as soon as one is.
    fn object(&self, mut value: impl FnMut(usize) -> Option<Value>) -> Option<Value> {
        let mut object = self.template.clone();
        for (index, slot) in self.slots.iter().enumerate() {
            let value = value(index)?;
            if let Some((_, place)) = object.get_index_mut(*slot) {
                *place = value;
            }
        }
        Some(Value::Object(object))
    }

    /// Writes the same object as JSON, `write(i, out)` writing the `i`th selection's value;
    /// `None` as soon as one does not.
    fn write(
        &self,
        out: &mut Vec<u8>,
        mut write: impl FnMut(usize, &mut Vec<u8>) -> Option<()>,
    ) -> Option<()> {
        out.push(b'{');
        for (at, (key, selection)) in self.json.iter().enumerate() {
            if at > 0 {
                out.push(b',');
            }
            out.extend_from_slice(key);
            write(*selection, out)?;
        }
        out.push(b'}');
        Some(())
    }
}

/// Bytes of JSON reserved per node written: a user's id, email, name and external id.
const NODE_TEXT_GUESS: usize = 160;

/// Most bytes reserved for a list's nodes at once from the length of its first.
const LIST_TEXT_RESERVE: usize = 1 << 20;

/// A list of JSON fragments (`Value::Binary`), one per node, written by `write` (given the
/// node's index) into one buffer they share; `None` as soon as one node is not written.
fn fragments<T>(
    nodes: &[T],
    mut write: impl FnMut(usize, &T, &mut Vec<u8>) -> Option<()>,
) -> Option<Value> {
    let mut text = Vec::with_capacity(nodes.len().saturating_mul(NODE_TEXT_GUESS));
    let mut ends = Vec::with_capacity(nodes.len());
    for (index, node) in nodes.iter().enumerate() {
        write(index, node, &mut text)?;
        ends.push(text.len());
        // Nodes of one list are alike: room for the rest as long as the first (up to a
        // bound), so a list of long nodes (customers with their users) is not copied each
        // time it doubles.
        if index == 0 {
            let rest = text.len().saturating_mul(nodes.len() - 1);
            text.reserve(rest.min(LIST_TEXT_RESERVE));
        }
    }
    let text = Bytes::from(text);
    let mut start = 0;
    let items = ends
        .into_iter()
        .map(|end| {
            let fragment = text.slice(start..end);
            start = end;
            Value::Binary(fragment)
        })
        .collect();
    Some(Value::List(items))
}

/// The list of `nodes` as the flat path answers the selection at `ctx` (the nodes' own
/// fields), or `None` when part of it needs the resolvers. An empty list is `[]` whatever
/// the selection, as async-graphql answers it.
fn flat_nodes<T: FlatNode>(
    ctx: &ContextSelectionSet<'_>,
    nodes: &[T],
    nested: Option<&dyn FlatNested>,
) -> Option<Value> {
    if nodes.is_empty() {
        return Some(Value::List(Vec::new()));
    }
    let selection = flat_selection(ctx, nested)?;
    let shape = ObjectShape::new(selection.iter().map(Item::key));
    let output = Output::of(ctx);
    if output == Output::Json {
        let counts = selection.iter().map(Item::shape_counts).sum();
        if counts == 0 {
            return fragments(nodes, |_, node, out| {
                shape.write(out, |at, out| {
                    write_leaf(node, selection.get(at)?.plain()?, out)
                })
            });
        }
        // Nodes with nested connections: each written whole, its shape first, so no value
        // is built for it (a page's fifty customers and their users' connections).
        let nested = nested?;
        let mut shape_counts = Vec::with_capacity(counts);
        return fragments(nodes, |index, node, out| {
            let start = json::begin_shape(out, counts)?;
            shape_counts.clear();
            // `ObjectShape::write` visits each key once, at its first place; a nested
            // connection's key is selected once (`flat_selection`), so the counts come in
            // the document's order, as the actual-cost walk takes them.
            shape.write(out, |at, out| match selection.get(at)? {
                Item::Plain(_, name) => write_leaf(node, name, out),
                Item::Nested(_, listing, plan) => {
                    shape_counts.push(1);
                    nested.write(*listing, index, plan, out, &mut shape_counts)
                }
            })?;
            json::end_shape(out, start, &shape_counts)
        });
    }
    nodes
        .iter()
        .enumerate()
        .map(|(index, node)| flat_object(node, index, &selection, &shape, nested, output))
        .collect::<Option<Vec<Value>>>()
        .map(Value::List)
}

/// One node as the object its selected fields make, or `None` when one of them is not flat;
/// its nested connections' nodes handed over as `output`.
fn flat_object<T: FlatNode>(
    node: &T,
    index: usize,
    selection: &[Item<'_>],
    shape: &ObjectShape,
    nested: Option<&dyn FlatNested>,
    output: Output,
) -> Option<Value> {
    shape.object(|at| match selection.get(at)? {
        Item::Plain(_, name) => leaf_value(node, name),
        Item::Nested(_, listing, plan) => nested?.value(*listing, index, plan, output),
    })
}

/// One node with plain leaf fields only.
fn leaf_object<T: FlatNode>(
    node: &T,
    fields: &[(Name, String)],
    shape: &ObjectShape,
) -> Option<Value> {
    shape.object(|at| leaf_value(node, &fields.get(at)?.1))
}

/// A plain field's value: `__typename` or what the type answers flat.
fn leaf_value<T: FlatNode>(node: &T, name: &str) -> Option<Value> {
    match name {
        "__typename" => Some(Value::String(node.flat_type_name().into_owned())),
        name => node.flat_node_field(name),
    }
}

/// Writes a plain field's value as JSON, as `json::write_value` writes [`leaf_value`]'s.
fn write_leaf<T: FlatNode>(node: &T, name: &str, out: &mut Vec<u8>) -> Option<()> {
    match name {
        "__typename" => json::write_str(out, &node.flat_type_name()).ok(),
        name => node.write_flat_field(name, out),
    }
}

/// A text field's value.
pub(crate) fn text(text: &str) -> Value {
    Value::String(text.to_owned())
}

/// A nullable text field's value.
pub(crate) fn optional_text(text: Option<&str>) -> Value {
    text.map_or(Value::Null, self::text)
}

/// A scalar field's value (times, numbers, flags), as the scalar's own output type writes it.
pub(crate) fn scalar<S: ScalarType>(value: &S) -> Value {
    value.to_value()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_graphql::{Context, EmptyMutation, EmptySubscription, Object, Schema, Value};
    use domain::{
        CustomerDraft, CustomerSummary, NewCustomer, NewUser, OrganizationId, Role, RoleKind,
        UserDraft, UserSummary,
    };
    use futures::future::BoxFuture;

    use super::super::{Connection, Cursor};
    use super::{ConnectionPlan, FlatConnection, FlatFields, FlatNested, FlatNode, Nodes, Output};
    use crate::schema::customer::{CustomerNode, CustomerSummaryNode};
    use crate::schema::user::{SUMMARY_FIELDS, UserNode, UserSummaryNode};

    /// Fields that depend on the caller, so they always take their resolvers.
    const CALLER_FIELDS: [&str; 4] = [
        "allowUpdate",
        "allowRemove",
        "allowAddUser",
        "allowChangeRoles",
    ];

    /// Every argument-free scalar or enum field of `type_name` that depends on the node alone.
    async fn plain_fields(type_name: &str) -> Vec<String> {
        let query = format!(
            r#"{{ __type(name: "{type_name}") {{ fields {{ name args {{ name }}
                type {{ kind ofType {{ kind ofType {{ kind ofType {{ kind }} }} }} }} }} }} }}"#
        );
        let response = crate::schema::builder(1).finish().execute(query).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        let data = response.data.into_json().expect("json");
        let innermost = |mut kind: &serde_json::Value| {
            while matches!(kind["kind"].as_str(), Some("NON_NULL" | "LIST")) {
                kind = &kind["ofType"];
            }
            kind["kind"].as_str().expect("kind").to_owned()
        };
        data["__type"]["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .filter(|field| field["args"].as_array().is_some_and(Vec::is_empty))
            .filter(|field| matches!(innermost(&field["type"]).as_str(), "SCALAR" | "ENUM"))
            .filter_map(|field| field["name"].as_str().map(str::to_owned))
            .filter(|name| !CALLER_FIELDS.contains(&name.as_str()))
            .collect()
    }

    /// Each of `fields` the node does not answer flat (a new plain field left out of
    /// `flat_field` would send every page that selects it through the slow path).
    fn not_flat(node: &impl FlatFields, fields: &[String]) -> Vec<String> {
        fields
            .iter()
            .filter(|name| node.flat_field(name).is_none())
            .cloned()
            .collect()
    }

    /// A node type with one plain field and a nested connection, for the planner's tests.
    #[derive(Clone)]
    struct Leaf(i32);

    #[Object]
    impl Leaf {
        async fn n(&self) -> i32 {
            self.0
        }
    }

    impl FlatFields for Leaf {
        fn flat_field(&self, name: &str) -> Option<Value> {
            (name == "n").then(|| Value::from(self.0))
        }
    }

    /// Branch `i` has leaves `0..i`.
    #[derive(Clone)]
    struct Branch(i32);

    #[Object]
    impl Branch {
        async fn n(&self) -> i32 {
            self.0
        }

        async fn leaves(&self, first: Option<i32>) -> Connection<Leaf> {
            leaves(self.0, first)
        }
    }

    impl FlatFields for Branch {
        fn flat_field(&self, name: &str) -> Option<Value> {
            (name == "n").then(|| Value::from(self.0))
        }
    }

    /// The first `first` leaves of branch `branch`, counted, with cursors.
    fn leaves(branch: i32, first: Option<i32>) -> Connection<Leaf> {
        let all: Vec<Leaf> = (0..branch).map(Leaf).collect();
        let kept = first.map_or(all.len(), |first| usize::try_from(first).unwrap_or(0));
        let kept = kept.min(all.len());
        Connection {
            nodes: Nodes::plain(all[..kept].to_vec()),
            cursors: (0..kept).map(|at| Cursor::Text(format!("c{at}"))).collect(),
            has_next_page: kept < all.len(),
            has_previous_page: false,
            total: u64::try_from(all.len()).ok(),
        }
    }

    /// How often the flat path and the resolvers used what was loaded ahead.
    #[derive(Default)]
    struct Uses {
        flat: AtomicUsize,
        fed: AtomicUsize,
    }

    /// The branches' leaves loaded ahead, for `leaves(first: <first>)` only.
    struct Loaded {
        first: Option<i32>,
        pages: Vec<Connection<Leaf>>,
        uses: Arc<Uses>,
    }

    impl FlatNested for Loaded {
        fn listing(&self, ctx: &Context<'_>) -> Option<usize> {
            let first = ctx.param_value::<Option<i32>>("first", None).ok()?.1;
            (ctx.item.node.name.node == "leaves" && first == self.first).then_some(0)
        }

        fn value(
            &self,
            _: usize,
            index: usize,
            plan: &ConnectionPlan,
            output: Output,
        ) -> Option<Value> {
            self.uses.flat.fetch_add(1, Ordering::SeqCst);
            self.pages.get(index)?.flat_value(plan, output)
        }

        fn write(
            &self,
            _: usize,
            index: usize,
            plan: &ConnectionPlan,
            out: &mut Vec<u8>,
            counts: &mut Vec<u32>,
        ) -> Option<()> {
            self.uses.flat.fetch_add(1, Ordering::SeqCst);
            self.pages.get(index)?.write_flat(plan, out, counts)
        }

        fn before_resolvers<'a>(&'a self, _: &'a Context<'a>) -> BoxFuture<'a, ()> {
            self.uses.fed.fetch_add(1, Ordering::SeqCst);
            Box::pin(async {})
        }
    }

    struct Root {
        uses: Arc<Uses>,
    }

    #[Object]
    impl Root {
        /// Branch 2, one object.
        async fn branch(&self) -> Option<super::Flat<Branch>> {
            Some(super::Flat(Branch(2)))
        }

        /// Three branches, their `leaves(first: 1)` loaded ahead.
        async fn branches(&self) -> Connection<Branch> {
            let branches: Vec<Branch> = (0..3).map(Branch).collect();
            let pages = branches
                .iter()
                .map(|branch| leaves(branch.0, Some(1)))
                .collect();
            let cursors = (0..branches.len()).map(|at| format!("b{at}")).collect();
            Connection::with_cursors(branches, cursors, false, false).with_nested(Box::new(
                Loaded {
                    first: Some(1),
                    pages,
                    uses: self.uses.clone(),
                },
            ))
        }
    }

    /// The answer to `query` as text (keys in order), and how often each path ran.
    async fn run(query: &str) -> (String, usize, usize) {
        let uses = Arc::new(Uses::default());
        let schema = Schema::new(
            Root { uses: uses.clone() },
            EmptyMutation,
            EmptySubscription,
        );
        let response = schema.execute(query).await;
        let text = serde_json::to_string(&response).expect("json");
        (
            text,
            uses.flat.load(Ordering::SeqCst),
            uses.fed.load(Ordering::SeqCst),
        )
    }

    #[tokio::test]
    async fn nested_connections_loaded_ahead_are_answered_flat_when_plain() {
        let flat = [
            "leaves(first: 1) { nodes { n } }",
            "leaves(first: 1) { __typename totalCount nodes { n m: n __typename } \
             pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor } }",
            "l: leaves(first: 1) { t: totalCount p: pageInfo { e: endCursor } }",
            // A key selected twice keeps its first place.
            "leaves(first: 1) { nodes { n m: n n } }",
            // `@include` and `@skip` are applied before execution: no directive is left.
            "leaves(first: 1) { totalCount @include(if: true) n: totalCount @skip(if: true) }",
            "leaves(first: 1) @skip(if: false) { nodes { n } }",
        ];
        let resolved = [
            // Arguments other than those loaded ahead.
            "leaves(first: 2) { nodes { n } }",
            "leaves { nodes { n } }",
            // What the flat path does not answer.
            "leaves(first: 1) { edges { node { n } cursor } }",
            "leaves(first: 1) { ... on LeafConnection { totalCount } }",
            "leaves(first: 1) { nodes { ... on Leaf { n } } }",
            "leaves(first: 1) { pageInfo { hasNextPage } pageInfo { endCursor } }",
            "leaves(first: 1) { nodes { n } } leaves(first: 1) { totalCount }",
        ];
        for (selection, answered_flat) in flat
            .iter()
            .map(|selection| (selection, true))
            .chain(resolved.iter().map(|selection| (selection, false)))
        {
            let (answer, flat_uses, fed) =
                run(&format!("{{ branches {{ nodes {{ n {selection} }} }} }}")).await;
            // A fragment sends every node through the resolvers, the answer's shape unchanged.
            let (through_resolvers, flat_uses_then, fed_then) = run(&format!(
                "{{ branches {{ nodes {{ ... {{ n }} {selection} }} }} }}"
            ))
            .await;
            assert_eq!((flat_uses_then, fed_then), (0, 1), "{selection}");
            assert!(!answer.contains("errors"), "{answer}");
            assert_eq!(answer, through_resolvers, "{selection}");
            if answered_flat {
                assert_eq!((flat_uses, fed), (3, 0), "{selection}");
            } else {
                assert_eq!((flat_uses, fed), (0, 1), "{selection}");
            }
        }
        // Through `edges`, the resolvers answer, and find what was loaded ahead.
        let (_, flat_uses, fed) =
            run("{ branches { edges { node { leaves(first: 1) { totalCount } } } } }").await;
        assert_eq!((flat_uses, fed), (0, 1));
    }

    /// The answer to `query`, as `json::response_json` writes it, with the request marked
    /// for JSON fragments or not, its actual cost, and how many fragments its data holds.
    async fn written(query: &str, fragments: bool) -> (String, u64, usize) {
        fn count(value: &Value) -> usize {
            match value {
                Value::Binary(_) => 1,
                Value::List(items) => items.iter().map(count).sum(),
                Value::Object(fields) => fields.values().map(count).sum(),
                _ => 0,
            }
        }
        let schema = Schema::new(
            Root {
                uses: Arc::default(),
            },
            EmptyMutation,
            EmptySubscription,
        );
        let mut request = async_graphql::Request::new(query);
        if fragments {
            request = request.data(crate::json::Fragments);
        }
        let response = schema.execute(request).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        let document = async_graphql::parser::parse_query(query).expect("document");
        let cost = crate::limits::cost::actual_cost(
            &document,
            None,
            &async_graphql::Variables::default(),
            &response.data,
        );
        let text = crate::json::response_json(&response, "cost", &(), 64).expect("text");
        let text = String::from_utf8(text).expect("UTF-8");
        (text, cost, count(&response.data))
    }

    #[tokio::test]
    async fn nodes_written_as_json_answer_as_values_do_at_the_same_cost() {
        let cases = [
            ("{ branches { nodes { n m: n __typename n } } }", 3),
            // Each branch written whole, its leaves' connection in it (branch 0 has none).
            (
                "{ branches { nodes { n leaves(first: 1) { totalCount nodes { n __typename m: n } } } } }",
                3,
            ),
            (
                "{ branches { nodes { leaves(first: 1) { nodes { n } } } } }",
                3,
            ),
            (
                "{ branches { nodes { k: n l: leaves(first: 1) { pageInfo { hasNextPage endCursor } \
                 __typename nodes { n } totalCount } n k: n } } }",
                3,
            ),
            // Without `Fragments`, or with nothing plain to write, values all the same.
            ("{ branches { pageInfo { hasNextPage } } }", 0),
            // One object, and one the resolvers answer (a nested connection).
            ("{ branch { n __typename m: n } b: branch { n } }", 2),
            ("{ branch { n leaves { totalCount } } }", 0),
        ];
        // One object of more fields than are written without a shape, a key repeated.
        let long: Vec<String> = (0..super::SHORT_SELECTION + 2)
            .map(|at| format!("a{at}: n"))
            .collect();
        let long = format!("{{ branch {{ {} a0: n __typename }} }}", long.join(" "));
        let cases = cases
            .into_iter()
            .map(|(query, n)| (query.to_owned(), n))
            .chain([(long, 1)]);
        for (query, written_nodes) in cases {
            let query = query.as_str();
            let (values, values_cost, none) = written(query, false).await;
            let (json, json_cost, fragments) = written(query, true).await;
            assert_eq!(json, values, "{query}");
            assert_eq!(json_cost, values_cost, "{query}");
            assert_eq!((none, fragments), (0, written_nodes), "{query}");
        }
    }

    /// A node that writes its fields itself writes the text of the values it answers.
    fn assert_writes_its_values(node: &impl FlatNode, fields: &[&str]) {
        for field in fields.iter().chain(&["unknown"]) {
            let mut written = b"[".to_vec();
            let wrote = node.write_flat_field(field, &mut written);
            let mut expected = b"[".to_vec();
            if let Some(value) = node.flat_node_field(field) {
                crate::json::write_value(&mut expected, &value).expect("json");
            }
            assert_eq!(
                wrote.is_some(),
                node.flat_node_field(field).is_some(),
                "{field}"
            );
            assert_eq!(
                String::from_utf8(written),
                String::from_utf8(expected),
                "{field}"
            );
        }
    }

    #[test]
    fn user_summaries_write_the_values_they_answer() {
        let organization = OrganizationId::from_uuid(uuid::Uuid::from_u128(1));
        let role = Role::generate(RoleKind::CustomerMember);
        for (name, external_id) in [("Ada \"Countess\" \\ L", Some("ext\"1\\")), ("Ada", None)] {
            let user = NewUser::parse(UserDraft {
                email: "ada@example.com".into(),
                name: Some(name.into()),
                external_id: external_id.map(Into::into),
                role: Ok(role.id),
                ..UserDraft::default()
            })
            .expect("user")
            .into_user(organization, None, role, domain::now());
            let summary = UserSummaryNode(UserSummary::from(user));
            assert_writes_its_values(&summary, &SUMMARY_FIELDS);
        }
    }

    #[test]
    fn customer_summaries_write_the_values_they_answer() {
        let organization = OrganizationId::from_uuid(uuid::Uuid::from_u128(1));
        for external_id in [Some("ext\"1\\"), None] {
            let customer = NewCustomer::parse(CustomerDraft {
                name: "Acme \"Holdings\" \\ Ltd".into(),
                external_id: external_id.map(Into::into),
                ..CustomerDraft::default()
            })
            .expect("customer")
            .into_customer(organization, domain::now());
            let summary = CustomerSummaryNode(CustomerSummary::from(customer));
            assert_writes_its_values(&summary, &["id", "name", "externalId"]);
        }
    }

    #[tokio::test]
    async fn every_plain_field_of_customers_and_users_is_answered_flat() {
        let organization = OrganizationId::from_uuid(uuid::Uuid::from_u128(1));
        let customer = NewCustomer::parse(CustomerDraft {
            name: "Acme".into(),
            ..CustomerDraft::default()
        })
        .expect("customer")
        .into_customer(organization, domain::now());
        let role = Role::generate(RoleKind::CustomerMember);
        let user = NewUser::parse(UserDraft {
            email: "ada@example.com".into(),
            role: Ok(role.id),
            ..UserDraft::default()
        })
        .expect("user")
        .into_user(organization, Some(customer.id), role, domain::now());

        let customer_fields = plain_fields("Customer").await;
        let user_fields = plain_fields("User").await;
        assert!(customer_fields.len() > 10 && user_fields.len() > 10);
        let user = UserNode(user);
        assert_eq!(
            not_flat(&CustomerNode(customer), &customer_fields),
            Vec::<String>::new()
        );
        assert_eq!(not_flat(&user, &user_fields), Vec::<String>::new());
        // A field that needs the caller is never answered flat.
        assert_eq!(user.flat_field("allowUpdate"), None::<Value>);

        // A summary answers its fields as the whole user does, and no other.
        let summary = UserSummaryNode(UserSummary::from(user.0.clone()));
        assert_eq!(summary.flat_type_name(), user.flat_type_name());
        for field in &user_fields {
            let expected = SUMMARY_FIELDS
                .contains(&field.as_str())
                .then(|| user.flat_field(field))
                .flatten();
            assert_eq!(summary.flat_node_field(field), expected, "{field}");
        }
        assert!(
            SUMMARY_FIELDS
                .iter()
                .all(|f| user_fields.contains(&(*f).to_owned()))
        );
    }
}
