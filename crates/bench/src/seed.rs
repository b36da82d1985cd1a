//! The benchmark's data: customers, each with users, written through the storage ports the
//! server itself uses (so the rows are exactly what Roster would write).

use anyhow::Context;
use domain::events::{ActorKind, EventActor, EventType, RequestMeta, Subject};
use domain::{
    CustomerDraft, CustomerId, Email, NewCustomer, NewUser, OrganizationId, PersonName, Phone,
    RoleKind, Timestamp, UserId, Version,
};
use futures::StreamExt as _;
use ports::EventDraft;
use service::{Provisioning, Repositories};

/// What the benchmark's operations need to know about the seeded data.
#[derive(Debug, Clone)]
pub(crate) struct Seeded {
    pub(crate) organization: OrganizationId,
    /// The owner, the caller of every operation.
    pub(crate) owner: UserId,
    /// One seeded customer, for `customer(id)`.
    pub(crate) customer: CustomerId,
}

/// Writes `customers` customers with `users_each` users each, 8 writes at a time.
pub(crate) async fn seed(
    repos: &Repositories,
    customers: usize,
    users_each: usize,
) -> anyhow::Result<Seeded> {
    let owner = Provisioning::new(repos.clone())
        .find_user("owner@localhost", Some("Default"))
        .await
        .context("the bootstrap owner")?;
    let organization = owner.organization_id;
    let member = repos
        .roles
        .roles(organization)
        .await?
        .into_iter()
        .find(|role| role.kind == RoleKind::CustomerMember)
        .context("the built-in customer member role")?;
    let now = domain::now();
    let mut writes = futures::stream::iter(0..customers)
        .map(|n| async move {
            let customer = NewCustomer::parse(CustomerDraft {
                name: format!("Customer {n:06}"),
                external_id: Some(format!("cust-{n:06}")),
                ..CustomerDraft::default()
            })
            .map_err(|errors| anyhow::anyhow!("{errors:?}"))?
            .into_customer(organization, now);
            let event = seeded(
                organization,
                EventType::CustomerCreated,
                Subject::Customer(customer.id),
                customer.id,
                customer.version,
                now,
            );
            repos.customers.insert_customer(&customer, &event).await?;
            for u in 0..users_each {
                let user = NewUser {
                    email: Email::parse(&format!("user{u}.of{n:06}@example.com"))
                        .map_err(|error| anyhow::anyhow!("{error:?}"))?,
                    role: member.id,
                    name: PersonName::parse(&format!("User {u} of {n:06}"))
                        .map_err(|error| anyhow::anyhow!("{error:?}"))?,
                    phone: Phone::empty(),
                    external_id: None,
                    scim: None,
                    invite: true,
                }
                .into_user(organization, Some(customer.id), member, now);
                let event = seeded(
                    organization,
                    EventType::UserCreated,
                    Subject::User(user.id),
                    customer.id,
                    user.version,
                    now,
                );
                repos.users.insert_user(&user, None, &event).await?;
            }
            anyhow::Ok(customer.id)
        })
        .buffer_unordered(8);
    let mut first = None;
    while let Some(written) = writes.next().await {
        let id = written?;
        first.get_or_insert(id);
    }
    Ok(Seeded {
        organization,
        owner: owner.id,
        customer: first.context("at least one customer")?,
    })
}

/// The event of one seeding write: Roster's own (System), outside any request, with no
/// before/after (the benchmark reads the rows, not the log).
fn seeded(
    organization: OrganizationId,
    kind: EventType,
    subject: Subject,
    customer: CustomerId,
    version: Version,
    at: Timestamp,
) -> EventDraft {
    EventDraft {
        id: uuid::Uuid::now_v7(),
        organization_id: organization,
        kind,
        subject,
        customer_id: Some(customer),
        actor: EventActor {
            user: None,
            kind: ActorKind::System,
        },
        request: RequestMeta::default(),
        at,
        version: Some(version),
        before: None,
        after: None,
    }
}
