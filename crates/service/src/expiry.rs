//! The invitation expiry sweep: logs one `invitation.expired`, by Roster, for each pending
//! invitation whose link has passed its expiry. Each is marked with its event in one
//! storage write whose guard is "still that link, pending, expired and unmarked", so
//! servers sweeping the same database at once log each expiry once, and a write that fails
//! logs nothing (the next sweep finds it again).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use domain::Timestamp;
use domain::events::{ActorKind, EventActor};
use futures::FutureExt as _;
use ports::{InvitationRepository, RepoError};

use crate::events::{self, Change};

/// How often the sweep runs and how much it reads at once; the defaults suit production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpirySettings {
    /// How often the sweep runs (the first time at start).
    pub every: Duration,
    /// Most invitations one read hands the sweep, so no statement reads without bound.
    pub batch: u32,
}

impl Default for ExpirySettings {
    fn default() -> Self {
        ExpirySettings {
            every: Duration::from_secs(60),
            batch: 500,
        }
    }
}

/// Logs the expiry of invitations, until told to stop.
#[derive(Clone)]
pub struct InvitationExpiry {
    invitations: Arc<dyn InvitationRepository>,
    settings: ExpirySettings,
}

impl InvitationExpiry {
    /// A sweep of `invitations` paced by `settings`.
    pub fn new(invitations: Arc<dyn InvitationRepository>, settings: ExpirySettings) -> Self {
        InvitationExpiry {
            invitations,
            settings,
        }
    }

    /// The same sweep, paced by `settings`.
    #[must_use]
    pub fn with_settings(self, settings: ExpirySettings) -> Self {
        InvitationExpiry { settings, ..self }
    }

    /// Logs every invitation expired at `now` and not logged yet, batch after batch until a
    /// batch comes back short (or marks none: the others were logged meanwhile by another
    /// server), and says how many this call logged.
    ///
    /// # Errors
    /// The first read or write that fails; what was logged before it stays logged.
    pub async fn sweep(&self, now: Timestamp) -> Result<u64, RepoError> {
        self.sweep_while(now, || true).await
    }

    /// As [`InvitationExpiry::sweep`], asking `go_on` before each batch.
    #[tracing::instrument(level = "error", skip_all, name = "invitations.expire")]
    async fn sweep_while(
        &self,
        now: Timestamp,
        mut go_on: impl FnMut() -> bool,
    ) -> Result<u64, RepoError> {
        // A batch of 0 would never come back short.
        let batch = self.settings.batch.max(1);
        let mut expired = 0;
        while go_on() {
            let found = self.invitations.expiring_invitations(now, batch).await?;
            let mut marked = 0;
            for expiring in &found {
                let event = events::untagged(
                    EventActor::without_user(ActorKind::System),
                    Change::InvitationExpired {
                        invitation: &expiring.invitation,
                        customer: expiring.customer_id,
                        at: now,
                    },
                );
                if self
                    .invitations
                    .expire_invitation(&expiring.invitation, now, &event)
                    .await?
                {
                    marked += 1;
                }
            }
            expired += marked;
            if found.len() < usize::try_from(batch).unwrap_or(usize::MAX) || marked == 0 {
                break;
            }
        }
        Ok(expired)
    }

    /// Sweeps at once and then every `every` until `shutdown` completes; a sweep in
    /// progress stops after its current batch. A failed sweep is logged and retried at the
    /// next run.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) {
        // A zero interval would spin; 10 ms is the least that makes sense.
        let every = self.settings.every.max(Duration::from_millis(10));
        tokio::pin!(shutdown);
        loop {
            let mut stopped = false;
            let result = self
                .sweep_while(domain::now(), || {
                    stopped = stopped || shutdown.as_mut().now_or_never().is_some();
                    !stopped
                })
                .await;
            match result {
                Ok(0) => {}
                Ok(expired) => tracing::info!(expired, "logged expired invitations"),
                Err(error) => tracing::warn!(
                    %error,
                    "could not log expired invitations; the next run tries again"
                ),
            }
            if stopped {
                return;
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use domain::events::{EventType, Subject};
    use domain::{CustomerId, Invitation, OrganizationId, UserId};
    use ports::repository::MockInvitationRepository;
    use ports::{EventDraft, ExpiringInvitation};

    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_timestamp(1_790_000_000 + seconds, 0).unwrap()
    }

    fn expiring(org: OrganizationId, customer: Option<CustomerId>) -> ExpiringInvitation {
        ExpiringInvitation {
            invitation: Invitation::issue(org, UserId::generate(), "secret-hash".into(), at(0)),
            customer_id: customer,
        }
    }

    /// A repository holding `pending` expired invitations, handing them out in batches and
    /// marking those `marks` lets it (the others: logged meanwhile by another server);
    /// records each batch's limit and each event appended.
    fn repository(
        pending: Vec<ExpiringInvitation>,
        marks: impl Fn(&Invitation) -> bool + Send + Sync + 'static,
        limits: Arc<Mutex<Vec<u32>>>,
        appended: Arc<Mutex<Vec<EventDraft>>>,
    ) -> MockInvitationRepository {
        let left = Arc::new(Mutex::new(pending));
        let mut invitations = MockInvitationRepository::new();
        let taken = left.clone();
        invitations
            .expect_expiring_invitations()
            .returning(move |_, limit| {
                limits.lock().unwrap().push(limit);
                let left = taken.lock().unwrap();
                Ok(left
                    .iter()
                    .take(usize::try_from(limit).unwrap())
                    .cloned()
                    .collect())
            });
        invitations
            .expect_expire_invitation()
            .returning(move |invitation, _, event| {
                // Marked or logged elsewhere, it is no longer pending either way.
                left.lock()
                    .unwrap()
                    .retain(|expiring| expiring.invitation != *invitation);
                let marked = marks(invitation);
                if marked {
                    appended.lock().unwrap().push(event.clone());
                }
                Ok(marked)
            });
        invitations
    }

    #[tokio::test]
    async fn each_expired_invitation_is_logged_by_the_system_without_its_token() {
        let org = OrganizationId::generate();
        let customer = CustomerId::generate();
        let pending = vec![expiring(org, Some(customer)), expiring(org, None)];
        let limits = Arc::default();
        let appended = Arc::new(Mutex::new(Vec::new()));
        let sweep = InvitationExpiry::new(
            Arc::new(repository(
                pending.clone(),
                |_| true,
                limits,
                appended.clone(),
            )),
            ExpirySettings::default(),
        );
        let now = at(0) + domain::INVITATION_TTL;
        assert_eq!(sweep.sweep(now).await.unwrap(), 2);
        let appended = appended.lock().unwrap();
        assert_eq!(appended.len(), 2);
        for (event, expiring) in appended.iter().zip(&pending) {
            let invitation = &expiring.invitation;
            assert_eq!(event.kind, EventType::InvitationExpired);
            assert_eq!(event.organization_id, org);
            assert_eq!(event.subject, Subject::User(invitation.user_id));
            assert_eq!(event.customer_id, expiring.customer_id);
            assert_eq!(
                event.actor,
                EventActor::without_user(ActorKind::System),
                "by Roster"
            );
            assert_eq!(event.at, now);
            let (before, after) = wire::snapshot::expired_invitation(invitation);
            assert_eq!(event.before.as_ref(), Some(&before));
            assert_eq!(event.after.as_ref(), Some(&after));
            assert_eq!(before["status"], "PENDING");
            assert_eq!(after["status"], "EXPIRED");
            let text = format!("{before}{after}");
            assert!(!text.contains("secret-hash"), "{text}");
        }
    }

    #[tokio::test]
    async fn sweeps_batch_after_batch_until_one_comes_back_short() {
        let org = OrganizationId::generate();
        let pending: Vec<_> = (0..5).map(|_| expiring(org, None)).collect();
        let limits = Arc::new(Mutex::new(Vec::new()));
        let appended = Arc::new(Mutex::new(Vec::new()));
        let sweep = InvitationExpiry::new(
            Arc::new(repository(
                pending,
                |_| true,
                limits.clone(),
                appended.clone(),
            )),
            ExpirySettings {
                batch: 2,
                ..ExpirySettings::default()
            },
        );
        assert_eq!(sweep.sweep(at(1_000_000)).await.unwrap(), 5);
        assert_eq!(*limits.lock().unwrap(), [2, 2, 2]);
        assert_eq!(appended.lock().unwrap().len(), 5);
    }

    #[tokio::test]
    async fn invitations_another_server_logged_are_not_counted_and_end_the_sweep() {
        let org = OrganizationId::generate();
        let pending: Vec<_> = (0..4).map(|_| expiring(org, None)).collect();
        let limits = Arc::new(Mutex::new(Vec::new()));
        let appended = Arc::new(Mutex::new(Vec::new()));
        // The other server got there first for every one of them.
        let sweep = InvitationExpiry::new(
            Arc::new(repository(
                pending,
                |_| false,
                limits.clone(),
                appended.clone(),
            )),
            ExpirySettings {
                batch: 2,
                ..ExpirySettings::default()
            },
        );
        assert_eq!(sweep.sweep(at(1_000_000)).await.unwrap(), 0);
        assert_eq!(
            *limits.lock().unwrap(),
            [2],
            "a batch that marked none ends it"
        );
        assert!(appended.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_failed_write_ends_the_sweep_with_its_error() {
        let org = OrganizationId::generate();
        let mut invitations = MockInvitationRepository::new();
        let found = vec![expiring(org, None), expiring(org, None)];
        invitations
            .expect_expiring_invitations()
            .times(1)
            .returning(move |_, _| Ok(found.clone()));
        invitations
            .expect_expire_invitation()
            .times(1)
            .returning(|_, _, _| Err(RepoError::unavailable(std::io::Error::other("down"))));
        let sweep = InvitationExpiry::new(Arc::new(invitations), ExpirySettings::default());
        assert!(sweep.sweep(at(1_000_000)).await.is_err());
    }

    #[tokio::test]
    async fn a_run_stops_when_shutdown_has_completed() {
        let mut invitations = MockInvitationRepository::new();
        invitations.expect_expiring_invitations().times(0);
        let sweep = InvitationExpiry::new(Arc::new(invitations), ExpirySettings::default());
        // Shut down before it starts: no batch is read, and it returns.
        sweep.run_until(std::future::ready(())).await;
    }
}
