//! `customer(id)` answered without async-graphql's executor, for documents it has validated.
//!
//! A lookup of a customer's plain fields is among the requests integrations send most, and
//! for it the executor cost more than the statement: preparing the request and its data, the fast
//! validation pass, the root's field futures, about a fifth of the request's instructions.
//! When an operation is nothing but one `customer(id:)` selecting fields a customer's summary
//! answers (`id`, `name`, `externalId`, `__typename`, aliased or repeated; no fragment or
//! directive anywhere), [`Lookup::answer`] makes the resolver's one directory call itself and
//! answers as the resolver would: the same JSON object ([`plain_object_json`], which the
//! resolver's flat path writes too), or `null` with the same error at the same path.
//!
//! The router takes this path only for a document and operation that passed async-graphql's
//! strict validation before, with variables that cannot change that verdict
//! ([`crate::validation`]): what is answered here is always a valid request. Anything else,
//! an `id` given as a number included, runs on the executor as before.

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::{Name, PathSegment, Pos, Response, Value, Variables};
use domain::{Actor, CustomerId};
use wire::Global as _;

use super::connection::{SHORT_SELECTION, object_answers_flat_by, plain_object_json};
use super::customer::{CustomerSummaryNode, is_summary_field};
use super::error::ApiError;
use crate::Services;

/// An operation answered without the executor: one `customer(id)` of plain summary fields.
#[derive(Debug)]
pub(crate) struct Lookup<'a> {
    /// The field's response key (its alias, or `customer`).
    key: &'a Name,
    /// Where the field is in the document, for an error's `locations`.
    pos: Pos,
    /// The `id` argument's value, variables filled in.
    id: String,
    /// What the field selects of the customer.
    selection: &'a SelectionSet,
}

/// The lookup `operation_name` of `document` is, with `variables`, if it is one (see the
/// module docs); `None` sends the request to the executor.
pub(crate) fn lookup<'a>(
    document: &'a ExecutableDocument,
    operation_name: Option<&str>,
    variables: &'a Variables,
) -> Option<Lookup<'a>> {
    // The operation async-graphql runs; a name given for a lone anonymous operation is an
    // error there, left to it.
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), None) => operation,
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name)?,
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next()?
        }
        _ => return None,
    };
    let OperationDefinition {
        ty: OperationType::Query,
        directives,
        selection_set,
        ..
    } = &operation.node
    else {
        return None;
    };
    let [root] = selection_set.node.items.as_slice() else {
        return None;
    };
    let Selection::Field(field) = &root.node else {
        return None;
    };
    if !directives.is_empty() || !field.node.directives.is_empty() {
        return None;
    }
    let Field {
        name,
        arguments,
        selection_set: selection,
        ..
    } = &field.node;
    let [(argument, value)] = arguments.as_slice() else {
        return None;
    };
    if name.node != "customer" || argument.node != "id" || selection.node.items.is_empty() {
        return None;
    }
    // What `plain_object_json` writes, checked before the directory is asked.
    if selection.node.items.len() > SHORT_SELECTION
        || !object_answers_flat_by(&field.node, is_summary_field)
    {
        return None;
    }
    // A literal, or the variable's value (a missing one fails here too).
    let id = value
        .node
        .clone()
        .into_const_with(|variable| variables.get(&variable).cloned().ok_or(()));
    let Ok(Value::String(id)) = id else {
        return None;
    };
    Some(Lookup {
        key: &field.node.response_key().node,
        pos: field.pos,
        id,
        selection: &selection.node,
    })
}

impl Lookup<'_> {
    /// Answers the lookup for `actor`, as the executor would; `None` (never expected: the
    /// selection was checked) when the answer cannot be written here after all, and the
    /// executor must run the request.
    pub(crate) async fn answer(&self, services: &Services, actor: &Actor) -> Option<Response> {
        let found = async {
            let id = CustomerId::parse_global(&self.id)?;
            Ok::<_, ApiError>(services.customers.customer_summary(actor, id).await?)
        };
        let (value, error) = match found.await {
            Ok(summary) => (
                plain_object_json(&CustomerSummaryNode(summary), self.selection)?,
                None,
            ),
            Err(error) => {
                // As `or_null` reports it: at the field's place and path.
                let mut error = async_graphql::Error::from(error).into_server_error(self.pos);
                error.path = vec![PathSegment::Field(self.key.to_string())];
                (Value::Null, Some(error))
            }
        };
        let data = Value::Object([(self.key.clone(), value)].into_iter().collect());
        let mut response = Response::new(data);
        response.errors = error.into_iter().collect();
        Some(response)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_graphql::parser::parse_query;
    use async_graphql::{ValidationMode, Variables};
    use domain::events::{ActorKind, Origin, RequestMeta};
    use domain::{Customer, CustomerDraft, NewCustomer, OrganizationId, RoleKind, UserId};
    use ports::DirectoryError;
    use ports::directory::MockCustomerDirectory;

    use super::*;

    fn variables(id: &str) -> Variables {
        Variables::from_json(serde_json::json!({ "id": id }))
    }

    fn is_lookup(document: &str, operation_name: Option<&str>) -> bool {
        let document = parse_query(document).expect("parses");
        lookup(&document, operation_name, &variables("x")).is_some()
    }

    #[test]
    fn only_a_lone_customer_lookup_of_summary_fields_is_taken() {
        for document in [
            "query ($id: ID!) { customer(id: $id) { id name externalId } }",
            "query Q($id: ID!) { c: customer(id: $id) { __typename id n: name id } }",
            r#"{ customer(id: "Q3VzdG9tZXI6eA==") { externalId } }"#,
        ] {
            assert!(is_lookup(document, None), "{document}");
        }
        assert!(is_lookup(
            "query A($id: ID!) { customer(id: $id) { id } } query B { viewer { id } }",
            Some("A")
        ));
        for (document, operation_name) in [
            // Another field, a fragment, a directive, a second root field.
            (
                "query ($id: ID!) { customer(id: $id) { id description } }",
                None,
            ),
            (
                "query ($id: ID!) { customer(id: $id) { ... on Customer { id } } }",
                None,
            ),
            (
                "query ($id: ID!) { customer(id: $id) { id @skip(if: false) } }",
                None,
            ),
            (
                "query ($id: ID!) { customer(id: $id) @include(if: true) { id } }",
                None,
            ),
            (
                "query ($id: ID!) @deprecated { customer(id: $id) { id } }",
                None,
            ),
            (
                "query ($id: ID!) { customer(id: $id) { id } viewer { id } }",
                None,
            ),
            (
                "query ($id: ID!) { customer(id: $id) { id users { nodes { id } } } }",
                None,
            ),
            // Not a query, another root field, an id that is not a string.
            ("mutation ($id: ID!) { customer(id: $id) { id } }", None),
            ("query ($id: ID!) { user(id: $id) { id } }", None),
            ("{ customer(id: 7) { id } }", None),
            ("query ($other: ID!) { customer(id: $other) { id } }", None),
            // The operation async-graphql would not pick.
            (
                "query ($id: ID!) { customer(id: $id) { id } }",
                Some("Named"),
            ),
            (
                "query A($id: ID!) { customer(id: $id) { id } } query B { viewer { id } }",
                None,
            ),
            (
                "query A($id: ID!) { customer(id: $id) { id } } query B { viewer { id } }",
                Some("B"),
            ),
        ] {
            assert!(!is_lookup(document, operation_name), "{document}");
        }
        // Up to what the one-pass writer takes; longer, the executor answers it.
        let repeated =
            |times: usize| format!("{{ customer(id: \"x\") {{ {} }} }}", "id ".repeat(times));
        assert!(is_lookup(&repeated(SHORT_SELECTION), None));
        assert!(!is_lookup(&repeated(SHORT_SELECTION + 1), None));
    }

    fn customer(external_id: Option<&str>) -> Customer {
        NewCustomer::parse(CustomerDraft {
            name: "Acme \"Labs\" \u{e9}".into(),
            external_id: external_id.map(Into::into),
            ..CustomerDraft::default()
        })
        .expect("a valid customer")
        .into_customer(OrganizationId::generate(), domain::now())
    }

    fn services(customers: MockCustomerDirectory) -> Services {
        Services {
            customers: Arc::new(customers),
            ..crate::testing::services()
        }
    }

    fn actor() -> Actor {
        Actor {
            user_id: UserId::generate(),
            organization_id: OrganizationId::generate(),
            customer_id: None,
            role: RoleKind::Admin,
        }
    }

    /// The executor's answer to `document`, written as the router writes it.
    async fn executed(services: Services, document: &str, variables: Variables) -> String {
        let origin = Origin {
            actor: actor(),
            kind: ActorKind::User,
            request: RequestMeta::default(),
        };
        let schema = crate::schema::build(services, 1, ValidationMode::Strict);
        let request = async_graphql::Request::new(document).variables(variables);
        let request =
            crate::schema::with_request_data(request, origin).data(crate::json::Fragments);
        written(&schema.execute(request).await)
    }

    fn written(response: &Response) -> String {
        let text = crate::json::response_json(response, "cost", &(), 0).expect("written");
        String::from_utf8(text).expect("UTF-8")
    }

    /// What the directory answers in each case.
    enum Outcome {
        Found(Box<Customer>),
        Fails(fn() -> DirectoryError),
    }

    fn directory(outcome: &Outcome, times: usize) -> MockCustomerDirectory {
        let mut customers = MockCustomerDirectory::new();
        match outcome {
            Outcome::Found(customer) => {
                let customer = Customer::clone(customer);
                customers
                    .expect_customer_summary()
                    .times(times)
                    .returning(move |_, _| Ok(customer.clone().into()));
            }
            Outcome::Fails(error) => {
                let error = *error;
                customers
                    .expect_customer_summary()
                    .times(times)
                    .returning(move |_, _| Err(error()));
            }
        }
        customers
    }

    #[tokio::test]
    async fn a_lookup_answers_as_the_executor_does() {
        let found = customer(Some("ext-1"));
        let id = found.id.global().to_string();
        let documents = [
            "query ($id: ID!) { customer(id: $id) { id name externalId } }",
            "query ($id: ID!) { c: customer(id: $id) { __typename id n: name id ref: externalId } }",
            "query Named($id: ID!) { customer(id: $id) { name name } }",
        ];
        let outcomes = [
            Outcome::Found(Box::new(found.clone())),
            Outcome::Found(Box::new(customer(None))),
            Outcome::Fails(|| DirectoryError::NotFound),
            Outcome::Fails(|| DirectoryError::Forbidden),
            Outcome::Fails(|| DirectoryError::Unavailable("down".into())),
        ];
        for document in documents {
            for outcome in &outcomes {
                let variables = self::variables(&id);
                let expected =
                    executed(services(directory(outcome, 1)), document, variables.clone()).await;
                let parsed = parse_query(document).expect("parses");
                let name = document.contains("Named").then_some("Named");
                let lookup = lookup(&parsed, name, &variables).expect("a lookup");
                let services = services(directory(outcome, 1));
                let answer = lookup.answer(&services, &actor()).await.expect("answered");
                assert_eq!(written(&answer), expected, "{document}");
            }
        }
        // An id that is no customer's: refused before any directory call, alike.
        for id in ["garbage", "VXNlcjox"] {
            let document = documents[0];
            let expected = executed(
                services(MockCustomerDirectory::new()),
                document,
                variables(id),
            )
            .await;
            assert!(expected.contains("\"errors\""), "{expected}");
            let parsed = parse_query(document).expect("parses");
            let variables = variables(id);
            let lookup = lookup(&parsed, None, &variables).expect("a lookup");
            let services = services(MockCustomerDirectory::new());
            let answer = lookup.answer(&services, &actor()).await.expect("answered");
            assert_eq!(written(&answer), expected);
        }
    }
}
