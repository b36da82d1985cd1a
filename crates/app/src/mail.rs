//! The two [`Mailer`] adapters: SMTP through lettre (rustls on ring), and the log, which
//! the server uses when no SMTP server is configured so that a first start needs nothing
//! else (the invitation links appear in the log).

use std::time::Duration;

use async_trait::async_trait;
use domain::Mail;
use lettre::message::Body;
use lettre::message::Mailbox;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use ports::{MailError, Mailer};

/// Writes each mail to the log at INFO instead of sending it.
#[derive(Debug, Clone, Default)]
pub struct LogMailer;

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        // Debug formatting escapes line breaks and other control characters, so a mail
        // (whose body has lines, and whose text may come from users) stays one log line.
        tracing::info!(
            to = ?mail.to,
            subject = ?mail.subject,
            body = ?mail.body,
            "mail not sent: no SMTP server is configured (ROSTER_SMTP_URL); here it is"
        );
        Ok(())
    }
}

/// Sends mail through one SMTP server.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// The host of an `smtp://` or `smtps://` URL (without brackets for IPv6).
fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if let Some(bracketed) = host_port.strip_prefix('[') {
        return bracketed.split(']').next().unwrap_or(bracketed);
    }
    host_port.split(':').next().unwrap_or(host_port)
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

/// The URL as lettre reads it: `smtp://` to anything but this machine requires STARTTLS
/// unless the URL says `?tls=...` itself; `smtp://` to a loopback relay stays plain.
fn effective_url(url: &str) -> String {
    let plain_smtp = url.starts_with("smtp://") && !url.contains("tls=");
    if plain_smtp && !is_loopback(url_host(url)) {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}tls=required")
    } else {
        url.to_owned()
    }
}

impl SmtpMailer {
    /// A mailer for `url` (`smtp://user:pass@host:587` with STARTTLS, `smtps://...` with
    /// TLS from the start, `smtp://127.0.0.1:2525` for a local relay without TLS), sending
    /// as `from` (`Roster <roster@example.com>`).
    pub fn new(url: &str, from: &str) -> anyhow::Result<SmtpMailer> {
        let from: Mailbox = from
            .parse()
            .map_err(|error| anyhow::anyhow!("invalid mail sender {from:?}: {error}"))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&effective_url(url))
            .map_err(|error| anyhow::anyhow!("invalid SMTP URL: {error}"))?
            .timeout(Some(Duration::from_secs(30)))
            .build();
        Ok(SmtpMailer { transport, from })
    }
}

/// The body as 7-bit text when it is ASCII with lines of at most 998 characters, so the
/// links in it reach plain-text readers unbroken; quoted-printable otherwise.
/// (lettre alone picks quoted-printable past 76 characters, which breaks long links with
/// soft line breaks for anyone reading the raw text.)
fn body(text: &str) -> Body {
    let seven_bit = text.is_ascii()
        && !text.contains('\0')
        && text.ends_with("\r\n")
        && text
            .split("\r\n")
            .all(|line| line.len() <= 998 && !line.contains(['\r', '\n']));
    if seven_bit {
        Body::dangerous_pre_encoded(text.as_bytes().to_vec(), ContentTransferEncoding::SevenBit)
    } else {
        Body::new(text.to_owned())
    }
}

/// The message for `mail` from `from`. Its text is not trusted to be clean (outbox rows may
/// predate the rule that refuses control characters): a recipient holding one is refused,
/// and the subject has each one replaced by a space, so no text can add a header.
fn message(from: &Mailbox, mail: &Mail) -> Result<Message, MailError> {
    if mail.to.chars().any(domain::text::is_refused_char) {
        return Err(MailError(format!(
            "invalid recipient {:?}: control characters",
            mail.to
        )));
    }
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|error| MailError(format!("invalid recipient: {error}")))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(domain::text::single_line_lossy(&mail.subject))
        .header(ContentType::TEXT_PLAIN)
        .body(body(&mail.body))
        .map_err(|error| MailError(format!("cannot build the message: {error}")))
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let message = message(&self.from, mail)?;
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|error| MailError(error.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_smtp_requires_starttls_and_a_loopback_relay_stays_plain() {
        assert_eq!(
            effective_url("smtp://user:pass@mail.example.com:587"),
            "smtp://user:pass@mail.example.com:587?tls=required"
        );
        assert_eq!(
            effective_url("smtp://127.0.0.1:2525"),
            "smtp://127.0.0.1:2525"
        );
        assert_eq!(effective_url("smtp://localhost"), "smtp://localhost");
        assert_eq!(effective_url("smtp://[::1]:25"), "smtp://[::1]:25");
        assert_eq!(
            effective_url("smtp://relay.example.com?tls=opportunistic"),
            "smtp://relay.example.com?tls=opportunistic"
        );
        assert_eq!(
            effective_url("smtps://u:p@mail.example.com"),
            "smtps://u:p@mail.example.com"
        );
        assert_eq!(url_host("smtp://u:p@w@host:1/x"), "host");
    }

    #[test]
    fn long_links_stay_on_one_line_in_ascii_mail() {
        let link = format!(
            "http://127.0.0.1:8080/auth/set-password?token={}",
            "x".repeat(43)
        );
        let encoded = body(&format!("Hello,\r\n\r\n{link}\r\n"));
        assert_eq!(encoded.encoding(), ContentTransferEncoding::SevenBit);
        assert!(String::from_utf8_lossy(encoded.as_ref()).contains(&link));
        let accented = body("Hallo Jürgen,\r\n");
        assert_eq!(
            accented.encoding(),
            ContentTransferEncoding::QuotedPrintable
        );
    }

    #[test]
    fn control_characters_never_reach_a_header() {
        let from: Mailbox = "Roster <roster@example.com>".parse().unwrap();
        let mail = Mail {
            to: "ivy@example.com".into(),
            subject: "Invited\r\nBcc: eve@evil.example\r\n\r\nforged".into(),
            body: "Hello,\r\n".into(),
        };
        let formatted = String::from_utf8(message(&from, &mail).unwrap().formatted()).unwrap();
        let (headers, _) = formatted.split_once("\r\n\r\n").unwrap();
        assert!(
            headers
                .lines()
                .all(|line| !line.to_ascii_lowercase().starts_with("bcc")),
            "{headers}"
        );
        assert!(
            headers.contains("Subject: Invited  Bcc: eve@evil.example    forged"),
            "{headers}"
        );
        for to in [
            "ivy@example.com\r\nBcc: eve@evil.example",
            "ivy\u{0}@example.com",
        ] {
            let refused = message(
                &from,
                &Mail {
                    to: to.into(),
                    ..mail.clone()
                },
            );
            assert!(refused.is_err(), "{to:?}");
        }
    }

    #[test]
    fn bad_settings_are_refused_at_start() {
        assert!(SmtpMailer::new("smtp://127.0.0.1:2525", "not an address").is_err());
        assert!(SmtpMailer::new("http://127.0.0.1:2525", "roster@example.com").is_err());
        assert!(
            SmtpMailer::new(
                "smtp://user:pass@mail.example.com:587",
                "Roster <roster@example.com>"
            )
            .is_ok()
        );
    }
}
