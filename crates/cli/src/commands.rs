//! The client subcommands, each over the directory ports of a [`directory_client::Client`].

use domain::listing::{CustomerFilter, CustomerQuery, UserFilter, UserQuery};
use domain::{
    Actor, CustomerDraft, CustomerId, CustomerPatch, CustomerPatchDraft, ErrorCode, Field,
    FieldError, NewCustomer, NewUser, RoleId, RoleScope, UserDraft, UserId, UserPatch,
    UserPatchDraft, ValidationErrors, Version,
};
use futures::TryStreamExt as _;
use ports::{CustomerDirectory, DirectoryError, RoleDirectory, UserDirectory};
use serde_json::Value;
use wire::Global as _;

use crate::output::{
    CUSTOMER_HEADERS, ROLE_HEADERS, Records, USER_HEADERS, push_customer, push_role, push_user,
};
use crate::{
    ClientCommand, ConnectionArgs, CustomerFields, CustomersCommand, Exit, QueryArgs, RolesCommand,
    UsersCommand, client_of, connect, events, import, origin, report, report_client, sync, usage,
};

/// Runs a client subcommand; on failure the reason is already printed and the error holds
/// the exit code.
///
/// # Errors
/// [`Exit`] with the code to end the process with.
pub async fn run(command: ClientCommand) -> Result<(), Exit> {
    match command {
        ClientCommand::Customers(command) => customers(command).await,
        ClientCommand::Users(command) => users(command).await,
        ClientCommand::Roles(RolesCommand::List {
            connection,
            customer,
        }) => roles(&connection, customer).await,
        ClientCommand::Whoami(connection) => whoami(&connection).await,
        ClientCommand::Query(args) => query(args).await,
        ClientCommand::Sync(args) => sync::run(args).await,
        ClientCommand::Events(command) => events::run(command).await,
        ClientCommand::Webhooks(command) => crate::webhooks::run(command).await,
        ClientCommand::ScimTokens(command) => crate::scim_tokens::run(command).await,
    }
}

/// Turns a local validation failure into exit 1 with `field: message` lines.
fn invalid(errors: ValidationErrors) -> Exit {
    report(&DirectoryError::Invalid(errors))
}

/// `--expected-version`, checked as the API checks `expectedVersion`.
fn expected(version: Option<i64>) -> Result<Option<Version>, Exit> {
    version
        .map(Version::parse)
        .transpose()
        .map_err(|error| invalid(error.into()))
}

fn customer_id(text: &str) -> Result<CustomerId, Exit> {
    CustomerId::parse_global(text)
        .map_err(|_| invalid(FieldError::invalid(Field::Id, "Invalid ID").into()))
}

fn user_id(text: &str) -> Result<UserId, Exit> {
    UserId::parse_global(text)
        .map_err(|_| invalid(FieldError::invalid(Field::Id, "Invalid ID").into()))
}

fn print_customer(connection: &ConnectionArgs, customer: &domain::Customer) {
    let mut records = Records::new(CUSTOMER_HEADERS);
    push_customer(&mut records, customer);
    records.print_one(connection.output);
}

fn print_user(connection: &ConnectionArgs, user: &domain::User) {
    let mut records = Records::new(USER_HEADERS);
    push_user(&mut records, user);
    records.print_one(connection.output);
}

fn labels(fields: &CustomerFields) -> Option<Vec<Option<String>>> {
    if fields.clear_labels {
        Some(Vec::new())
    } else if fields.labels.is_empty() {
        None
    } else {
        Some(fields.labels.iter().cloned().map(Some).collect())
    }
}

async fn customers(command: CustomersCommand) -> Result<(), Exit> {
    match command {
        CustomersCommand::List {
            connection,
            search,
            external_id,
            label,
        } => {
            let (client, _) = connect(&connection).await?;
            let query = CustomerQuery {
                filter: CustomerFilter {
                    name_icontains: search,
                    external_id,
                    labels_contains: label,
                    ..CustomerFilter::default()
                },
                ..CustomerQuery::default()
            };
            let rows: Vec<domain::Customer> = client
                .customer_stream(query)
                .try_collect()
                .await
                .map_err(|e| report(&e))?;
            let mut records = Records::new(CUSTOMER_HEADERS);
            for customer in &rows {
                push_customer(&mut records, customer);
            }
            records.print_list(connection.output);
            Ok(())
        }
        CustomersCommand::Get { connection, id } => {
            let id = customer_id(&id)?;
            let (client, actor) = connect(&connection).await?;
            let customer = client.customer(&actor, id).await.map_err(|e| report(&e))?;
            print_customer(&connection, &customer);
            Ok(())
        }
        CustomersCommand::Create { connection, fields } => {
            let Some(name) = fields.name.clone() else {
                return Err(usage("customers create needs --name"));
            };
            let customer = NewCustomer::parse(CustomerDraft {
                name,
                description: fields.description.clone(),
                external_id: fields.external_id.clone(),
                labels: labels(&fields),
                ..CustomerDraft::default()
            })
            .map_err(invalid)?;
            let (client, actor) = connect(&connection).await?;
            let created = client
                .create_customer(&origin(&actor), customer)
                .await
                .map_err(|e| report(&e))?;
            print_customer(&connection, &created);
            Ok(())
        }
        CustomersCommand::Update {
            connection,
            id,
            fields,
            expected_version,
        } => {
            let id = customer_id(&id)?;
            let expected = expected(expected_version)?;
            let patch = CustomerPatch::parse(CustomerPatchDraft {
                name: fields.name.clone(),
                description: fields.description.clone(),
                external_id: fields.external_id.clone(),
                labels: labels(&fields),
                ..CustomerPatchDraft::default()
            })
            .map_err(invalid)?;
            let (client, actor) = connect(&connection).await?;
            let updated = client
                .update_customer(&origin(&actor), id, patch, expected)
                .await
                .map_err(|e| report(&e))?;
            print_customer(&connection, &updated);
            Ok(())
        }
        CustomersCommand::Delete {
            connection,
            id,
            expected_version,
        } => {
            let id = customer_id(&id)?;
            let expected = expected(expected_version)?;
            let (client, actor) = connect(&connection).await?;
            let deleted = client
                .delete_customer(&origin(&actor), id, expected)
                .await
                .map_err(|e| report(&e))?;
            print_customer(&connection, &deleted);
            Ok(())
        }
        CustomersCommand::Import {
            connection,
            file,
            format,
        } => import::import(&connection, &file, format).await,
        CustomersCommand::Export { connection, format } => {
            import::export(&connection, format).await
        }
    }
}

/// The role named `text` (or with that ID) among the caller's roles of `scope`.
async fn resolve_role(
    client: &directory_client::Client,
    actor: &Actor,
    scope: RoleScope,
    text: &str,
) -> Result<RoleId, Exit> {
    if let Ok(id) = RoleId::parse_global(text) {
        return Ok(id);
    }
    let roles = match scope {
        RoleScope::Organization => client.organization_roles(actor).await,
        RoleScope::Customer => client.customer_roles(actor).await,
    }
    .map_err(|e| report(&e))?;
    roles
        .iter()
        .find(|role| role.kind.name().eq_ignore_ascii_case(text.trim()))
        .map(|role| role.id)
        .ok_or_else(|| {
            let names: Vec<&str> = roles.iter().map(|r| r.kind.name()).collect();
            invalid(
                FieldError::new(
                    Field::Role,
                    ErrorCode::NotFound,
                    format!("No role named \"{text}\" (one of: {}).", names.join(", ")),
                )
                .into(),
            )
        })
}

async fn users(command: UsersCommand) -> Result<(), Exit> {
    match command {
        UsersCommand::List {
            connection,
            customer,
        } => {
            let filter = match customer {
                Some(text) => UserFilter {
                    customer: Some(customer_id(&text)?),
                    ..UserFilter::default()
                },
                None => UserFilter {
                    customer_isnull: Some(true),
                    ..UserFilter::default()
                },
            };
            let (client, _) = connect(&connection).await?;
            let rows: Vec<domain::User> = client
                .user_stream(UserQuery {
                    filter,
                    ..UserQuery::default()
                })
                .try_collect()
                .await
                .map_err(|e| report(&e))?;
            let mut records = Records::new(USER_HEADERS);
            for user in &rows {
                push_user(&mut records, user);
            }
            records.print_list(connection.output);
            Ok(())
        }
        UsersCommand::Get { connection, id } => {
            let id = user_id(&id)?;
            let (client, actor) = connect(&connection).await?;
            let user = client.user(&actor, id).await.map_err(|e| report(&e))?;
            print_user(&connection, &user);
            Ok(())
        }
        UsersCommand::Create {
            connection,
            customer,
            email,
            role,
            name,
            phone,
            external_id,
        } => {
            let customer = customer.as_deref().map(customer_id).transpose()?;
            let (client, actor) = connect(&connection).await?;
            let scope = if customer.is_some() || actor.customer_id.is_some() {
                RoleScope::Customer
            } else {
                RoleScope::Organization
            };
            let role = resolve_role(&client, &actor, scope, &role).await?;
            let user = NewUser::parse(UserDraft {
                email,
                role: Ok(role),
                name,
                phone,
                external_id,
            })
            .map_err(invalid)?;
            let created = match scope {
                RoleScope::Customer => {
                    client
                        .create_customer_user(&origin(&actor), customer, user)
                        .await
                }
                RoleScope::Organization => {
                    client.create_organization_user(&origin(&actor), user).await
                }
            }
            .map_err(|e| report(&e))?;
            print_user(&connection, &created);
            Ok(())
        }
        UsersCommand::Update {
            connection,
            id,
            name,
            phone,
            external_id,
            role,
            expected_version,
        } => {
            let id = user_id(&id)?;
            let expected = expected(expected_version)?;
            let (client, actor) = connect(&connection).await?;
            let role = match role {
                Some(text) => {
                    let target = client.user(&actor, id).await.map_err(|e| report(&e))?;
                    let scope = target.role.kind.scope();
                    Some(Ok(resolve_role(&client, &actor, scope, &text).await?))
                }
                None => None,
            };
            let patch = UserPatch::parse(UserPatchDraft {
                name,
                phone,
                external_id,
                role,
                ..UserPatchDraft::default()
            })
            .map_err(invalid)?;
            let updated = client
                .update_user(&origin(&actor), id, patch, expected)
                .await
                .map_err(|e| report(&e))?;
            print_user(&connection, &updated);
            Ok(())
        }
        UsersCommand::Delete {
            connection,
            id,
            expected_version,
        } => {
            let id = user_id(&id)?;
            let expected = expected(expected_version)?;
            let (client, actor) = connect(&connection).await?;
            let deleted = client
                .delete_user(&origin(&actor), id, expected)
                .await
                .map_err(|e| report(&e))?;
            print_user(&connection, &deleted);
            Ok(())
        }
        UsersCommand::Deactivate {
            connection,
            id,
            expected_version,
        } => set_active(&connection, &id, false, expected_version).await,
        UsersCommand::Reactivate {
            connection,
            id,
            expected_version,
        } => set_active(&connection, &id, true, expected_version).await,
    }
}

/// `users deactivate` (`active: false`) and `users reactivate` (`active: true`).
async fn set_active(
    connection: &ConnectionArgs,
    id: &str,
    active: bool,
    expected_version: Option<i64>,
) -> Result<(), Exit> {
    let id = user_id(id)?;
    let expected = expected(expected_version)?;
    let (client, actor) = connect(connection).await?;
    let user = client
        .set_user_active(&origin(&actor), id, active, expected)
        .await
        .map_err(|e| report(&e))?;
    print_user(connection, &user);
    Ok(())
}

async fn roles(connection: &ConnectionArgs, customer: bool) -> Result<(), Exit> {
    let (client, actor) = connect(connection).await?;
    let roles = if customer {
        client.customer_roles(&actor).await
    } else {
        client.organization_roles(&actor).await
    }
    .map_err(|e| report(&e))?;
    let mut records = Records::new(ROLE_HEADERS);
    for role in &roles {
        push_role(&mut records, role);
    }
    records.print_list(connection.output);
    Ok(())
}

async fn whoami(connection: &ConnectionArgs) -> Result<(), Exit> {
    let (client, actor) = connect(connection).await?;
    let me = client.me(&actor).await.map_err(|e| report(&e))?;
    print_user(connection, &me);
    Ok(())
}

async fn query(args: QueryArgs) -> Result<(), Exit> {
    let document = match args.document.strip_prefix('@') {
        Some(path) => {
            std::fs::read_to_string(path).map_err(|e| usage(format!("cannot read {path}: {e}")))?
        }
        None => args.document.clone(),
    };
    let variables: Value = match &args.variables {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| usage(format!("--variables is not JSON: {e}")))?,
        None => Value::Object(serde_json::Map::new()),
    };
    if !variables.is_object() {
        return Err(usage("--variables must be a JSON object"));
    }
    let client = client_of(&args.connection)?;
    let data = client
        .execute(&document, variables)
        .await
        .map_err(|e| report_client(&e))?;
    println!(
        "{}",
        serde_json::to_string_pretty(&data).unwrap_or_default()
    );
    Ok(())
}
