//! Relay connections (`nodes`, `edges`, `pageInfo`, `totalCount`), their arguments and cursors:
//! the connection types here, what a document selects of them in `look_ahead`, and the
//! checking and in-memory paging of their arguments in `paging`, and the flat resolution of
//! a page's nodes in `flat`.

mod flat;
mod look_ahead;
mod paging;

use std::borrow::Cow;

use async_graphql::{
    ComplexObject, Context, ContextSelectionSet, OutputType, Result, SimpleObject, TypeName, Value,
};
use domain::listing::{CursorKey, Page};

pub(crate) use flat::{
    ConnectionPlan, Flat, FlatConnection, FlatFields, FlatNested, FlatNode, Leaf, Output,
    SHORT_SELECTION, flat_node, nodes_answer_flat, nodes_answer_flat_by, object_answers_flat_by,
    optional_text, plain_object_json, scalar, text,
};
pub(crate) use look_ahead::{counts_total, int_argument, text_argument};
pub(crate) use paging::{OrderDirection, check_cursors, page_in_memory, page_request};

use super::error::ApiError;
use flat::{ConnectionParts, Nodes};

/// Where a page sits in the whole listing.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct PageInfo {
    has_next_page: bool,
    has_previous_page: bool,
    start_cursor: Option<String>,
    end_cursor: Option<String>,
}

/// One row of a page and the cursor that points at it (`CustomerEdge`, `UserEdge`...).
#[derive(Clone, SimpleObject)]
#[graphql(name_type)]
pub(crate) struct Edge<T: OutputType> {
    node: T,
    cursor: String,
}

/// One page of a listing (`CustomerConnection`, `UserConnection`...), with its total count.
//
// The nodes are held once; `edges` (a clone of each node and its encoded cursor) and the
// page's cursors are made only when the document selects them, so a page read through
// `nodes` encodes no cursor and clones no node.
#[derive(SimpleObject)]
#[graphql(name_type, complex)]
pub(crate) struct Connection<T: FlatFields + Clone> {
    // The page's nodes, in order (undocumented in the schema, as the contract has it).
    nodes: Nodes<T>,
    /// Where each node sits, in the order of `nodes`.
    #[graphql(skip)]
    cursors: Vec<Cursor>,
    #[graphql(skip)]
    has_next_page: bool,
    #[graphql(skip)]
    has_previous_page: bool,
    /// The total when it was counted: only when the document selects `totalCount`.
    #[graphql(skip)]
    total: Option<u64>,
}

/// A node's cursor, encoded only when asked for.
enum Cursor {
    /// A stored listing's key.
    Key(CursorKey),
    /// Already text (short in-memory lists).
    Text(String),
}

impl Cursor {
    fn encode(&self) -> String {
        match self {
            Cursor::Key(key) => wire::cursor::encode_key(key),
            Cursor::Text(text) => text.clone(),
        }
    }
}

#[ComplexObject]
impl<T: FlatFields + Clone> Connection<T> {
    // The page's nodes, each with its cursor.
    async fn edges(&self, ctx: &Context<'_>) -> Vec<Edge<T>> {
        // The nodes' resolvers answer here: they find what was loaded ahead for them.
        self.nodes.before_resolvers(ctx).await;
        self.nodes
            .nodes
            .iter()
            .zip(&self.cursors)
            .map(|(node, cursor)| Edge {
                node: node.clone(),
                cursor: cursor.encode(),
            })
            .collect()
    }

    // Where the page sits in the whole listing.
    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
            start_cursor: self.cursors.first().map(Cursor::encode),
            end_cursor: self.cursors.last().map(Cursor::encode),
        }
    }

    /// How many rows match over all pages.
    async fn total_count(&self) -> Result<i32> {
        // The listing counts whenever the selection holds `totalCount` (`counts_total`);
        // a total missing here is a wiring bug, not the client's.
        let total = self.total.ok_or(ApiError::Internal)?;
        Ok(i32::try_from(total).unwrap_or(i32::MAX))
    }
}
impl<T: OutputType> TypeName for Edge<T> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Edge", T::type_name()).into()
    }
}

impl<T: FlatFields + Clone> TypeName for Connection<T> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Connection", T::type_name()).into()
    }
}

impl<T: FlatFields + Clone> Connection<T> {
    /// The connection for a directory page, each node wrapped by `wrap`.
    pub(crate) fn from_page<U>(page: Page<U>, mut wrap: impl FnMut(U) -> T) -> Self {
        let (nodes, cursors) = page
            .edges
            .into_iter()
            .map(|edge| (wrap(edge.node), Cursor::Key(edge.cursor)))
            .unzip();
        Connection {
            nodes: Nodes::plain(nodes),
            cursors,
            has_next_page: page.has_next_page,
            has_previous_page: page.has_previous_page,
            total: page.total_count,
        }
    }

    /// A page whose cursors are already text (one per node, in order), never counted.
    pub(crate) fn with_cursors(
        nodes: Vec<T>,
        cursors: Vec<String>,
        has_next_page: bool,
        has_previous_page: bool,
    ) -> Self {
        Connection {
            nodes: Nodes::plain(nodes),
            cursors: cursors.into_iter().map(Cursor::Text).collect(),
            has_next_page,
            has_previous_page,
            total: None,
        }
    }

    /// A connection holding a whole short list in one page; each edge's cursor is `cursor`
    /// of its node (such lists take no paging arguments).
    pub(crate) fn complete(nodes: Vec<T>, cursor: impl Fn(&T) -> String) -> Self {
        Connection {
            cursors: nodes
                .iter()
                .map(|node| Cursor::Text(cursor(node)))
                .collect(),
            has_next_page: false,
            has_previous_page: false,
            total: u64::try_from(nodes.len()).ok(),
            nodes: Nodes::plain(nodes),
        }
    }

    /// The connection with what its listing loaded ahead for its nodes' nested connections,
    /// for the flat path (and, when resolvers answer instead, for them).
    pub(crate) fn with_nested(mut self, nested: Box<dyn FlatNested>) -> Self {
        self.nodes.nested = Some(nested);
        self
    }

    /// The page back as the directory gave it (its nodes unwrapped by `unwrap`), for the
    /// DataLoader's cache; `None` when its cursors are not keys (it was not a listing's).
    pub(crate) fn to_page<U>(&self, unwrap: impl Fn(&T) -> U) -> Option<Page<U>> {
        let edges = self
            .nodes
            .nodes
            .iter()
            .zip(&self.cursors)
            .map(|(node, cursor)| match cursor {
                Cursor::Key(key) => Some(domain::listing::Edge {
                    node: unwrap(node),
                    cursor: key.clone(),
                }),
                Cursor::Text(_) => None,
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Page {
            edges,
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
            total_count: self.total,
        })
    }
}

impl<T: FlatFields + Clone> FlatConnection for Connection<T> {
    type Node = T;

    fn with_parts<R>(&self, answer: impl FnOnce(&ConnectionParts<'_, T>) -> R) -> R {
        answer(&ConnectionParts {
            type_name: &<Self as TypeName>::type_name,
            nodes: &self.nodes.nodes,
            total: self.total,
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
            start_cursor: &|| self.cursors.first().map(Cursor::encode),
            end_cursor: &|| self.cursors.last().map(Cursor::encode),
        })
    }
}

/// A listing's page kept only for the flat path, never resolved by async-graphql: its nodes
/// are values without a schema type of their own (user summaries), answered as connection
/// `C` answers them.
pub(crate) struct FlatPage<T> {
    nodes: Vec<T>,
    cursors: Vec<CursorKey>,
    has_next_page: bool,
    has_previous_page: bool,
    total: Option<u64>,
    /// The connection type's name (`UserConnection`), for `__typename`.
    type_name: fn() -> Cow<'static, str>,
}

impl<T: FlatNode> FlatPage<T> {
    /// The page as connection `C` would hold it, each node wrapped by `wrap`.
    pub(crate) fn from_page<C: TypeName, U>(page: Page<U>, mut wrap: impl FnMut(U) -> T) -> Self {
        let (nodes, cursors) = page
            .edges
            .into_iter()
            .map(|edge| (wrap(edge.node), edge.cursor))
            .unzip();
        FlatPage {
            nodes,
            cursors,
            has_next_page: page.has_next_page,
            has_previous_page: page.has_previous_page,
            total: page.total_count,
            type_name: C::type_name,
        }
    }

    /// The value of the connection field whose selection is at `ctx`, built flat with the
    /// nodes' nested connections `nested` loaded ahead (see [`flat::connection_value`]);
    /// `None` when part of the selection needs the resolvers.
    pub(crate) fn connection_value(
        &self,
        ctx: &ContextSelectionSet<'_>,
        nested: Option<&dyn FlatNested>,
    ) -> Option<Value> {
        self.with_parts(|parts| flat::connection_value(ctx, parts, nested))
    }
}

impl<T: FlatNode> FlatConnection for FlatPage<T> {
    type Node = T;

    fn with_parts<R>(&self, answer: impl FnOnce(&ConnectionParts<'_, T>) -> R) -> R {
        answer(&ConnectionParts {
            type_name: &self.type_name,
            nodes: &self.nodes,
            total: self.total,
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
            start_cursor: &|| self.cursors.first().map(wire::cursor::encode_key),
            end_cursor: &|| self.cursors.last().map(wire::cursor::encode_key),
        })
    }
}
