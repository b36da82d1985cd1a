//! The three [`Mailer`] adapters: SMTP through lettre (rustls on ring); a directory, where
//! each mail becomes a file only its owner may read; and the log, which the server uses when
//! neither is configured so that a first start needs nothing else.
//!
//! Mail bodies hold set-password links (a token), so they never reach the log: the log
//! mailer writes the recipient and subject only.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use domain::Mail;
use lettre::message::Body;
use lettre::message::Mailbox;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use ports::{MailError, Mailer};

/// Notes each mail's recipient and subject in the log at INFO instead of sending it; the
/// body, which may hold a set-password link, is dropped (resend the invitation once SMTP
/// or a mail directory is configured, or set the password with `roster password`).
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
            "mail not sent: neither ROSTER_SMTP_URL nor ROSTER_MAIL_DIR is configured; its \
             body (it may hold a sign-in link with its token) is not logged"
        );
        Ok(())
    }
}

/// Writes each mail to a file of its own in a directory, readable by the server's user only
/// (0600, in a 0700 directory it creates): for local set-ups without SMTP, where the
/// operator opens the file to copy the set-password link.
#[derive(Debug, Clone)]
pub struct DirMailer {
    dir: PathBuf,
}

impl DirMailer {
    /// A mailer writing into `dir`, created (owner-only) if missing.
    ///
    /// # Errors
    /// When the directory cannot be created.
    pub fn new(dir: &Path) -> anyhow::Result<DirMailer> {
        if dir.exists() {
            warn_if_shared(dir);
        } else {
            create_private_dir(dir)
                .map_err(|error| anyhow::anyhow!("cannot create {}: {error}", dir.display()))?;
        }
        Ok(DirMailer {
            dir: dir.to_path_buf(),
        })
    }

    /// `To`, `Subject`, a blank line and the body, as a mail client shows a message.
    fn render(mail: &Mail) -> String {
        format!(
            "To: {}\nSubject: {}\n\n{}",
            domain::text::single_line_lossy(&mail.to),
            domain::text::single_line_lossy(&mail.subject),
            mail.body
        )
    }
}

/// Warns when group or others may enter the mail directory: the links in its files are
/// credentials.
#[cfg(unix)]
fn warn_if_shared(dir: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(metadata) = std::fs::metadata(dir) {
        let mode = metadata.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                dir = %dir.display(),
                mode = %format_args!("{mode:04o}"),
                "the mail directory is open to group or others; its mails hold set-password \
                 links: chmod 700 it"
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_dir: &Path) {}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Creates `path` (which must not exist) readable and writable by its owner only.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

#[async_trait]
impl Mailer for DirMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let name = format!(
            "{}-{}.eml",
            domain::now().format("%Y%m%dT%H%M%S%.6fZ"),
            uuid::Uuid::new_v4().simple()
        );
        let path = self.dir.join(name);
        let text = DirMailer::render(mail);
        let file = path.clone();
        tokio::task::spawn_blocking(move || write_private(&file, &text))
            .await
            .map_err(|error| MailError(format!("writing the mail file failed: {error}")))?
            .map_err(|error| MailError(format!("cannot write {}: {error}", path.display())))?;
        tracing::info!(
            to = ?mail.to,
            subject = ?mail.subject,
            file = %path.display(),
            "mail written to the mail directory"
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

    fn invitation() -> Mail {
        Mail {
            to: "ivy@example.com".into(),
            subject: "You are invited to Roster".into(),
            body: "Choose your password: http://127.0.0.1/auth/set-password?token=SECRET-TOKEN\r\n"
                .into(),
        }
    }

    /// Captured log output.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[tokio::test]
    async fn the_log_mailer_logs_recipient_and_subject_but_never_the_body() {
        let (captured, _guard) = capture();
        LogMailer.send(&invitation()).await.unwrap();
        let log = captured.text();
        assert!(
            log.contains("ivy@example.com") && log.contains("You are invited"),
            "{log}"
        );
        assert!(
            !log.contains("SECRET-TOKEN") && !log.contains("set-password"),
            "{log}"
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_directory_mailer_writes_owner_only_files_and_logs_no_body() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir()
            .join(format!("roster-mail-{}", uuid::Uuid::new_v4().simple()))
            .join("mail");
        let mailer = DirMailer::new(&dir).unwrap();
        let (captured, _guard) = capture();
        mailer.send(&invitation()).await.unwrap();
        mailer.send(&invitation()).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        assert_eq!(files.len(), 2, "one file per mail");
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        for file in &files {
            assert_eq!(mode(file), 0o600, "{}", file.display());
            let text = std::fs::read_to_string(file).unwrap();
            assert!(
                text.starts_with("To: ivy@example.com\nSubject: You are invited"),
                "{text}"
            );
            assert!(text.contains("token=SECRET-TOKEN"), "{text}");
        }
        let log = captured.text();
        assert!(
            log.contains("mail directory") && !log.contains("SECRET-TOKEN"),
            "{log}"
        );
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }
}
