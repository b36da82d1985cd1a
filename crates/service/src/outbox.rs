//! The outbox worker: delivers queued mails through the [`Mailer`], retrying failures with
//! exponential backoff. Rows are claimed with a lease, so several servers on one database
//! deliver each mail once, and a crash mid-delivery only delays the mail until the lease ends.
//! The loop is the shared [`LeaseWorker`]; this is the mail queue it drains.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use domain::events::{ActorKind, EventActor};
use domain::{OutboxMail, Timestamp};
use ports::{InvitationRepository, Mailer, RepoError};

use crate::events::{self, Change};
use crate::lease::DeliverySettings;
use crate::lease::{LeaseQueue, LeaseWorker};

/// The mail outbox as a lease queue: a delivered mail is removed, a failed one due again.
#[derive(Clone)]
struct MailQueue {
    outbox: Arc<dyn InvitationRepository>,
    mailer: Arc<dyn Mailer>,
}

#[async_trait]
impl LeaseQueue for MailQueue {
    type Item = OutboxMail;
    type Attempt = ();

    async fn claim(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<OutboxMail>, RepoError> {
        self.outbox.claim_mail(now, lease_until).await
    }

    fn attempts(&self, mail: &OutboxMail) -> u32 {
        mail.attempts
    }

    async fn attempt(&self, claimed: &OutboxMail) -> Result<(), ((), String)> {
        match self.mailer.send(&claimed.mail).await {
            Ok(()) => {
                tracing::info!(mail = %claimed.id, to = ?claimed.mail.to, "mail delivered");
                Ok(())
            }
            Err(error) => {
                tracing::warn!(mail = %claimed.id, %error, "mail not delivered");
                Err(((), error.to_string()))
            }
        }
    }

    async fn succeeded(&self, claimed: &OutboxMail, (): ()) -> Result<(), RepoError> {
        // An invitation's delivery is logged, by Roster, with the row's removal.
        let event = claimed.invitee.map(|(organization, user)| {
            events::untagged(
                EventActor::without_user(ActorKind::System),
                Change::InvitationSent {
                    organization,
                    user,
                    at: domain::now(),
                },
            )
        });
        self.outbox.mail_delivered(claimed.id, event.as_ref()).await
    }

    async fn failed(
        &self,
        claimed: &OutboxMail,
        (): (),
        retry_at: Timestamp,
        error: &str,
    ) -> Result<(), RepoError> {
        self.outbox.mail_failed(claimed.id, retry_at, error).await
    }
}

/// Delivers the outbox until told to stop.
#[derive(Clone)]
pub struct OutboxWorker {
    worker: LeaseWorker<MailQueue>,
}

impl OutboxWorker {
    /// A worker taking mail from `outbox` and handing it to `mailer`.
    pub fn new(
        outbox: Arc<dyn InvitationRepository>,
        mailer: Arc<dyn Mailer>,
        settings: DeliverySettings,
    ) -> Self {
        OutboxWorker {
            worker: LeaseWorker::new(MailQueue { outbox, mailer }, settings, "outbox"),
        }
    }

    /// Claims and attempts every mail due now; returns how many were delivered. Storage
    /// failures end the pass (the next pass retries).
    #[tracing::instrument(level = "error", skip_all, name = "outbox.deliver_due")]
    pub async fn deliver_due(&self) -> usize {
        self.worker.deliver_due().await
    }

    /// Delivers due mail every poll interval until `shutdown` completes. A delivery in
    /// progress is finished first.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) {
        self.worker.run_until(shutdown).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use domain::events::{EventType, Subject};
    use domain::{Mail, OrganizationId, OutboxMail, UserId};
    use ports::MailError;
    use ports::directory::MockMailer;
    use ports::repository::MockInvitationRepository;

    use super::*;

    fn queued() -> OutboxMail {
        let mut mail = OutboxMail::queue(
            Mail {
                to: "ivy@example.com".into(),
                subject: "s".into(),
                body: "b".into(),
            },
            domain::now(),
        );
        mail.attempts = 3;
        mail
    }

    fn settings() -> DeliverySettings {
        DeliverySettings {
            poll_interval: Duration::from_secs(1),
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(3600),
            lease: Duration::from_secs(60),
        }
    }

    #[tokio::test]
    async fn a_delivered_mail_is_removed_and_a_failed_one_is_retried_with_backoff() {
        let mail = queued();
        let mut outbox = MockInvitationRepository::new();
        let mut pending = Some(mail.clone());
        outbox
            .expect_claim_mail()
            .returning(move |_, _| Ok(pending.take()));
        let id = mail.id;
        outbox
            .expect_mail_delivered()
            .withf(move |delivered, event| *delivered == id && event.is_none())
            .times(1)
            .returning(|_, _| Ok(()));
        outbox.expect_mail_failed().times(0);
        let mut mailer = MockMailer::new();
        mailer.expect_send().times(1).returning(|_| Ok(()));
        let worker = OutboxWorker::new(Arc::new(outbox), Arc::new(mailer), settings());
        assert_eq!(worker.deliver_due().await, 1);

        let mut outbox = MockInvitationRepository::new();
        let mut pending = Some(mail.clone());
        outbox
            .expect_claim_mail()
            .returning(move |_, _| Ok(pending.take()));
        outbox.expect_mail_delivered().times(0);
        let before = domain::now();
        outbox
            .expect_mail_failed()
            .withf(move |failed, retry_at, error| {
                // After a third failed attempt: 10 s doubled twice.
                let wait = *retry_at - before;
                *failed == id
                    && wait >= chrono::TimeDelta::seconds(40)
                    && wait < chrono::TimeDelta::seconds(50)
                    && error.contains("refused")
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
        let mut mailer = MockMailer::new();
        mailer
            .expect_send()
            .times(1)
            .returning(|_| Err(MailError("connection refused".into())));
        let worker = OutboxWorker::new(Arc::new(outbox), Arc::new(mailer), settings());
        assert_eq!(worker.deliver_due().await, 0);
    }

    #[tokio::test]
    async fn a_delivered_invitation_logs_invitation_sent_about_its_user_and_a_failed_one_nothing() {
        let (organization, user) = (OrganizationId::generate(), UserId::generate());
        let mut mail = queued();
        mail.invitee = Some((organization, user));
        let id = mail.id;
        let before = domain::now();
        let mut outbox = MockInvitationRepository::new();
        let mut pending = Some(mail.clone());
        outbox
            .expect_claim_mail()
            .returning(move |_, _| Ok(pending.take()));
        outbox
            .expect_mail_delivered()
            .withf(move |delivered, event| {
                *delivered == id
                    && event.is_some_and(|event| {
                        event.kind == EventType::InvitationSent
                            && event.organization_id == organization
                            && event.subject == Subject::User(user)
                            && event.actor == EventActor::without_user(ActorKind::System)
                            && event.at >= before
                            && event.before.is_none()
                            && event.after == Some(wire::snapshot::invitation_delivered(event.at))
                    })
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let mut mailer = MockMailer::new();
        mailer.expect_send().times(1).returning(|_| Ok(()));
        let worker = OutboxWorker::new(Arc::new(outbox), Arc::new(mailer), settings());
        assert_eq!(worker.deliver_due().await, 1);

        // Not delivered: the row stays, nothing is logged.
        let mut outbox = MockInvitationRepository::new();
        let mut pending = Some(mail);
        outbox
            .expect_claim_mail()
            .returning(move |_, _| Ok(pending.take()));
        outbox.expect_mail_delivered().times(0);
        outbox
            .expect_mail_failed()
            .times(1)
            .returning(|_, _, _| Ok(()));
        let mut mailer = MockMailer::new();
        mailer
            .expect_send()
            .times(1)
            .returning(|_| Err(MailError("connection refused".into())));
        let worker = OutboxWorker::new(Arc::new(outbox), Arc::new(mailer), settings());
        assert_eq!(worker.deliver_due().await, 0);
    }
}
