//! The outbox worker: delivers queued mails through the [`Mailer`], retrying failures with
//! exponential backoff. Rows are claimed with a lease, so several servers on one database
//! deliver each mail once, and a crash mid-delivery only delays the mail until the lease ends.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ports::{InvitationRepository, Mailer};

/// How the worker paces itself; the defaults suit production, tests shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliverySettings {
    /// How often an idle worker looks for due mail.
    pub poll_interval: Duration,
    /// The wait after a first failed attempt; doubled per further failure.
    pub backoff_base: Duration,
    /// The longest wait between attempts.
    pub backoff_max: Duration,
    /// How long a claimed mail is reserved for its claimer (longer than one SMTP delivery).
    pub lease: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            poll_interval: Duration::from_secs(2),
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(3600),
            lease: Duration::from_secs(300),
        }
    }
}

/// Delivers the outbox until told to stop.
#[derive(Clone)]
pub struct OutboxWorker {
    outbox: Arc<dyn InvitationRepository>,
    mailer: Arc<dyn Mailer>,
    settings: DeliverySettings,
}

fn delta(duration: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(duration).unwrap_or(chrono::TimeDelta::MAX)
}

impl OutboxWorker {
    /// A worker taking mail from `outbox` and handing it to `mailer`.
    pub fn new(
        outbox: Arc<dyn InvitationRepository>,
        mailer: Arc<dyn Mailer>,
        settings: DeliverySettings,
    ) -> Self {
        OutboxWorker {
            outbox,
            mailer,
            settings,
        }
    }

    /// Claims and attempts every mail due now; returns how many were delivered. Storage
    /// failures end the pass (the next pass retries).
    #[tracing::instrument(level = "error", skip_all, name = "outbox.deliver_due")]
    pub async fn deliver_due(&self) -> usize {
        let mut delivered = 0;
        loop {
            let now = domain::now();
            let claimed = match self
                .outbox
                .claim_mail(now, now + delta(self.settings.lease))
                .await
            {
                Ok(Some(claimed)) => claimed,
                Ok(None) => return delivered,
                Err(error) => {
                    tracing::warn!(%error, "cannot read the mail outbox; retrying later");
                    return delivered;
                }
            };
            let outcome = self.mailer.send(&claimed.mail).await;
            let recorded = match outcome {
                Ok(()) => {
                    delivered += 1;
                    tracing::info!(mail = %claimed.id, to = ?claimed.mail.to, "mail delivered");
                    self.outbox.mail_delivered(claimed.id).await
                }
                Err(error) => {
                    let wait = domain::backoff(
                        claimed.attempts,
                        self.settings.backoff_base,
                        self.settings.backoff_max,
                    );
                    tracing::warn!(
                        mail = %claimed.id,
                        attempts = claimed.attempts,
                        retry_in_seconds = wait.as_secs_f64(),
                        %error,
                        "mail not delivered; will retry"
                    );
                    self.outbox
                        .mail_failed(claimed.id, domain::now() + delta(wait), &error.to_string())
                        .await
                }
            };
            if let Err(error) = recorded {
                // The lease runs out and the mail is attempted again: at worst sent twice.
                tracing::warn!(%error, mail = %claimed.id, "cannot record a delivery outcome");
                return delivered;
            }
        }
    }

    /// Delivers due mail every poll interval until `shutdown` completes. A delivery in
    /// progress is finished first.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) {
        tokio::pin!(shutdown);
        loop {
            self.deliver_due().await;
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(self.settings.poll_interval) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::{Mail, OutboxMail};
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
            .withf(move |delivered| *delivered == id)
            .times(1)
            .returning(|_| Ok(()));
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
}
