//! Access changes as an adapter reports them: a recording [`AccessObserver`] and the writes
//! that must (or must not) be reported, shared by the in-process checks of every adapter and
//! by PostgreSQL's feed checks.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::{Customer, RoleKind, User};
use ports::{AccessChange, AccessObserver, Conditional};

use crate::Stores;
use crate::support::{Org, draft, insert_customer, insert_user, organization, update_user};

/// What an observer heard, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// `access_changed`.
    Changed(AccessChange),
    /// `feed_lost`.
    Lost,
    /// `feed_resumed`.
    Resumed,
}

/// An observer that records everything it hears.
#[derive(Debug, Default)]
pub struct Recorder {
    heard: Mutex<Vec<Heard>>,
}

impl Recorder {
    /// A new recorder, shared.
    pub fn new() -> Arc<Recorder> {
        Arc::new(Recorder::default())
    }

    /// Everything heard since the last call.
    pub fn take(&self) -> Vec<Heard> {
        std::mem::take(&mut *self.heard.lock().unwrap())
    }

    /// Waits (polling, up to `deadline`) until what was heard since the last call satisfies
    /// `done`, and returns it; panics at the deadline with what was heard.
    pub async fn wait_until(
        &self,
        deadline: Duration,
        done: impl Fn(&[Heard]) -> bool,
    ) -> Vec<Heard> {
        let started = Instant::now();
        loop {
            {
                let mut heard = self.heard.lock().unwrap();
                if done(&heard) {
                    return std::mem::take(&mut *heard);
                }
            }
            assert!(
                started.elapsed() < deadline,
                "not heard within {deadline:?}; heard {:?}",
                self.heard.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn push(&self, heard: Heard) {
        self.heard.lock().unwrap().push(heard);
    }
}

impl AccessObserver for Recorder {
    fn access_changed(&self, change: AccessChange) {
        self.push(Heard::Changed(change));
    }

    fn feed_lost(&self) {
        self.push(Heard::Lost);
    }

    fn feed_resumed(&self) {
        self.push(Heard::Resumed);
    }
}

/// An organization with a team member and a customer holding two users.
pub struct Scene {
    org: Org,
    /// A team member (Admin).
    pub member: User,
    /// The customer.
    pub customer: Customer,
    /// The customer's users.
    pub customer_users: [User; 2],
}

impl Scene {
    /// Stores the scene through the ports of `stores`.
    pub async fn create(stores: &Stores) -> Scene {
        let org = organization(stores, "Access").await;
        let member = org.user(None, "member@access.example", RoleKind::Admin);
        insert_user(stores, &member).await;
        let customer = org.customer("Access Customer");
        insert_customer(stores, &customer).await;
        let customer_users = ["a@customer.example", "b@customer.example"]
            .map(|email| org.user(Some(customer.id), email, RoleKind::CustomerMember));
        for user in &customer_users {
            insert_user(stores, user).await;
        }
        Scene {
            org,
            member,
            customer,
            customer_users,
        }
    }

    /// The member as stored now.
    async fn stored_member(&self, stores: &Stores) -> domain::User {
        stores
            .users
            .user(self.org.id, self.member.id)
            .await
            .unwrap()
            .unwrap()
    }

    /// Renames the member: not an access change.
    pub async fn rename_member(&self, stores: &Stores) {
        let member = self.stored_member(stores).await;
        let mut renamed = member.clone();
        renamed.name = domain::PersonName::parse("Renamed").unwrap();
        let outcome = update_user(stores, &member, &renamed).await.unwrap();
        assert!(matches!(outcome, Conditional::Done(_)), "{outcome:?}");
    }

    /// Gives the member the Guest role.
    pub async fn demote_member(&self, stores: &Stores) {
        let member = self.stored_member(stores).await;
        let mut demoted = member.clone();
        demoted.role = self.org.role(RoleKind::Guest);
        let outcome = update_user(stores, &member, &demoted).await.unwrap();
        assert!(matches!(outcome, Conditional::Done(_)), "{outcome:?}");
    }

    /// Deletes the member.
    pub async fn delete_member(&self, stores: &Stores) {
        let deleted = stores
            .users
            .delete_user(self.org.id, self.member.id, None, &draft(self.org.id))
            .await
            .unwrap();
        assert!(matches!(deleted, Conditional::Done(_)), "{deleted:?}");
    }

    /// Deletes the customer, and its users with it.
    pub async fn delete_customer(&self, stores: &Stores) {
        let deleted = stores
            .customers
            .delete_customer(self.org.id, self.customer.id, None, &draft(self.org.id))
            .await
            .unwrap();
        assert!(matches!(deleted, Conditional::Done(_)), "{deleted:?}");
    }
}

/// Checks that a store reporting to `recorder` reports each access change before the write
/// returns, and nothing for writes that change no access (inserts).
pub async fn writes_report_their_access_changes_before_returning(
    stores: &Stores,
    recorder: &Recorder,
) {
    let scene = Scene::create(stores).await;
    assert_eq!(recorder.take(), [], "inserts change no one's access");
    scene.demote_member(stores).await;
    assert_eq!(
        recorder.take(),
        [Heard::Changed(AccessChange::User(scene.member.id))]
    );
    scene.delete_customer(stores).await;
    assert_eq!(
        recorder.take(),
        [Heard::Changed(AccessChange::Customer(scene.customer.id))]
    );
    scene.delete_member(stores).await;
    assert_eq!(
        recorder.take(),
        [Heard::Changed(AccessChange::User(scene.member.id))]
    );
    // Writes that found nothing report nothing.
    assert_eq!(
        stores
            .users
            .delete_user(
                scene.member.organization_id,
                scene.member.id,
                None,
                &draft(scene.member.organization_id)
            )
            .await
            .unwrap(),
        Conditional::Missing
    );
    assert_eq!(recorder.take(), []);
}

/// Checks that a store reporting to `recorder` reports every ending of access tokens before
/// the write returns: a revoked session (refresh family), a new password (a new token
/// generation); and nothing when a revocation found nothing left to revoke.
pub async fn token_endings_are_reported_before_returning(stores: &Stores, recorder: &Recorder) {
    let scene = Scene::create(stores).await;
    let member = &scene.member;
    let token = domain::RefreshToken::issue(
        "ending".into(),
        member.organization_id,
        member.id,
        domain::now(),
    );
    stores
        .credentials
        .insert_refresh_token(&token)
        .await
        .unwrap();
    assert_eq!(recorder.take(), [], "inserts change no one's access");
    stores
        .credentials
        .revoke_refresh_family(&token, domain::now(), None)
        .await
        .unwrap();
    assert_eq!(
        recorder.take(),
        [Heard::Changed(AccessChange::User(member.id))]
    );
    stores
        .credentials
        .revoke_refresh_family(&token, domain::now(), None)
        .await
        .unwrap();
    assert_eq!(recorder.take(), [], "already revoked: nothing changed");
    assert!(
        stores
            .credentials
            .set_password_hash(
                member.organization_id,
                member.id,
                "$argon2id$x",
                domain::now(),
                &draft(member.organization_id)
            )
            .await
            .unwrap()
    );
    assert_eq!(
        recorder.take(),
        [Heard::Changed(AccessChange::User(member.id))]
    );
}
