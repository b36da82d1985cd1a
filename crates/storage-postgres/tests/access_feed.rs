//! Access changes on PostgreSQL: reported in-process before each write returns, and to every
//! server through the triggers' `NOTIFY` and [`follow_access_changes`]; a lost listening
//! connection is reported, and so is its return.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed setup panics"
)]

use std::sync::Arc;
use std::time::Duration;

use ports::AccessChange;
use storage_contract::access::{
    Heard, Recorder, Scene, writes_report_their_access_changes_before_returning,
};
use storage_contract::{Stores, draft};
use storage_postgres::testing::{Relay, TestDatabase, admin_url};
use storage_postgres::{FeedSettings, PostgresStorage, follow_access_changes};

/// Generous, for a loaded machine; the feed's own bound (750 ms) is checked end to end.
const DEADLINE: Duration = Duration::from_secs(10);

fn changed(user: &domain::User) -> Heard {
    Heard::Changed(AccessChange::User(user.id))
}

/// A feed on `url` reporting to a new recorder, once it is up.
async fn feed(url: &str) -> (Arc<Recorder>, tokio::task::JoinHandle<()>) {
    let recorder = Recorder::new();
    let task = tokio::spawn(follow_access_changes(
        url.to_owned(),
        recorder.clone(),
        FeedSettings::default(),
    ));
    let heard = recorder
        .wait_until(DEADLINE, |heard| heard.contains(&Heard::Resumed))
        .await;
    assert_eq!(heard, [Heard::Resumed]);
    (recorder, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_report_their_access_changes_to_the_observer_before_returning() {
    let Some(admin) = admin_url() else { return };
    let database = TestDatabase::create(&admin).await.unwrap();
    let recorder = Recorder::new();
    let storage = PostgresStorage::connect(database.url())
        .await
        .unwrap()
        .with_access_observer(recorder.clone());
    writes_report_their_access_changes_before_returning(&Stores::of(storage), &recorder).await;
    database.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_triggers_notify_every_access_change_to_the_feed_and_nothing_else() {
    let Some(admin) = admin_url() else { return };
    let database = TestDatabase::create(&admin).await.unwrap();
    // The writer stands for another server: it has no observer of its own.
    let stores = Stores::of(PostgresStorage::connect(database.url()).await.unwrap());
    let (recorder, task) = feed(database.url()).await;
    let scene = Scene::create(&stores).await;

    // A rename notifies nothing; notifications arrive in commit order, so the first one
    // heard after the demotion is the demotion's alone.
    scene.rename_member(&stores).await;
    scene.demote_member(&stores).await;
    let heard = recorder
        .wait_until(DEADLINE, |heard| !heard.is_empty())
        .await;
    assert_eq!(heard, [changed(&scene.member)]);

    // A customer's deletion notifies its users, whom the cascade deleted.
    scene.delete_customer(&stores).await;
    let mut heard = recorder
        .wait_until(DEADLINE, |heard| heard.len() >= 2)
        .await;
    heard.sort_by_key(|heard| format!("{heard:?}"));
    let mut expected: Vec<Heard> = scene.customer_users.iter().map(changed).collect();
    expected.sort_by_key(|heard| format!("{heard:?}"));
    assert_eq!(heard, expected);

    scene.delete_member(&stores).await;
    let heard = recorder
        .wait_until(DEADLINE, |heard| !heard.is_empty())
        .await;
    assert_eq!(heard, [changed(&scene.member)]);

    task.abort();
    database.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_deletion_notifies_everyone() {
    let Some(admin) = admin_url() else { return };
    let database = TestDatabase::create(&admin).await.unwrap();
    let stores = Stores::of(PostgresStorage::connect(database.url()).await.unwrap());
    let (recorder, task) = feed(database.url()).await;
    Scene::create(&stores).await;
    // More users than one payload names (100): the statement announces everyone.
    storage_postgres::testing::execute(
        database.url(),
        "INSERT INTO users (id, organization_id, customer_id, email, email_key, name, name_key, \
         phone, role_id, dark_mode, dark_mode_sync_with_os, feature_flags, created_at, updated_at) \
         SELECT gen_random_uuid(), u.organization_id, NULL, i || u.email, i || u.email_key, \
         u.name, u.name_key, u.phone, u.role_id, false, false, '', now(), now() \
         FROM users u, generate_series(1, 120) i WHERE u.email_key = 'member@access.example'; \
         DELETE FROM users;",
    )
    .await
    .unwrap();
    let heard = recorder
        .wait_until(DEADLINE, |heard| !heard.is_empty())
        .await;
    assert_eq!(heard, [Heard::Changed(AccessChange::Everyone)]);
    task.abort();
    database.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_listening_connection_is_reported_and_so_is_its_return() {
    let Some(admin) = admin_url() else { return };
    let database = TestDatabase::create(&admin).await.unwrap();
    let stores = Stores::of(PostgresStorage::connect(database.url()).await.unwrap());
    let scene = Scene::create(&stores).await;
    let (mut relay, relayed_url) = Relay::in_front_of(database.url()).await.unwrap();
    let (recorder, task) = feed(&relayed_url).await;

    relay.take_down().await;
    let heard = recorder
        .wait_until(DEADLINE, |heard| heard.contains(&Heard::Lost))
        .await;
    assert_eq!(heard, [Heard::Lost]);

    relay.bring_back().await.unwrap();
    let heard = recorder
        .wait_until(DEADLINE, |heard| heard.contains(&Heard::Resumed))
        .await;
    assert_eq!(heard, [Heard::Resumed]);

    // And changes flow again.
    scene.demote_member(&stores).await;
    let heard = recorder
        .wait_until(DEADLINE, |heard| !heard.is_empty())
        .await;
    assert_eq!(heard, [changed(&scene.member)]);

    task.abort();
    drop(relay);
    database.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endings_are_reported_in_process_and_notified_to_the_feed() {
    let Some(admin) = admin_url() else { return };
    let database = TestDatabase::create(&admin).await.unwrap();
    let recorder = Recorder::new();
    let storage = PostgresStorage::connect(database.url())
        .await
        .unwrap()
        .with_access_observer(recorder.clone());
    storage_contract::access::token_endings_are_reported_before_returning(
        &Stores::of(storage),
        &recorder,
    )
    .await;

    // Another server's revocation and new password reach this one through the feed.
    let stores = Stores::of(PostgresStorage::connect(database.url()).await.unwrap());
    let (recorder, task) = feed(database.url()).await;
    let org = stores
        .organizations
        .organization_by_name(&domain::OrganizationName::parse("Access").unwrap())
        .await
        .unwrap()
        .unwrap();
    let member = stores
        .users
        .user_by_email(
            org.id,
            &domain::Email::parse("member@access.example").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    let token = domain::RefreshToken::issue("feed".into(), org.id, member.id, domain::now());
    stores
        .credentials
        .insert_refresh_token(&token)
        .await
        .unwrap();
    stores
        .credentials
        .revoke_refresh_family(&token, domain::now(), None)
        .await
        .unwrap();
    let heard = recorder
        .wait_until(DEADLINE, |heard| !heard.is_empty())
        .await;
    assert_eq!(heard, [changed(&member)]);
    stores
        .credentials
        .set_password_hash(
            org.id,
            member.id,
            "$argon2id$y",
            domain::now(),
            &draft(org.id),
        )
        .await
        .unwrap();
    let heard = recorder
        .wait_until(DEADLINE, |heard| !heard.is_empty())
        .await;
    assert_eq!(heard, [changed(&member)]);

    task.abort();
    database.drop_database().await.unwrap();
}
