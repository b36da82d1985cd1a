//! A page's `nodes` answered without a future per field when the document selects only plain
//! scalar fields of them, as list pages mostly do (`nodes { id email name externalId }`).
//!
//! async-graphql resolves each object of a list as a set of boxed futures, one per selected
//! field, polled together; for a page of 50 customers with 5 users each that is over a
//! thousand futures, most of them returning a string the node already holds, and it was most
//! of the page's CPU. [`Nodes`] looks at the selection once per list: when every selection is
//! a field without arguments, directives or sub-selection that the node type answers in
//! [`FlatFields::flat_field`] (or `__typename`), it builds the objects directly; anything else
//! (fragments, `@include`, a nested object, an unknown field) goes through async-graphql's
//! own list resolution, unchanged.

use std::borrow::Cow;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection};
use async_graphql::registry::Registry;
use async_graphql::{
    ContextSelectionSet, Name, OutputType, Positioned, ScalarType, ServerResult, Value,
};

/// A GraphQL object whose plain scalar fields can be read without running its resolvers.
pub(crate) trait FlatFields: OutputType {
    /// The value of the argument-free scalar field `name`, exactly as its resolver answers,
    /// or `None` when the field needs its resolver (objects, arguments, the context).
    fn flat_field(&self, name: &str) -> Option<Value>;
}

/// A page's nodes: in the schema exactly `[T!]!`, resolved flat when the selection allows.
pub(crate) struct Nodes<T>(pub(crate) Vec<T>);

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
        if let Some(selection) = flat_selection(ctx) {
            let objects: Option<Vec<Value>> = self
                .0
                .iter()
                .map(|node| flat_object(node, &selection))
                .collect();
            // `None`: a selected field the type does not answer flat.
            if let Some(objects) = objects {
                return Ok(Value::List(objects));
            }
        }
        <Vec<T> as OutputType>::resolve(&self.0, ctx, field).await
    }
}

/// Each selected field as (response key, field name), when the selection holds only plain
/// fields: no fragment, directive, argument or sub-selection.
fn flat_selection<'a>(ctx: &ContextSelectionSet<'a>) -> Option<Vec<(Name, &'a str)>> {
    ctx.item
        .node
        .items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(field) => {
                let field = &field.node;
                let plain = field.arguments.is_empty()
                    && field.directives.is_empty()
                    && field.selection_set.node.items.is_empty();
                plain.then(|| (field.response_key().node.clone(), field.name.node.as_str()))
            }
            Selection::FragmentSpread(_) | Selection::InlineFragment(_) => None,
        })
        .collect()
}

/// One node as the object its selected fields make, or `None` when one of them is not flat.
fn flat_object<T: FlatFields>(node: &T, selection: &[(Name, &str)]) -> Option<Value> {
    let mut object = IndexMap::with_capacity(selection.len());
    for (key, name) in selection {
        let value = match *name {
            "__typename" => Value::String(node.introspection_type_name().into_owned()),
            name => node.flat_field(name)?,
        };
        // A key selected twice keeps its first place, as async-graphql's own merge does.
        object.insert(key.clone(), value);
    }
    Some(Value::Object(object))
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
    use async_graphql::Value;
    use domain::{CustomerDraft, NewCustomer, NewUser, OrganizationId, Role, RoleKind, UserDraft};

    use super::FlatFields;
    use crate::schema::customer::CustomerNode;
    use crate::schema::user::UserNode;

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
    }
}
