//! The actor cache: a verified access token's user as last loaded, so that authenticating a
//! request costs no storage round trip in the common case.
//!
//! Entries are dropped on every [`AccessChange`] storage reports (this server's writes before
//! they return, other servers' through the PostgreSQL feed), so a deleted or demoted user's
//! next request sees the change. Two bounds keep it safe and small: at most
//! [`ActorCacheSettings::capacity`] entries (the oldest goes first), and none older than
//! [`ActorCacheSettings::max_age`], a safety net should a change ever go unreported.
//!
//! A load that started before an invalidation must not be stored after it: every
//! invalidation advances a generation, a load takes a [`Ticket`] (the generation) before it
//! reads storage, and the entry is stored only if the generation is still the ticket's,
//! checked under the same lock the invalidation takes to remove entries.
//!
//! While the feed of other servers' changes is down, nothing is served from the cache and
//! nothing is stored in it; it is flushed when the feed is lost and again when it is back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use domain::{Caller, OrganizationId, UserId};
use ports::{AccessChange, AccessObserver};

/// Shards of the map: requests for different users rarely wait for one another's lock.
const SHARDS: usize = 16;

/// The default entry cap: about 1 MB of entries.
pub const DEFAULT_ACTOR_CACHE_CAPACITY: usize = 10_000;

/// The default maximum age of an entry: a safety net, not the invalidation path.
pub const DEFAULT_ACTOR_CACHE_MAX_AGE: Duration = Duration::from_secs(60);

/// How big the cache may grow and how long an entry may be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActorCacheSettings {
    /// At most this many users are cached; 0 turns the cache off.
    pub capacity: usize,
    /// An entry older than this is loaded again, even if no change was reported.
    pub max_age: Duration,
}

impl Default for ActorCacheSettings {
    /// [`DEFAULT_ACTOR_CACHE_CAPACITY`] entries, [`DEFAULT_ACTOR_CACHE_MAX_AGE`].
    fn default() -> Self {
        ActorCacheSettings {
            capacity: DEFAULT_ACTOR_CACHE_CAPACITY,
            max_age: DEFAULT_ACTOR_CACHE_MAX_AGE,
        }
    }
}

/// Who else changes the users the cache holds, which says when it may be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeSources {
    /// Only this server writes the database (SQLite: one server per file). Its own writes
    /// report themselves, so the cache is trusted from the start.
    ThisServerOnly,
    /// Other servers write it too (PostgreSQL). The cache is bypassed until the feed of their
    /// changes reports itself up ([`AccessObserver::feed_resumed`]).
    OtherServersToo,
}

/// The generation a load started in; see [`ActorCache::ticket`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

/// Where the cache reads the time; tests move it by hand.
type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// Callers as last loaded, keyed by user. Cheap to clone: clones share the entries.
#[derive(Clone)]
pub struct ActorCache {
    inner: Arc<Inner>,
}

struct Inner {
    shards: Box<[Mutex<HashMap<UserId, Entry>>]>,
    per_shard: usize,
    max_age: Duration,
    generation: AtomicU64,
    live: AtomicBool,
    clock: Clock,
}

#[derive(Debug, Clone)]
struct Entry {
    caller: Caller,
    loaded_at: Instant,
}

impl std::fmt::Debug for ActorCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorCache")
            .field("per_shard", &self.inner.per_shard)
            .field("max_age", &self.inner.max_age)
            .field("live", &self.inner.live.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl ActorCache {
    /// An empty cache bounded by `settings`, trusted at once or only once the feed of other
    /// servers' changes is up, as `sources` says.
    pub fn new(settings: ActorCacheSettings, sources: ChangeSources) -> Self {
        Self::with_clock(settings, sources, Arc::new(Instant::now))
    }

    fn with_clock(settings: ActorCacheSettings, sources: ChangeSources, clock: Clock) -> Self {
        let per_shard = settings.capacity.div_ceil(SHARDS);
        ActorCache {
            inner: Arc::new(Inner {
                shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
                per_shard,
                max_age: settings.max_age,
                generation: AtomicU64::new(0),
                live: AtomicBool::new(sources == ChangeSources::ThisServerOnly),
                clock,
            }),
        }
    }

    /// The cached caller for `user` of `organization`, if fresh and the cache is trusted.
    pub fn get(&self, organization: OrganizationId, user: UserId) -> Option<Caller> {
        let inner = &self.inner;
        if inner.per_shard == 0 || !inner.live.load(Ordering::SeqCst) {
            return None;
        }
        let now = (inner.clock)();
        let mut shard = inner.shard(user);
        let entry = shard.get(&user)?;
        if now.saturating_duration_since(entry.loaded_at) >= inner.max_age {
            shard.remove(&user);
            return None;
        }
        (entry.caller.actor.organization_id == organization).then(|| entry.caller.clone())
    }

    /// Taken before loading a user from storage; [`ActorCache::insert`] stores the result
    /// only if nothing was invalidated since.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.inner.generation.load(Ordering::SeqCst))
    }

    /// Stores `caller` as loaded under `ticket`, unless an invalidation came in between or the
    /// cache is not trusted now.
    pub fn insert(&self, ticket: Ticket, caller: Caller) {
        let inner = &self.inner;
        if inner.per_shard == 0 {
            return;
        }
        let now = (inner.clock)();
        let user = caller.actor.user_id;
        let mut shard = inner.shard(user);
        // Under the shard's lock, which every invalidation takes after advancing the
        // generation: either it sees this entry and removes it, or this sees the new
        // generation and stores nothing.
        if !inner.live.load(Ordering::SeqCst) || inner.generation.load(Ordering::SeqCst) != ticket.0
        {
            return;
        }
        if shard.len() >= inner.per_shard && !shard.contains_key(&user) {
            shard.retain(|_, entry| now.saturating_duration_since(entry.loaded_at) < inner.max_age);
            if shard.len() >= inner.per_shard
                && let Some(oldest) = shard
                    .iter()
                    .min_by_key(|(_, entry)| entry.loaded_at)
                    .map(|(user, _)| *user)
            {
                shard.remove(&oldest);
            }
        }
        shard.insert(
            user,
            Entry {
                caller,
                loaded_at: now,
            },
        );
    }

    /// How many entries are held now (expired ones included until they are looked at).
    pub fn len(&self) -> usize {
        self.inner
            .shards
            .iter()
            .map(|shard| lock(shard).len())
            .sum()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Inner {
    fn shard(&self, user: UserId) -> MutexGuard<'_, HashMap<UserId, Entry>> {
        // The last byte of a random (v4) or time-ordered (v7) UUID is random.
        let index = usize::from(user.uuid().as_bytes()[15]) % SHARDS;
        lock(&self.shards[index])
    }

    /// Makes every load in flight unstorable; called before entries are removed.
    fn advance(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn flush(&self) {
        for shard in &self.shards {
            lock(shard).clear();
        }
    }
}

/// A poisoned shard only means a panic elsewhere while it was held; its entries are whole.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl AccessObserver for ActorCache {
    fn access_changed(&self, change: AccessChange) {
        let inner = &self.inner;
        inner.advance();
        match change {
            AccessChange::User(user) => {
                inner.shard(user).remove(&user);
            }
            AccessChange::Customer(customer) => {
                for shard in &inner.shards {
                    lock(shard).retain(|_, entry| entry.caller.actor.customer_id != Some(customer));
                }
            }
            AccessChange::Everyone => inner.flush(),
        }
    }

    fn feed_lost(&self) {
        let inner = &self.inner;
        inner.live.store(false, Ordering::SeqCst);
        inner.advance();
        inner.flush();
        tracing::warn!(
            "the feed of other servers' access changes is down: callers are loaded on every request until it is back"
        );
    }

    fn feed_resumed(&self) {
        let inner = &self.inner;
        inner.advance();
        inner.flush();
        inner.live.store(true, Ordering::SeqCst);
        tracing::info!("the feed of other servers' access changes is up: callers are cached");
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A cache whose clock the test moves.

    use std::sync::Mutex;

    use super::*;

    /// A settable time, shared with the cache it drives.
    #[derive(Clone)]
    pub(crate) struct ManualClock(Arc<Mutex<Instant>>);

    impl ManualClock {
        pub(crate) fn new() -> Self {
            ManualClock(Arc::new(Mutex::new(Instant::now())))
        }

        pub(crate) fn advance(&self, by: Duration) {
            *self.0.lock().unwrap() += by;
        }

        pub(crate) fn cache(&self, settings: ActorCacheSettings) -> ActorCache {
            let clock = self.0.clone();
            ActorCache::with_clock(
                settings,
                ChangeSources::ThisServerOnly,
                Arc::new(move || *clock.lock().unwrap()),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use domain::{Actor, CustomerId, OrganizationId, Role, RoleKind, User};
    use ports::repository::MockCredentialRepository;
    use ports::{AuthError, Authenticator};

    use super::testing::ManualClock;
    use super::*;
    use crate::testing::{caller, user};
    use crate::{TokenAuthenticator, TokenService};

    fn tokens() -> TokenService {
        TokenService::new(&[7; 32]).unwrap()
    }

    fn authenticator(users: MockCredentialRepository, cache: &ActorCache) -> TokenAuthenticator {
        TokenAuthenticator::new(tokens(), Arc::new(users), cache.clone())
    }

    fn plain(actor: Actor) -> Caller {
        Caller {
            actor,
            token_generation: 0,
            revoked_sessions: Arc::from([]),
        }
    }

    fn cache(sources: ChangeSources) -> ActorCache {
        ActorCache::new(ActorCacheSettings::default(), sources)
    }

    fn with_role(user: &User, kind: RoleKind) -> User {
        let mut changed = user.clone();
        changed.role = Role::generate(kind);
        changed
    }

    /// `user()` answers with each of `answers` in turn (then fails the test).
    fn users_answering(answers: Vec<Option<User>>) -> MockCredentialRepository {
        let answers = Mutex::new(answers.into_iter());
        let mut users = MockCredentialRepository::new();
        let count = answers.lock().unwrap().len();
        users
            .expect_caller()
            .times(count)
            .returning(move |_, _, _| {
                Ok(answers
                    .lock()
                    .unwrap()
                    .next()
                    .flatten()
                    .as_ref()
                    .map(caller))
            });
        users
    }

    #[tokio::test]
    async fn a_cached_caller_costs_no_lookup() {
        let me = user(OrganizationId::generate(), None, RoleKind::Integrator);
        let token = tokens().issue(&Actor::of(&me), 0, None).unwrap().token;
        let cache = cache(ChangeSources::ThisServerOnly);
        let auth = authenticator(users_answering(vec![Some(me.clone())]), &cache);
        for _ in 0..3 {
            let actor = auth.authenticate(&token).await.unwrap();
            assert_eq!(actor, Actor::of(&me));
        }
        assert_eq!(cache.len(), 1);
    }

    #[tokio::test]
    async fn a_reported_change_of_the_user_reloads_it_and_a_deletion_refuses_it() {
        let me = user(OrganizationId::generate(), None, RoleKind::Admin);
        let token = tokens().issue(&Actor::of(&me), 0, None).unwrap().token;
        let demoted = with_role(&me, RoleKind::Integrator);
        let cache = cache(ChangeSources::ThisServerOnly);
        let auth = authenticator(
            users_answering(vec![Some(me.clone()), Some(demoted), None]),
            &cache,
        );
        assert_eq!(
            auth.authenticate(&token).await.unwrap().role,
            RoleKind::Admin
        );
        cache.access_changed(AccessChange::User(me.id));
        assert_eq!(
            auth.authenticate(&token).await.unwrap().role,
            RoleKind::Integrator,
            "demoted at the next request"
        );
        assert_eq!(
            auth.authenticate(&token).await.unwrap().role,
            RoleKind::Integrator,
            "and cached again"
        );
        cache.access_changed(AccessChange::User(me.id));
        let error = auth.authenticate(&token).await.unwrap_err();
        assert!(matches!(error, AuthError::Unauthenticated), "{error:?}");
    }

    #[tokio::test]
    async fn other_users_changes_leave_an_entry_and_its_customers_deletion_drops_it() {
        let org = OrganizationId::generate();
        let customer = CustomerId::generate();
        let me = user(org, Some(customer), RoleKind::CustomerMember);
        let token = tokens().issue(&Actor::of(&me), 0, None).unwrap().token;
        let cache = cache(ChangeSources::ThisServerOnly);
        let auth = authenticator(
            users_answering(vec![Some(me.clone()), Some(me.clone()), Some(me.clone())]),
            &cache,
        );
        auth.authenticate(&token).await.unwrap();
        cache.access_changed(AccessChange::User(UserId::generate()));
        cache.access_changed(AccessChange::Customer(CustomerId::generate()));
        auth.authenticate(&token).await.unwrap();
        assert_eq!(cache.len(), 1, "still cached: one lookup so far");
        cache.access_changed(AccessChange::Customer(customer));
        assert!(cache.is_empty());
        auth.authenticate(&token).await.unwrap();
        cache.access_changed(AccessChange::Everyone);
        assert!(cache.is_empty());
        auth.authenticate(&token).await.unwrap();
    }

    #[tokio::test]
    async fn a_load_that_started_before_an_invalidation_is_not_stored() {
        let me = user(OrganizationId::generate(), None, RoleKind::Owner);
        let token = tokens().issue(&Actor::of(&me), 0, None).unwrap().token;
        let demoted = with_role(&me, RoleKind::Integrator);
        let cache = cache(ChangeSources::ThisServerOnly);
        let mut users = MockCredentialRepository::new();
        let mut sequence = mockall::Sequence::new();
        // The first read returns the user as it was, but the change is reported while the
        // read is in flight (after the read, before the result is stored).
        let (stale, racing, id) = (me.clone(), cache.clone(), me.id);
        users
            .expect_caller()
            .times(1)
            .in_sequence(&mut sequence)
            .returning(move |_, _, _| {
                racing.access_changed(AccessChange::User(id));
                Ok(Some(caller(&stale)))
            });
        users
            .expect_caller()
            .times(1)
            .in_sequence(&mut sequence)
            .returning(move |_, _, _| Ok(Some(caller(&demoted))));
        let auth = authenticator(users, &cache);
        assert_eq!(
            auth.authenticate(&token).await.unwrap().role,
            RoleKind::Owner,
            "the request in flight gets what it read"
        );
        assert!(cache.is_empty(), "but its stale read is not kept");
        assert_eq!(
            auth.authenticate(&token).await.unwrap().role,
            RoleKind::Integrator
        );
    }

    #[test]
    fn the_cache_holds_at_most_its_capacity_and_drops_the_oldest_first() {
        let clock = ManualClock::new();
        let cache = clock.cache(ActorCacheSettings {
            capacity: 64,
            max_age: DEFAULT_ACTOR_CACHE_MAX_AGE,
        });
        let org = OrganizationId::generate();
        let first = Actor::of(&user(org, None, RoleKind::Admin));
        cache.insert(cache.ticket(), plain(first));
        let mut last = first;
        for _ in 0..1000 {
            clock.advance(Duration::from_millis(1));
            last = Actor::of(&user(org, None, RoleKind::Admin));
            cache.insert(cache.ticket(), plain(last));
            assert!(cache.len() <= 64, "{} entries", cache.len());
        }
        assert!(cache.len() >= 64 - SHARDS, "{} entries", cache.len());
        assert_eq!(
            cache.get(org, last.user_id).map(|c| c.actor),
            Some(last),
            "the newest stays"
        );
        assert_eq!(
            cache.get(org, first.user_id).map(|c| c.actor),
            None,
            "the oldest went"
        );
    }

    #[test]
    fn a_zero_capacity_turns_the_cache_off() {
        let cache = ActorCache::new(
            ActorCacheSettings {
                capacity: 0,
                max_age: DEFAULT_ACTOR_CACHE_MAX_AGE,
            },
            ChangeSources::ThisServerOnly,
        );
        let actor = Actor::of(&user(OrganizationId::generate(), None, RoleKind::Admin));
        cache.insert(cache.ticket(), plain(actor));
        assert_eq!(
            cache
                .get(actor.organization_id, actor.user_id)
                .map(|c| c.actor),
            None
        );
        assert!(cache.is_empty());
    }

    #[tokio::test]
    async fn an_entry_is_served_until_its_maximum_age_then_loaded_again() {
        let me = user(OrganizationId::generate(), None, RoleKind::Admin);
        let token = tokens().issue(&Actor::of(&me), 0, None).unwrap().token;
        let clock = ManualClock::new();
        let cache = clock.cache(ActorCacheSettings {
            capacity: 100,
            max_age: Duration::from_secs(60),
        });
        let demoted = with_role(&me, RoleKind::Integrator);
        let auth = authenticator(
            users_answering(vec![Some(me.clone()), Some(demoted)]),
            &cache,
        );
        assert_eq!(
            auth.authenticate(&token).await.unwrap().role,
            RoleKind::Admin
        );
        clock.advance(Duration::from_secs(59));
        assert_eq!(
            auth.authenticate(&token).await.unwrap().role,
            RoleKind::Admin,
            "59 s old: served"
        );
        clock.advance(Duration::from_secs(1));
        assert_eq!(
            auth.authenticate(&token).await.unwrap().role,
            RoleKind::Integrator,
            "60 s old: loaded again, even without a reported change"
        );
    }

    #[tokio::test]
    async fn without_the_feed_of_other_servers_every_request_loads_its_caller() {
        let me = user(OrganizationId::generate(), None, RoleKind::Admin);
        let token = tokens().issue(&Actor::of(&me), 0, None).unwrap().token;
        let cache = cache(ChangeSources::OtherServersToo);
        let answers = vec![Some(me.clone()); 5];
        let auth = authenticator(users_answering(answers), &cache);
        // Not trusted until the feed is up: two lookups.
        auth.authenticate(&token).await.unwrap();
        auth.authenticate(&token).await.unwrap();
        assert!(cache.is_empty());
        // Up: one lookup, then hits.
        cache.feed_resumed();
        auth.authenticate(&token).await.unwrap();
        auth.authenticate(&token).await.unwrap();
        assert_eq!(cache.len(), 1);
        // Lost: flushed, and bypassed (two lookups, nothing stored).
        cache.feed_lost();
        assert!(cache.is_empty());
        auth.authenticate(&token).await.unwrap();
        let ticket = cache.ticket();
        auth.authenticate(&token).await.unwrap();
        cache.insert(ticket, caller(&me));
        assert!(cache.is_empty(), "nothing is stored while the feed is down");
    }

    #[test]
    fn a_load_from_before_the_feed_came_back_is_not_stored() {
        let cache = cache(ChangeSources::OtherServersToo);
        let actor = Actor::of(&user(OrganizationId::generate(), None, RoleKind::Admin));
        let ticket = cache.ticket();
        cache.feed_resumed();
        cache.insert(ticket, plain(actor));
        assert!(cache.is_empty());
        cache.insert(cache.ticket(), plain(actor));
        assert_eq!(
            cache
                .get(actor.organization_id, actor.user_id)
                .map(|c| c.actor),
            Some(actor)
        );
    }

    #[test]
    fn an_entry_answers_only_for_its_own_organization() {
        let cache = cache(ChangeSources::ThisServerOnly);
        let actor = Actor::of(&user(OrganizationId::generate(), None, RoleKind::Admin));
        cache.insert(cache.ticket(), plain(actor));
        assert_eq!(
            cache
                .get(OrganizationId::generate(), actor.user_id)
                .map(|c| c.actor),
            None
        );
        assert_eq!(
            cache
                .get(actor.organization_id, actor.user_id)
                .map(|c| c.actor),
            Some(actor)
        );
    }
}
