//! `roster scim-tokens create|list|update|delete`: a customer's SCIM tokens through the client's
//! `ScimTokenDirectory`, as the token's caller may manage them.

use domain::scim::{ScimToken, ScimTokenDraft};
use domain::{CustomerId, Field, FieldError, ScimTokenId};
use ports::ScimTokenDirectory;
use serde_json::json;
use wire::Global as _;

use crate::output::Records;
use crate::{Exit, ScimTokensCommand, connect, origin, report};

/// Tokens' columns.
const TOKEN_HEADERS: &[&str] = &[
    "ID",
    "DESCRIPTION",
    "PREVIEW",
    "CUSTOMER",
    "INVITATIONS",
    "CREATED",
    "LAST USED",
];

fn invalid(field: Field) -> Exit {
    report(&ports::DirectoryError::Invalid(
        FieldError::invalid(field, "Invalid ID").into(),
    ))
}

fn customer_id(text: &str) -> Result<CustomerId, Exit> {
    CustomerId::parse_global(text.trim()).map_err(|_| invalid(Field::Customer))
}

fn push_token(records: &mut Records, token: &ScimToken) {
    let id = token.id.global().to_string();
    let customer = token.customer_id.global().to_string();
    let created = token.created_at.to_rfc3339();
    let last_used = token.last_used_at.map(|at| at.to_rfc3339());
    records.push(
        vec![
            id.clone(),
            token.description.as_str().to_owned(),
            token.preview.clone(),
            customer.clone(),
            token.send_invitations.to_string(),
            created.clone(),
            last_used.clone().unwrap_or_default(),
        ],
        json!({
            "id": id,
            "description": token.description.as_str(),
            "preview": token.preview,
            "customerId": customer,
            "sendInvitations": token.send_invitations,
            "createdAt": created,
            "lastUsedAt": last_used,
        }),
    );
}

/// Runs `roster scim-tokens ...`.
pub(crate) async fn run(command: ScimTokensCommand) -> Result<(), Exit> {
    match command {
        ScimTokensCommand::Create {
            connection,
            customer,
            description,
            send_invitations,
        } => {
            let customer = customer_id(&customer)?;
            let (client, actor) = connect(&connection).await?;
            let created = client
                .create_scim_token(
                    &origin(&actor),
                    ScimTokenDraft {
                        customer: Ok(customer),
                        description,
                        send_invitations: Some(send_invitations),
                    },
                )
                .await
                .map_err(|e| report(&e))?;
            let mut records = Records::new(TOKEN_HEADERS);
            push_token(&mut records, &created.token);
            records.print_one(connection.output);
            eprintln!(
                "Token (shown once; give it to the identity provider as its bearer token): {}",
                created.secret.as_str()
            );
            Ok(())
        }
        ScimTokensCommand::List {
            connection,
            customer,
        } => {
            let customer = customer_id(&customer)?;
            let (client, actor) = connect(&connection).await?;
            let mut records = Records::new(TOKEN_HEADERS);
            let mut after = None;
            loop {
                let page = client
                    .scim_tokens(&actor, customer, after, 100)
                    .await
                    .map_err(|e| report(&e))?;
                for token in &page.tokens {
                    push_token(&mut records, token);
                }
                after = page.tokens.last().map(|token| token.id);
                if !page.has_next_page || after.is_none() {
                    break;
                }
            }
            records.print_list(connection.output);
            Ok(())
        }
        ScimTokensCommand::Update {
            connection,
            id,
            send_invitations,
        } => {
            let id = ScimTokenId::parse_global(id.trim()).map_err(|_| invalid(Field::Id))?;
            let (client, actor) = connect(&connection).await?;
            let updated = client
                .update_scim_token(&origin(&actor), id, Some(send_invitations))
                .await
                .map_err(|e| report(&e))?;
            let mut records = Records::new(TOKEN_HEADERS);
            push_token(&mut records, &updated);
            records.print_one(connection.output);
            Ok(())
        }
        ScimTokensCommand::Delete { connection, id } => {
            let id = ScimTokenId::parse_global(id.trim()).map_err(|_| invalid(Field::Id))?;
            let (client, actor) = connect(&connection).await?;
            let deleted = client
                .delete_scim_token(&origin(&actor), id)
                .await
                .map_err(|e| report(&e))?;
            let mut records = Records::new(TOKEN_HEADERS);
            push_token(&mut records, &deleted);
            records.print_one(connection.output);
            Ok(())
        }
    }
}
