//! The directory contract suite, four ways: the local `service::Directory` (with the
//! `WebhookService` beside it, as a server wires them) over SQLite and PostgreSQL, and the
//! GraphQL client talking to a real spawned server on SQLite and PostgreSQL. Same checks each time; PostgreSQL variants skip loudly without
//! `ROSTER_TEST_POSTGRES_URL` (and fail under `CI`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed expectation panics"
)]

#[path = "../common/scratch.rs"]
mod scratch;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use app::{Application, ServeSettings};
use async_trait::async_trait;
use directory_client::{Client, ClientConfig};
use directory_contract::{Harness, Session};
use domain::events::{EventType, Origin};
use domain::listing::{CustomerQuery, Page, UserQuery};
use domain::webhooks::{WebhookEndpoint, WebhookEndpointDraft, WebhookEndpointPatchDraft};
use domain::{
    Actor, Customer, CustomerId, CustomerPatch, NewCustomer, NewUser, Organization, Role, RoleId,
    Timestamp, User, UserId, UserPatch, Version, WebhookEndpointId,
};
use http_api::ApiConfig;
use ports::{
    DeliveryPage, DirectoryError, EndpointPage, EndpointWithSecret, EventPage, EventQuery,
};
use service::WebhookService;
use service::{Directory, Provisioning, Repositories, TokenService};
use tokio::sync::oneshot;
use uuid::Uuid;

#[derive(Debug, Clone, Copy)]
enum Engine {
    Sqlite,
    Postgres,
}

/// A fresh database URL, or `None` to skip PostgreSQL outside CI.
async fn fresh_database(engine: Engine) -> Option<String> {
    match engine {
        Engine::Sqlite => Some(format!(
            "sqlite://{}",
            scratch::sqlite_file("roster-directory").display()
        )),
        Engine::Postgres => {
            let admin = storage_postgres::testing::admin_url()?;
            Some(
                storage_postgres::testing::fresh_database(&admin)
                    .await
                    .expect("fresh PostgreSQL database"),
            )
        }
    }
}

/// Removes a SQLite database's files when the harness goes.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(path) = self.0.strip_prefix("sqlite://") {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(PathBuf::from(format!("{path}{suffix}")));
            }
        }
    }
}

/// The local use-case layer as a server wires it: the directory, and the webhook endpoints'
/// own service beside it, as one object.
struct LocalDirectories {
    directory: Directory,
    webhooks: WebhookService,
}

/// Implements a port for [`LocalDirectories`] by forwarding each method to the part that
/// implements it.
macro_rules! forward {
    ($port:path, $part:ident: $( async fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty; )*) => {
        #[async_trait]
        impl $port for LocalDirectories {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    self.$part.$name($($arg),*).await
                }
            )*
        }
    };
}

forward! { ports::CustomerDirectory, directory:
    async fn customer(&self, actor: &Actor, id: CustomerId) -> Result<Customer, DirectoryError>;
    async fn customers_by_ids(&self, actor: &Actor, ids: &[CustomerId]) -> Result<Vec<Customer>, DirectoryError>;
    async fn customers(&self, actor: &Actor, query: &CustomerQuery) -> Result<Page<Customer>, DirectoryError>;
    async fn create_customer(&self, origin: &Origin, customer: NewCustomer) -> Result<Customer, DirectoryError>;
    async fn update_customer(&self, origin: &Origin, id: CustomerId, patch: CustomerPatch, expected: Option<Version>) -> Result<Customer, DirectoryError>;
    async fn delete_customer(&self, origin: &Origin, id: CustomerId, expected: Option<Version>) -> Result<Customer, DirectoryError>;
}

forward! { ports::UserDirectory, directory:
    async fn me(&self, actor: &Actor) -> Result<User, DirectoryError>;
    async fn user(&self, actor: &Actor, id: UserId) -> Result<User, DirectoryError>;
    async fn users(&self, actor: &Actor, query: &UserQuery) -> Result<Page<User>, DirectoryError>;
    async fn users_of_customers(&self, actor: &Actor, customers: &[CustomerId], query: &UserQuery) -> Result<Vec<(CustomerId, Page<User>)>, DirectoryError>;
    async fn create_organization_user(&self, origin: &Origin, user: NewUser) -> Result<User, DirectoryError>;
    async fn create_customer_user(&self, origin: &Origin, customer: Option<CustomerId>, user: NewUser) -> Result<User, DirectoryError>;
    async fn update_user(&self, origin: &Origin, id: UserId, patch: UserPatch, expected: Option<Version>) -> Result<User, DirectoryError>;
    async fn set_user_active(&self, origin: &Origin, id: UserId, active: bool, expected: Option<Version>) -> Result<User, DirectoryError>;
    async fn delete_user(&self, origin: &Origin, id: UserId, expected: Option<Version>) -> Result<User, DirectoryError>;
}

forward! { ports::RoleDirectory, directory:
    async fn organization_roles(&self, actor: &Actor) -> Result<Vec<Role>, DirectoryError>;
    async fn customer_roles(&self, actor: &Actor) -> Result<Vec<Role>, DirectoryError>;
    async fn role(&self, actor: &Actor, id: RoleId) -> Result<Role, DirectoryError>;
}

forward! { ports::OrganizationDirectory, directory:
    async fn organization(&self, actor: &Actor) -> Result<Organization, DirectoryError>;
}

forward! { ports::EventDirectory, directory:
    async fn events(&self, actor: &Actor, query: &EventQuery) -> Result<EventPage, DirectoryError>;
    async fn next_events(&self, actor: &Actor, after: Option<u64>, types: &[EventType], limit: u32, wait: Duration) -> Result<EventPage, DirectoryError>;
}

forward! { ports::WebhookDirectory, webhooks:
    async fn create_webhook_endpoint(&self, origin: &Origin, draft: WebhookEndpointDraft) -> Result<EndpointWithSecret, DirectoryError>;
    async fn update_webhook_endpoint(&self, origin: &Origin, id: WebhookEndpointId, patch: WebhookEndpointPatchDraft) -> Result<WebhookEndpoint, DirectoryError>;
    async fn delete_webhook_endpoint(&self, origin: &Origin, id: WebhookEndpointId) -> Result<WebhookEndpoint, DirectoryError>;
    async fn rotate_webhook_secret(&self, origin: &Origin, id: WebhookEndpointId) -> Result<EndpointWithSecret, DirectoryError>;
    async fn webhook_endpoint(&self, actor: &Actor, id: WebhookEndpointId) -> Result<WebhookEndpoint, DirectoryError>;
    async fn webhook_endpoints(&self, actor: &Actor, after: Option<WebhookEndpointId>, first: u32) -> Result<EndpointPage, DirectoryError>;
    async fn deliveries(&self, actor: &Actor, endpoint: WebhookEndpointId, before: Option<Uuid>, first: u32) -> Result<DeliveryPage, DirectoryError>;
    async fn redeliver_event(&self, actor: &Actor, endpoint: WebhookEndpointId, event: Uuid) -> Result<(), DirectoryError>;
    async fn replay_webhook(&self, actor: &Actor, endpoint: WebhookEndpointId, since: Timestamp) -> Result<u64, DirectoryError>;
}

/// The local use-case layer over real storage.
struct Local {
    directory: Arc<LocalDirectories>,
    owner: Actor,
    _cleanup: Cleanup,
}

#[async_trait]
impl Harness for Local {
    async fn owner(&self) -> Session {
        Session {
            directory: self.directory.clone(),
            actor: self.owner,
        }
    }

    async fn as_user(&self, user: &User) -> Session {
        Session {
            directory: self.directory.clone(),
            actor: Actor::of(user),
        }
    }
}

async fn local(engine: Engine) -> Option<Box<dyn Harness>> {
    let url = fresh_database(engine).await?;
    let cleanup = Cleanup(url.clone());
    let storage = app::open_storage(&url, &app::PoolSettings::default(), None)
        .await
        .expect("storage opens");
    let repos = storage.repos;
    let (_, owner) = Provisioning::new(repos.clone())
        .bootstrap()
        .await
        .expect("bootstrap")
        .expect("an empty database is bootstrapped");
    // As a server without `--webhooks-allow-private`.
    let webhooks = WebhookService::new(
        storage.webhooks,
        repos.customers.clone(),
        repos.events.clone(),
        false,
    );
    Some(Box::new(Local {
        directory: Arc::new(LocalDirectories {
            directory: Directory::new(repos),
            webhooks,
        }),
        owner: Actor::of(&owner),
        _cleanup: cleanup,
    }))
}

/// The GraphQL client against a spawned server.
struct Remote {
    address: std::net::SocketAddr,
    owner: Client,
    repos: Repositories,
    shutdown: Option<oneshot::Sender<()>>,
    _cleanup: Cleanup,
}

impl Remote {
    async fn session(&self, client: Client) -> Session {
        let actor = client.actor().await.expect("the token authenticates");
        Session {
            directory: Arc::new(client),
            actor,
        }
    }

    fn client(&self, token: &str) -> Client {
        Client::new(ClientConfig::new(format!("http://{}", self.address), token))
            .expect("client builds")
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

#[async_trait]
impl Harness for Remote {
    async fn owner(&self) -> Session {
        self.session(self.owner.clone()).await
    }

    async fn as_user(&self, user: &User) -> Session {
        let tokens = TokenService::load(None, self.repos.secrets.as_ref())
            .await
            .expect("signing key");
        let ttl = tokens.settings().access_ttl;
        let token = Provisioning::new(self.repos.clone())
            .operator_token(&tokens, user, ttl)
            .await
            .expect("token")
            .token;
        self.session(self.client(&token)).await
    }
}

/// A webhook sender that sends nothing: every attempt fails at once.
struct NoSender;

#[async_trait]
impl ports::WebhookSender for NoSender {
    async fn post(
        &self,
        _request: &ports::WebhookRequest,
    ) -> Result<ports::WebhookResponse, ports::WebhookSendError> {
        Err(ports::WebhookSendError::Failed(
            "the contract harness sends nothing".into(),
        ))
    }
}

async fn remote(engine: Engine) -> Option<Box<dyn Harness>> {
    Some(Box::new(spawn_remote(engine).await?))
}

async fn spawn_remote(engine: Engine) -> Option<Remote> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = fresh_database(engine).await?;
    let cleanup = Cleanup(url.clone());
    let app = Application::build(ServeSettings {
        listen: "127.0.0.1:0".parse().expect("address"),
        database_url: url.clone(),
        token_secret: None,
        tokens: service::TokenSettings::default(),
        api: ApiConfig::default(),
        mail: app::MailSettings::default(),
        connections: app::ConnectionSettings::default(),
        pool: app::PoolSettings::default(),
        actor_cache: service::ActorCacheSettings::default(),
        webhooks: app::WebhookSettings::default(),
    })
    .await
    .expect("server builds")
    // Deliveries go nowhere: no traffic leaves the machine.
    .with_webhook_sender(Arc::new(NoSender));
    let address = app.local_addr().expect("bound");
    let owner_token = app.bootstrap().expect("bootstrapped").token.token.clone();
    let (shutdown, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let repos = app::open_repositories(&url)
        .await
        .expect("operator connection");
    let mut remote = Remote {
        address,
        owner: Client::new(ClientConfig::new("http://127.0.0.1", "unused")).expect("client"),
        repos,
        shutdown: Some(shutdown),
        _cleanup: cleanup,
    };
    remote.owner = remote.client(&owner_token);
    Some(remote)
}

mod local_sqlite {
    async fn fresh() -> Option<Box<dyn directory_contract::Harness>> {
        super::local(super::Engine::Sqlite).await
    }
    directory_contract::directory_contract_tests!(fresh);
}

mod local_postgres {
    async fn fresh() -> Option<Box<dyn directory_contract::Harness>> {
        super::local(super::Engine::Postgres).await
    }
    directory_contract::directory_contract_tests!(fresh);
}

mod client_sqlite {
    async fn fresh() -> Option<Box<dyn directory_contract::Harness>> {
        super::remote(super::Engine::Sqlite).await
    }
    directory_contract::directory_contract_tests!(fresh);
}

mod client_postgres {
    async fn fresh() -> Option<Box<dyn directory_contract::Harness>> {
        super::remote(super::Engine::Postgres).await
    }
    directory_contract::directory_contract_tests!(fresh);
}

/// The client's streams page through listings longer than one page: each row once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_streams_page_past_the_first_page() {
    use domain::listing::{CustomerQuery, UserFilter, UserQuery};
    use domain::{CustomerDraft, NewCustomer};
    use futures::TryStreamExt as _;
    use ports::CustomerDirectory as _;

    let remote = spawn_remote(Engine::Sqlite)
        .await
        .expect("SQLite always runs");
    let client = remote.owner.clone();
    let actor = client.actor().await.unwrap();
    let mut names: Vec<String> = (0..130).map(|i| format!("Customer {i:03}")).collect();
    for name in names.iter().rev() {
        let customer = NewCustomer::parse(CustomerDraft {
            name: name.clone(),
            ..CustomerDraft::default()
        })
        .unwrap();
        let origin = domain::events::Origin::user(actor, Default::default());
        client.create_customer(&origin, customer).await.unwrap();
    }
    names.sort();
    let streamed: Vec<String> = client
        .customer_stream(CustomerQuery::default())
        .map_ok(|c| c.name.to_string())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed, names);
    let mut small_pages = CustomerQuery::default();
    small_pages.page.first = Some(7);
    small_pages.filter.name_istartswith = Some("customer 1".into());
    let count = client
        .customer_stream(small_pages)
        .try_fold(0, |n, _| async move { Ok(n + 1) })
        .await
        .unwrap();
    assert_eq!(count, 30, "Customer 100..=129, seven at a time");
    let team = UserQuery {
        filter: UserFilter {
            customer_isnull: Some(true),
            ..UserFilter::default()
        },
        ..UserQuery::default()
    };
    let users: Vec<_> = client.user_stream(team).try_collect().await.unwrap();
    assert_eq!(users.len(), 1, "the owner");
}
