//! The [`WebhookSender`] adapter: webhook POSTs over reqwest (rustls), guarded against SSRF.
//!
//! Endpoint URLs come from API users, so the server must not become their way into its own
//! network: unless the operator allows private deliveries (`--webhooks-allow-private`), every
//! address the URL's host resolves to is checked with [`domain::net::is_public_ip`] by the
//! client's own DNS resolver, and the connection goes to the addresses that passed (the
//! same lookup, so a second answer cannot swap in a private one: no DNS rebinding). URLs
//! naming an IP address skip resolution, so they are checked before sending. No redirect is
//! followed (its 3xx is the answer), no proxy is used, the whole attempt is bounded by a
//! timeout, and at most [`RESPONSE_EXCERPT_LIMIT`] bytes of the answer are read.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ports::webhooks::RESPONSE_EXCERPT_LIMIT;
use ports::{WebhookRequest, WebhookResponse, WebhookSendError, WebhookSender};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use reqwest::redirect::Policy;
use reqwest::{Client, Url};

/// The `User-Agent` of webhook requests, so receivers can tell them apart in their logs.
pub const USER_AGENT: &str = concat!("Roster-Webhooks/", env!("CARGO_PKG_VERSION"));

/// How webhooks are sent; the defaults suit production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderSettings {
    /// Whether endpoints on loopback, private, link-local... addresses may be called
    /// (`--webhooks-allow-private`): for receivers on the same host or network, trusted set-ups
    /// and tests only.
    pub allow_private: bool,
    /// Longest one attempt may take, from connecting to the end of the excerpt.
    pub timeout: Duration,
    /// Longest the connection (TCP and TLS) may take, within `timeout`.
    pub connect_timeout: Duration,
}

impl Default for SenderSettings {
    /// Public addresses only, 10 s per attempt, 5 s to connect.
    fn default() -> Self {
        SenderSettings {
            allow_private: false,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Sends webhook requests with reqwest; cheap to clone (one connection pool).
#[derive(Debug, Clone)]
pub struct HttpWebhookSender {
    client: Client,
    settings: SenderSettings,
}

impl HttpWebhookSender {
    /// A sender as `settings` say. Installs the process's TLS provider (rustls on ring) if
    /// none is yet, as the `roster` binary does at start.
    ///
    /// # Errors
    /// When reqwest cannot build its client (its TLS configuration).
    pub fn new(settings: SenderSettings) -> anyhow::Result<HttpWebhookSender> {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Another thread may have installed one in between: either way one is in place.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let client = Client::builder()
            .user_agent(USER_AGENT)
            .redirect(Policy::none())
            .no_proxy()
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout.min(settings.timeout))
            .dns_resolver(GuardedResolver {
                allow_private: settings.allow_private,
            })
            .build()
            .map_err(|error| anyhow::anyhow!("building the webhook HTTP client: {error}"))?;
        Ok(HttpWebhookSender { client, settings })
    }

    /// The settings this sender was built with.
    pub fn settings(&self) -> SenderSettings {
        self.settings
    }

    /// The URL to call, once its scheme and (for an IP address) its host are allowed.
    fn checked_url(&self, url: &str) -> Result<Url, WebhookSendError> {
        let url = Url::parse(url)
            .map_err(|error| WebhookSendError::Refused(format!("invalid URL: {error}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(WebhookSendError::Refused(format!(
                "the URL's scheme {:?} is not http or https",
                url.scheme()
            )));
        }
        let Some(host) = url.host_str() else {
            return Err(WebhookSendError::Refused("the URL has no host".to_owned()));
        };
        // The URL parser has already normalized IPv4 spellings (`2130706433`, `0x7f.1`) to
        // dotted quads; IPv6 addresses come in brackets.
        let literal = host
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .unwrap_or(host)
            .parse::<IpAddr>()
            .ok();
        if let Some(ip) = literal
            && !self.settings.allow_private
            && !domain::net::is_public_ip(ip)
        {
            return Err(WebhookSendError::Refused(format!(
                "{ip} is a private, loopback or reserved address (see --webhooks-allow-private)"
            )));
        }
        Ok(url)
    }

    /// The POST of `request` to `url`, with its headers and body.
    fn build(
        &self,
        url: Url,
        request: &WebhookRequest,
    ) -> Result<reqwest::RequestBuilder, WebhookSendError> {
        let mut builder = self
            .client
            .post(url)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in &request.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| WebhookSendError::Failed(format!("invalid header name {name:?}")))?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                WebhookSendError::Failed(format!("invalid value for header {name}"))
            })?;
            builder = builder.header(name, value);
        }
        Ok(builder.body(request.body.clone()))
    }
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn post(&self, request: &WebhookRequest) -> Result<WebhookResponse, WebhookSendError> {
        let url = self.checked_url(&request.url)?;
        let builder = self.build(url, request)?;
        // reqwest's own timeout bounds the request; this deadline bounds the excerpt's
        // reading too, whatever reqwest's version does with bodies.
        let timeout = self.settings.timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        let started = Instant::now();
        let mut response = match tokio::time::timeout_at(deadline, builder.send()).await {
            Ok(sent) => sent.map_err(send_error)?,
            Err(_) => return Err(timed_out(timeout)),
        };
        let status = response.status().as_u16();
        // The status is the answer (the endpoint has the event): a body cut short by an
        // error or the deadline leaves it, with what was read.
        let mut bytes = Vec::new();
        let _ = tokio::time::timeout_at(deadline, read_start(&mut response, &mut bytes)).await;
        // The rest of the body is never read: dropping the response closes the connection.
        drop(response);
        Ok(WebhookResponse {
            status,
            excerpt: excerpt(&bytes, RESPONSE_EXCERPT_LIMIT),
            latency: started.elapsed(),
        })
    }
}

/// Reads the start of the body into `bytes`: enough for the excerpt and the character that
/// straddles its limit, never more, until the body ends or fails.
async fn read_start(response: &mut reqwest::Response, bytes: &mut Vec<u8>) {
    let keep = RESPONSE_EXCERPT_LIMIT + 3;
    while bytes.len() < keep {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let take = chunk.len().min(keep - bytes.len());
                bytes.extend_from_slice(&chunk[..take]);
            }
            Ok(None) | Err(_) => return,
        }
    }
}

/// The start of a body as text: invalid UTF-8 replaced, then cut to at most `limit` bytes on
/// a character boundary.
fn excerpt(bytes: &[u8], limit: usize) -> String {
    let mut text = String::from_utf8_lossy(bytes).into_owned();
    if text.len() > limit {
        let mut cut = limit;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

/// No answer within the attempt's timeout: worth retrying.
fn timed_out(timeout: Duration) -> WebhookSendError {
    WebhookSendError::Failed(format!("timed out after {timeout:?}"))
}

/// A reqwest failure as the port reports it: a refusal of the resolver stays a refusal.
fn send_error(error: reqwest::Error) -> WebhookSendError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<PrivateAddress>() {
            return WebhookSendError::Refused(refused.to_string());
        }
        source = cause.source();
    }
    if error.is_timeout() {
        return WebhookSendError::Failed("timed out".to_owned());
    }
    // The URL is the endpoint's own, known to whoever reads the log: leave it out, keep the
    // causes (connection refused, TLS, DNS).
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    WebhookSendError::Failed(text)
}

/// The resolver's refusal: every address of the host is one the server may not call.
#[derive(Debug, thiserror::Error)]
#[error(
    "{host} resolves to private, loopback or reserved addresses only (see --webhooks-allow-private)"
)]
struct PrivateAddress {
    host: String,
}

/// The system resolver (`getaddrinfo` on tokio's blocking pool), keeping only public
/// addresses unless private ones are allowed. The addresses it returns are the ones
/// connected to, so the check holds at connection time.
#[derive(Debug, Clone, Copy)]
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|address| allow_private || domain::net::is_public_ip(address.ip()))
                .collect();
            if allowed.is_empty() && !found.is_empty() {
                return Err(Box::new(PrivateAddress { host }) as Box<_>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_excerpt_is_cut_at_the_limit_on_a_character_boundary() {
        assert_eq!(excerpt(b"short", 1024), "short");
        let ascii = vec![b'a'; 2000];
        assert_eq!(excerpt(&ascii[..1027], 1024).len(), 1024);
        // "é" is two bytes: 1023 'a's then "é" straddles the limit and is left out whole.
        let mut straddling = vec![b'a'; 1023];
        straddling.extend_from_slice("éé".as_bytes());
        let text = excerpt(&straddling, 1024);
        assert_eq!(text.len(), 1023);
        assert!(text.chars().all(|c| c == 'a'));
        // Invalid bytes are replaced, and the result still fits.
        let invalid = vec![0xff; 1027];
        let text = excerpt(&invalid, 1024);
        assert!(text.len() <= 1024);
        assert!(text.chars().all(|c| c == char::REPLACEMENT_CHARACTER));
    }
}
