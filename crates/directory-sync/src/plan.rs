//! What a sync would change, computed from both sides as read, and carrying it out.

use std::collections::{HashMap, HashSet};
use std::fmt;

use domain::events::{Origin, RequestMeta};
use domain::listing::{CustomerQuery, UserQuery};
use domain::{
    Actor, Customer, CustomerId, CustomerPatch, NewCustomer, NewUser, Role, User, UserId, UserPatch,
};
use ports::{CustomerDirectory, DirectoryError, RoleDirectory, UserDirectory};

use crate::listing::{all_customers, all_users};

/// A listing failed on one side; nothing after it was attempted.
#[derive(Debug, thiserror::Error)]
#[error("reading the {side} directory: {source}")]
pub struct SyncError {
    /// `source` or `target`.
    pub side: &'static str,
    /// The port's error.
    #[source]
    pub source: DirectoryError,
}

/// One directory as read for a sync: its customers, users, and the customer roles the
/// caller may grant.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Every visible customer.
    pub customers: Vec<Customer>,
    /// Every visible user (team members included, so their emails are known).
    pub users: Vec<User>,
    /// Customer roles the caller may see.
    pub customer_roles: Vec<Role>,
}

impl Snapshot {
    /// Reads everything a sync compares from one directory.
    ///
    /// # Errors
    /// The first failing port call.
    pub async fn read<D>(directory: &D, actor: &Actor) -> Result<Snapshot, DirectoryError>
    where
        D: CustomerDirectory + UserDirectory + RoleDirectory + ?Sized,
    {
        Ok(Snapshot {
            customers: all_customers(directory, actor, CustomerQuery::default()).await?,
            users: all_users(directory, actor, UserQuery::default()).await?,
            customer_roles: directory.customer_roles(actor).await?,
        })
    }
}

/// One change a sync makes on the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A source customer with no match on the target.
    CreateCustomer {
        /// The source customer, so its users can follow it.
        source: CustomerId,
        /// The customer as it will be created.
        customer: NewCustomer,
    },
    /// A matched customer whose fields differ.
    UpdateCustomer {
        /// The target customer.
        target: CustomerId,
        /// Its name (for the plan's text).
        name: String,
        /// The differing fields, with the source's values.
        patch: CustomerPatch,
        /// The names of the differing fields.
        fields: Vec<&'static str>,
    },
    /// A source customer user with no user of that email on the target.
    CreateUser {
        /// The source customer the user belongs to.
        source_customer: CustomerId,
        /// That customer's name (for the plan's text).
        customer_name: String,
        /// The user as it will be created (role already mapped to the target's).
        user: NewUser,
    },
    /// A matched user whose fields differ.
    UpdateUser {
        /// The target user.
        target: UserId,
        /// Its email (for the plan's text).
        email: String,
        /// The differing fields, with the source's values.
        patch: UserPatch,
        /// The names of the differing fields.
        fields: Vec<&'static str>,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::CreateCustomer { customer, .. } => {
                write!(f, "create customer \"{}\"", customer.name)
            }
            Step::UpdateCustomer { name, fields, .. } => {
                write!(f, "update customer \"{name}\": {}", fields.join(", "))
            }
            Step::CreateUser {
                customer_name,
                user,
                ..
            } => write!(f, "create user {} of \"{customer_name}\"", user.email),
            Step::UpdateUser { email, fields, .. } => {
                write!(f, "update user {email}: {}", fields.join(", "))
            }
        }
    }
}

/// What a sync will do: the steps, what it leaves alone and why.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// The changes, customers before their users.
    pub steps: Vec<Step>,
    /// Source rows that cannot be synced, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Customers already equal on both sides.
    pub unchanged_customers: usize,
    /// Users already equal on both sides.
    pub unchanged_users: usize,
    matched: HashMap<CustomerId, CustomerId>,
}

/// What [`apply`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Steps carried out.
    pub applied: Vec<String>,
    /// Steps that failed, with the reason.
    pub failed: Vec<(String, String)>,
}

fn customer_patch(source: &Customer, target: &Customer) -> (CustomerPatch, Vec<&'static str>) {
    let mut patch = CustomerPatch::default();
    let mut fields = Vec::new();
    if source.name != target.name {
        patch.name = Some(source.name.clone());
        fields.push("name");
    }
    if source.description != target.description {
        patch.description = Some(source.description.clone());
        fields.push("description");
    }
    if source.external_id != target.external_id {
        patch.external_id = Some(source.external_id.clone());
        fields.push("externalId");
    }
    if source.labels != target.labels {
        patch.labels = Some(source.labels.clone());
        fields.push("labels");
    }
    if source.allow_embedded_designer != target.allow_embedded_designer {
        patch.allow_embedded_designer = Some(source.allow_embedded_designer);
        fields.push("allowEmbeddedDesigner");
    }
    if source.allow_workflow_copilot != target.allow_workflow_copilot {
        patch.allow_workflow_copilot = Some(source.allow_workflow_copilot);
        fields.push("allowWorkflowCopilot");
    }
    if source.concurrent_execution_limit != target.concurrent_execution_limit {
        patch.concurrent_execution_limit = Some(source.concurrent_execution_limit);
        fields.push("concurrentExecutionLimit");
    }
    (patch, fields)
}

fn user_patch(source: &User, target: &User, role: Role) -> (UserPatch, Vec<&'static str>) {
    let mut patch = UserPatch::default();
    let mut fields = Vec::new();
    if source.name != target.name {
        patch.name = Some(source.name.clone());
        fields.push("name");
    }
    if source.phone != target.phone {
        patch.phone = Some(source.phone.clone());
        fields.push("phone");
    }
    if source.external_id != target.external_id {
        patch.external_id = Some(source.external_id.clone());
        fields.push("externalId");
    }
    if role.id != target.role.id {
        patch.role = Some(role.id);
        fields.push("role");
    }
    (patch, fields)
}

impl Plan {
    /// The steps that make `target` hold `source`'s customers and their users. Pure: it
    /// only compares the two snapshots.
    pub fn between(source: &Snapshot, target: &Snapshot) -> Plan {
        let mut plan = Plan::default();
        let by_external_id: HashMap<&str, &Customer> = target
            .customers
            .iter()
            .filter_map(|c| c.external_id.as_ref().map(|e| (e.as_str(), c)))
            .collect();
        let by_name: HashMap<String, &Customer> =
            target.customers.iter().map(|c| (c.name.key(), c)).collect();
        let mut used: HashSet<CustomerId> = HashSet::new();
        let mut synced: HashMap<CustomerId, &Customer> = HashMap::new();
        for customer in source.customers.iter().filter(|c| !c.is_system) {
            let found = customer
                .external_id
                .as_ref()
                .and_then(|e| by_external_id.get(e.as_str()))
                .or_else(|| by_name.get(&customer.name.key()))
                .copied();
            match found {
                Some(existing) if !used.insert(existing.id) => plan.skipped.push((
                    format!("customer \"{}\"", customer.name),
                    format!(
                        "matches target customer \"{}\", already matched by another",
                        existing.name
                    ),
                )),
                Some(existing) => {
                    plan.matched.insert(customer.id, existing.id);
                    synced.insert(customer.id, customer);
                    let (patch, fields) = customer_patch(customer, existing);
                    if fields.is_empty() {
                        plan.unchanged_customers += 1;
                    } else {
                        plan.steps.push(Step::UpdateCustomer {
                            target: existing.id,
                            name: existing.name.to_string(),
                            patch,
                            fields,
                        });
                    }
                }
                None => {
                    synced.insert(customer.id, customer);
                    plan.steps.push(Step::CreateCustomer {
                        source: customer.id,
                        customer: NewCustomer {
                            name: customer.name.clone(),
                            description: customer.description.clone(),
                            external_id: customer.external_id.clone(),
                            labels: customer.labels.clone(),
                            allow_embedded_designer: customer.allow_embedded_designer,
                            allow_workflow_copilot: customer.allow_workflow_copilot,
                            concurrent_execution_limit: customer.concurrent_execution_limit,
                        },
                    });
                }
            }
        }
        let target_users: HashMap<String, &User> =
            target.users.iter().map(|u| (u.email.key(), u)).collect();
        for user in &source.users {
            let Some(customer) = user.customer_id.and_then(|id| synced.get(&id)) else {
                continue;
            };
            let what = format!("user {}", user.email);
            let Some(role) = target
                .customer_roles
                .iter()
                .find(|r| r.kind == user.role.kind)
                .copied()
            else {
                plan.skipped.push((
                    what,
                    format!(
                        "no grantable role \"{}\" on the target",
                        user.role.kind.name()
                    ),
                ));
                continue;
            };
            match target_users.get(&user.email.key()) {
                Some(existing) => {
                    let same_customer = existing.customer_id.is_some()
                        && existing.customer_id == plan.matched.get(&customer.id).copied();
                    if !same_customer {
                        plan.skipped.push((
                            what,
                            "the email belongs to another customer or a team member on the target"
                                .to_owned(),
                        ));
                        continue;
                    }
                    let (patch, fields) = user_patch(user, existing, role);
                    if fields.is_empty() {
                        plan.unchanged_users += 1;
                    } else {
                        plan.steps.push(Step::UpdateUser {
                            target: existing.id,
                            email: existing.email.to_string(),
                            patch,
                            fields,
                        });
                    }
                }
                None => plan.steps.push(Step::CreateUser {
                    source_customer: customer.id,
                    customer_name: customer.name.to_string(),
                    user: NewUser {
                        email: user.email.clone(),
                        role: role.id,
                        name: user.name.clone(),
                        phone: user.phone.clone(),
                        external_id: user.external_id.clone(),
                        scim: None,
                        invite: true,
                    },
                }),
            }
        }
        plan
    }
}

/// Reads both directories and plans the sync from `source` to `target`.
///
/// # Errors
/// A listing that failed, and on which side.
pub async fn plan<S, T>(
    source: &S,
    source_actor: &Actor,
    target: &T,
    target_actor: &Actor,
) -> Result<Plan, SyncError>
where
    S: CustomerDirectory + UserDirectory + RoleDirectory + ?Sized,
    T: CustomerDirectory + UserDirectory + RoleDirectory + ?Sized,
{
    let mut from = Snapshot::read(source, source_actor)
        .await
        .map_err(|source| SyncError {
            side: "source",
            source,
        })?;
    from.users.retain(|u| u.customer_id.is_some());
    let to = Snapshot::read(target, target_actor)
        .await
        .map_err(|source| SyncError {
            side: "target",
            source,
        })?;
    Ok(Plan::between(&from, &to))
}

/// Carries out `plan` on `target`; a failed step is reported and the others still run
/// (users of a customer that could not be created fail with it).
pub async fn apply<T>(plan: &Plan, target: &T, actor: &Actor) -> Report
where
    T: CustomerDirectory + UserDirectory + ?Sized,
{
    // The writes come from `actor` through no request of its own: a remote target records
    // the client's request, a local one no request.
    let origin = &Origin::user(*actor, RequestMeta::default());
    let mut report = Report::default();
    let mut customers = plan.matched.clone();
    for step in &plan.steps {
        let outcome: Result<(), String> = match step {
            Step::CreateCustomer { source, customer } => target
                .create_customer(origin, customer.clone())
                .await
                .map(|created| {
                    customers.insert(*source, created.id);
                })
                .map_err(|e| e.to_string()),
            Step::UpdateCustomer {
                target: id, patch, ..
            } => target
                .update_customer(origin, *id, patch.clone(), None)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            Step::CreateUser {
                source_customer,
                user,
                ..
            } => match customers.get(source_customer) {
                Some(customer) => target
                    .create_customer_user(origin, Some(*customer), user.clone())
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string()),
                None => Err("its customer was not created".to_owned()),
            },
            Step::UpdateUser {
                target: id, patch, ..
            } => target
                .update_user(origin, *id, patch.clone(), None)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
        };
        match outcome {
            Ok(()) => report.applied.push(step.to_string()),
            Err(reason) => report.failed.push((step.to_string(), reason)),
        }
    }
    report
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use domain::{CustomerDraft, OrganizationId, RoleKind, UserDraft};

    use super::*;

    fn customer(name: &str, external_id: Option<&str>, description: &str) -> Customer {
        NewCustomer::parse(CustomerDraft {
            name: name.into(),
            description: Some(description.into()),
            external_id: external_id.map(Into::into),
            ..CustomerDraft::default()
        })
        .unwrap()
        .into_customer(OrganizationId::generate(), domain::now())
    }

    fn user(customer: &Customer, email: &str, role: Role) -> User {
        NewUser::parse(UserDraft {
            email: email.into(),
            role: Ok(role.id),
            ..UserDraft::default()
        })
        .unwrap()
        .into_user(
            customer.organization_id,
            Some(customer.id),
            role,
            domain::now(),
        )
    }

    fn roles() -> Vec<Role> {
        [RoleKind::CustomerAdmin, RoleKind::CustomerMember]
            .into_iter()
            .map(Role::generate)
            .collect()
    }

    fn texts(plan: &Plan) -> Vec<String> {
        plan.steps.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn matches_by_external_id_then_name_and_users_by_email() {
        let source_roles = roles();
        let acme = customer("Acme", Some("a"), "new");
        let globex = customer("Globex", None, "");
        let initech = customer("Initech", None, "");
        let source = Snapshot {
            users: vec![
                user(&acme, "ann@acme.example", source_roles[0]),
                user(&initech, "ivy@initech.example", source_roles[1]),
            ],
            customers: vec![acme, globex, initech],
            customer_roles: source_roles,
        };
        let target_roles = roles();
        let target_acme = customer("ACME Inc", Some("a"), "old");
        let target = Snapshot {
            users: vec![user(&target_acme, "ANN@acme.example", target_roles[1])],
            customers: vec![target_acme, customer("globex", None, "")],
            customer_roles: target_roles,
        };
        let plan = Plan::between(&source, &target);
        assert_eq!(
            texts(&plan),
            [
                "update customer \"ACME Inc\": name, description",
                "update customer \"globex\": name",
                "create customer \"Initech\"",
                "update user ANN@acme.example: role",
                "create user ivy@initech.example of \"Initech\"",
            ]
        );
        assert!(plan.skipped.is_empty());
    }

    #[test]
    fn equal_directories_plan_nothing() {
        let source_roles = roles();
        let acme = customer("Acme", Some("a"), "d");
        let source = Snapshot {
            users: vec![user(&acme, "ann@acme.example", source_roles[0])],
            customers: vec![acme],
            customer_roles: source_roles,
        };
        let target_roles = roles();
        let twin = customer("Acme", Some("a"), "d");
        let target = Snapshot {
            users: vec![user(&twin, "ann@acme.example", target_roles[0])],
            customers: vec![twin],
            customer_roles: target_roles,
        };
        let plan = Plan::between(&source, &target);
        assert!(plan.steps.is_empty(), "{:?}", texts(&plan));
        assert_eq!((plan.unchanged_customers, plan.unchanged_users), (1, 1));
    }

    #[test]
    fn users_of_other_customers_and_missing_roles_are_skipped() {
        let source_roles = vec![Role::generate(RoleKind::MarketplaceUser)];
        let acme = customer("Acme", None, "");
        let source = Snapshot {
            users: vec![user(&acme, "m@acme.example", source_roles[0])],
            customers: vec![acme],
            customer_roles: source_roles,
        };
        let target = Snapshot {
            customer_roles: roles(),
            ..Snapshot::default()
        };
        let plan = Plan::between(&source, &target);
        assert_eq!(texts(&plan), ["create customer \"Acme\""]);
        assert_eq!(plan.skipped.len(), 1);
        assert!(
            plan.skipped[0].1.contains("Marketplace User"),
            "{:?}",
            plan.skipped
        );
    }
}
