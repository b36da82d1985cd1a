//! Webhook endpoints: where an organization (or one customer of it) wants its events POSTed,
//! which events it wants ([`WebhookEndpoint::wants`]), and the rules of their delivery
//! (how long a rotated secret is honoured, when a delivery gives up, when a failing
//! endpoint is disabled).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use chrono::TimeDelta;

use crate::Timestamp;
use crate::error::{Field, FieldError, ValidationErrors};
use crate::events::{EventType, Tag};
use crate::id::{CustomerId, InvalidId, OrganizationId, WebhookEndpointId};
use crate::version::Version;

/// How long a rotated-out secret still signs deliveries (beside the new one), so receivers
/// can switch without losing any.
pub const PREVIOUS_SECRET_GRACE: TimeDelta = TimeDelta::hours(24);

/// How long a delivery is retried before it gives up: at least the 24 hours promised.
pub const GIVE_UP_AFTER: TimeDelta = TimeDelta::hours(26);

/// How long an endpoint may fail without a success before it is disabled.
pub const DISABLE_AFTER: TimeDelta = TimeDelta::days(3);

/// The event types one endpoint may list, at most (there are fewer types).
pub const MAX_EVENT_TYPES: usize = 64;

/// Whether `ip` is an address a server must not be made to call on a stranger's behalf:
/// loopback, private, link-local, shared (CGNAT), unique-local, multicast, broadcast,
/// documentation or unspecified; IPv4-mapped IPv6 addresses count as their IPv4 address.
pub fn is_private_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_private_v4(v4),
            None => is_private_v6(v6),
        },
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
}

fn is_private_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
}

/// An endpoint's URL: `http` or `https`, at most [`WebhookUrl::MAX`] characters, printable
/// ASCII, a host, no user or password in it; a literal private or loopback address only
/// where the operator allows private deliveries. (Host names are checked when they are
/// resolved, by the sender.)
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    /// The longest URL accepted.
    pub const MAX: usize = 2048;

    /// Checks `text` as an endpoint URL; `allow_private` accepts literal private and
    /// loopback addresses (and `localhost`).
    pub fn parse(text: &str, allow_private: bool) -> Result<WebhookUrl, FieldError> {
        let invalid = |message: &str| FieldError::invalid(Field::Url, message);
        if text.is_empty() {
            return Err(FieldError::required(Field::Url));
        }
        if text.len() > Self::MAX {
            return Err(FieldError::too_long(Field::Url, Self::MAX));
        }
        if !text.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(invalid(
                "Use printable ASCII only (no spaces; international names in punycode).",
            ));
        }
        let lower = text.to_ascii_lowercase();
        let rest = if let Some(rest) = lower.strip_prefix("https://") {
            rest
        } else if let Some(rest) = lower.strip_prefix("http://") {
            rest
        } else {
            return Err(invalid("Use an http or https URL."));
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(invalid("Remove the user name and password from the URL."));
        }
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| invalid("Close the IPv6 address with ]."))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(invalid("Name a host."));
        }
        if let Some(port) = port
            && (port.is_empty() || port.parse::<u16>().is_err())
        {
            return Err(invalid("Use a port from 0 to 65535."));
        }
        let literal = host
            .parse::<Ipv4Addr>()
            .map(IpAddr::V4)
            .or_else(|_| host.parse::<Ipv6Addr>().map(IpAddr::V6))
            .ok();
        let local_name = host == "localhost" || host.ends_with(".localhost");
        if literal.is_none()
            && !host
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.'))
        {
            return Err(invalid("Name the host with letters, digits, - and ."));
        }
        if !allow_private && (local_name || literal.is_some_and(is_private_ip)) {
            return Err(invalid(
                "Private and loopback addresses are refused (the operator can allow them).",
            ));
        }
        Ok(WebhookUrl(text.to_owned()))
    }

    /// A URL read back from storage (checked when it was stored).
    pub fn from_stored(text: String) -> WebhookUrl {
        WebhookUrl(text)
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An endpoint's signing secret (`whsec_...`), kept as given: its UTF-8 bytes are the HMAC
/// key. Never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// The prefix every secret Roster makes starts with, so a leaked one is recognizable.
    pub const PREFIX: &'static str = "whsec_";

    /// Wraps a secret (made by the service, or read back from storage).
    pub fn new(text: String) -> WebhookSecret {
        WebhookSecret(text)
    }

    /// The secret's text, the HMAC key's bytes.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

/// The secrets that sign an endpoint's deliveries: the current one, and the one rotated
/// out while it is still honoured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSecrets {
    pub current: WebhookSecret,
    pub previous: Option<WebhookSecret>,
    /// Until when `previous` still signs.
    pub previous_until: Option<Timestamp>,
}

impl WebhookSecrets {
    /// The secrets that sign a delivery made at `now`: the current one first.
    pub fn signing(&self, now: Timestamp) -> Vec<&str> {
        let mut secrets = vec![self.current.as_str()];
        if let (Some(previous), Some(until)) = (&self.previous, self.previous_until)
            && until > now
        {
            secrets.push(previous.as_str());
        }
        secrets
    }
}

/// A webhook endpoint (its secrets apart: they are read only to sign).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    pub organization_id: OrganizationId,
    /// Only this customer's events, when set.
    pub customer_id: Option<CustomerId>,
    pub url: WebhookUrl,
    /// Only events of these types; every type when empty.
    pub event_types: Vec<EventType>,
    /// Events written by requests with this `Roster-Client-Id` are not delivered (the
    /// subscriber's own writes).
    pub exclude_client_id: Option<Tag>,
    /// False once disabled (failing for [`DISABLE_AFTER`]) or by its owner.
    pub enabled: bool,
    /// Since when every attempt failed (none succeeded since); `None` while it is healthy.
    pub failing_since: Option<Timestamp>,
    pub disabled_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: Version,
}

impl WebhookEndpoint {
    /// Whether an event of type `kind`, about `customer`'s records (if any), written by a
    /// request tagged `client`, goes to this endpoint.
    pub fn wants(
        &self,
        kind: EventType,
        customer: Option<CustomerId>,
        client: Option<&Tag>,
    ) -> bool {
        let typed = self.event_types.is_empty() || self.event_types.contains(&kind);
        let scoped = self.customer_id.is_none_or(|own| customer == Some(own));
        let echo = self
            .exclude_client_id
            .as_ref()
            .is_some_and(|excluded| client == Some(excluded));
        typed && scoped && !echo
    }

    /// Whether a failure at `now` should disable the endpoint: it has failed without a
    /// success since more than [`DISABLE_AFTER`] ago.
    pub fn fails_too_long(&self, now: Timestamp) -> bool {
        self.failing_since
            .is_some_and(|since| now - since > DISABLE_AFTER)
    }
}

/// Whether a delivery created at `created_at` should stop being retried at `now`.
pub fn delivery_gives_up(created_at: Timestamp, now: Timestamp) -> bool {
    now - created_at > GIVE_UP_AFTER
}

/// An endpoint as a caller asks for it, unchecked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookEndpointDraft {
    pub url: String,
    /// Dotted event type names (`customer.created`); empty for every type.
    pub event_types: Vec<String>,
    /// The customer whose events alone go to the endpoint, its id decoded by the transport.
    pub customer: Option<Result<CustomerId, InvalidId>>,
    pub exclude_client_id: Option<String>,
}

/// A checked [`WebhookEndpointDraft`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhookEndpoint {
    pub url: WebhookUrl,
    pub event_types: Vec<EventType>,
    pub customer_id: Option<CustomerId>,
    pub exclude_client_id: Option<Tag>,
}

/// The event types `names` stand for, without repeats, or the error on
/// [`Field::EventTypes`] naming the first unknown one.
pub fn parse_event_types(names: &[String]) -> Result<Vec<EventType>, FieldError> {
    if names.len() > MAX_EVENT_TYPES {
        return Err(FieldError::invalid(
            Field::EventTypes,
            format!("List at most {MAX_EVENT_TYPES} event types."),
        ));
    }
    let mut types = Vec::with_capacity(names.len());
    for name in names {
        let kind = EventType::from_key(name).ok_or_else(|| {
            FieldError::invalid(Field::EventTypes, format!("Unknown event type {name:?}."))
        })?;
        if !types.contains(&kind) {
            types.push(kind);
        }
    }
    Ok(types)
}

/// The client id to exclude, or the error on [`Field::ExcludeClientId`]; blank means none.
pub fn parse_exclude_client_id(text: &str) -> Result<Option<Tag>, FieldError> {
    if text.is_empty() {
        return Ok(None);
    }
    Tag::parse(text).map(Some).ok_or_else(|| {
        FieldError::invalid(
            Field::ExcludeClientId,
            format!("Use 1 to {} of A-Z a-z 0-9 . _ : -", Tag::MAX),
        )
    })
}

impl NewWebhookEndpoint {
    /// Checks every field of `draft`, reporting every problem at once.
    pub fn parse(
        draft: WebhookEndpointDraft,
        allow_private: bool,
    ) -> Result<NewWebhookEndpoint, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let url = errors.collect(WebhookUrl::parse(&draft.url, allow_private));
        let event_types = errors.collect(parse_event_types(&draft.event_types));
        let customer_id = errors.collect(
            draft
                .customer
                .transpose()
                .map_err(|_| FieldError::invalid(Field::Customer, "Invalid ID")),
        );
        let exclude_client_id = errors.collect(
            draft
                .exclude_client_id
                .as_deref()
                .map_or(Ok(None), parse_exclude_client_id),
        );
        errors.finish(|| {
            Some(NewWebhookEndpoint {
                url: url?,
                event_types: event_types?,
                customer_id: customer_id?,
                exclude_client_id: exclude_client_id?,
            })
        })
    }

    /// The endpoint this makes, new and enabled at `at`.
    pub fn into_endpoint(self, organization_id: OrganizationId, at: Timestamp) -> WebhookEndpoint {
        WebhookEndpoint {
            id: WebhookEndpointId::generate(),
            organization_id,
            customer_id: self.customer_id,
            url: self.url,
            event_types: self.event_types,
            exclude_client_id: self.exclude_client_id,
            enabled: true,
            failing_since: None,
            disabled_at: None,
            created_at: at,
            updated_at: at,
            version: Version::FIRST,
        }
    }
}

/// A change to an endpoint as a caller asks for it: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookEndpointPatchDraft {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// `Some("")` removes the exclusion.
    pub exclude_client_id: Option<String>,
    /// `true` enables a disabled endpoint again (its failures forgotten).
    pub enabled: Option<bool>,
}

/// A checked [`WebhookEndpointPatchDraft`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookEndpointPatch {
    pub url: Option<WebhookUrl>,
    pub event_types: Option<Vec<EventType>>,
    pub exclude_client_id: Option<Option<Tag>>,
    pub enabled: Option<bool>,
}

impl WebhookEndpointPatch {
    /// Checks every field of `draft`, reporting every problem at once.
    pub fn parse(
        draft: WebhookEndpointPatchDraft,
        allow_private: bool,
    ) -> Result<WebhookEndpointPatch, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let url = errors.collect(
            draft
                .url
                .map(|url| WebhookUrl::parse(&url, allow_private))
                .transpose(),
        );
        let event_types = errors.collect(
            draft
                .event_types
                .map(|names| parse_event_types(&names))
                .transpose(),
        );
        let exclude_client_id = errors.collect(
            draft
                .exclude_client_id
                .map(|text| parse_exclude_client_id(&text))
                .transpose(),
        );
        errors.finish(|| {
            Some(WebhookEndpointPatch {
                url: url?,
                event_types: event_types?,
                exclude_client_id: exclude_client_id?,
                enabled: draft.enabled,
            })
        })
    }

    /// `endpoint` with this patch applied at `at` (re-enabling forgets its failures);
    /// the version is the caller's to bump.
    pub fn apply(&self, endpoint: &WebhookEndpoint, at: Timestamp) -> WebhookEndpoint {
        let mut changed = endpoint.clone();
        if let Some(url) = &self.url {
            changed.url = url.clone();
        }
        if let Some(types) = &self.event_types {
            changed.event_types.clone_from(types);
        }
        if let Some(exclude) = &self.exclude_client_id {
            changed.exclude_client_id.clone_from(exclude);
        }
        if let Some(enabled) = self.enabled {
            if enabled && !endpoint.enabled {
                changed.failing_since = None;
                changed.disabled_at = None;
            }
            if !enabled && endpoint.enabled {
                changed.disabled_at = Some(at);
            }
            changed.enabled = enabled;
        }
        changed.updated_at = at;
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn endpoint() -> WebhookEndpoint {
        NewWebhookEndpoint::parse(
            WebhookEndpointDraft {
                url: "https://hooks.example.com/roster".into(),
                ..WebhookEndpointDraft::default()
            },
            false,
        )
        .unwrap()
        .into_endpoint(OrganizationId::generate(), crate::now())
    }

    #[test]
    fn urls_are_http_with_a_host_and_no_credentials() {
        for good in [
            "https://hooks.example.com/roster?x=1",
            "http://example.com",
            "HTTPS://Example.COM:8443/a",
            "https://[2001:db8::1]:443/x",
        ] {
            let parsed = WebhookUrl::parse(good, true);
            assert_eq!(parsed.map(|url| url.0), Ok(good.to_owned()), "{good}");
        }
        for bad in [
            "ftp://example.com",
            "example.com",
            "https://",
            "https://user:pw@example.com/",
            "https://ex ample.com",
            "https://example.com:99999/",
            "https://exa_mple.com/",
            "https://[::1/",
        ] {
            let refused = WebhookUrl::parse(bad, true).unwrap_err();
            assert_eq!(refused.field, Field::Url, "{bad}");
            assert_eq!(refused.code, ErrorCode::Invalid, "{bad}");
        }
        assert_eq!(
            WebhookUrl::parse("", true).unwrap_err().code,
            ErrorCode::Required
        );
        let long = format!("https://example.com/{}", "a".repeat(WebhookUrl::MAX));
        assert_eq!(
            WebhookUrl::parse(&long, true).unwrap_err().code,
            ErrorCode::TooLong
        );
    }

    #[test]
    fn private_literal_addresses_need_the_operators_leave() {
        for private in [
            "http://127.0.0.1:8080/",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://172.16.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://localhost:3000/",
            "http://api.localhost/",
        ] {
            assert!(WebhookUrl::parse(private, false).is_err(), "{private}");
            assert!(WebhookUrl::parse(private, true).is_ok(), "{private}");
        }
        for public in ["http://93.184.216.34/", "http://[2606:4700::1111]/"] {
            assert!(WebhookUrl::parse(public, false).is_ok(), "{public}");
        }
    }

    #[test]
    fn an_endpoint_wants_its_types_its_customer_and_no_echoes() {
        let mut endpoint = endpoint();
        let customer = CustomerId::generate();
        let me = Tag::parse("sync-1").unwrap();
        let other = Tag::parse("console").unwrap();
        assert!(endpoint.wants(EventType::UserUpdated, None, None));
        assert!(endpoint.wants(EventType::UserUpdated, Some(customer), Some(&me)));

        endpoint.event_types = vec![EventType::CustomerCreated];
        assert!(endpoint.wants(EventType::CustomerCreated, None, None));
        assert!(!endpoint.wants(EventType::UserUpdated, None, None));

        endpoint.event_types.clear();
        endpoint.customer_id = Some(customer);
        assert!(endpoint.wants(EventType::UserUpdated, Some(customer), None));
        assert!(!endpoint.wants(EventType::UserUpdated, Some(CustomerId::generate()), None));
        assert!(!endpoint.wants(EventType::UserUpdated, None, None));

        endpoint.customer_id = None;
        endpoint.exclude_client_id = Some(me.clone());
        assert!(!endpoint.wants(EventType::UserUpdated, None, Some(&me)));
        assert!(endpoint.wants(EventType::UserUpdated, None, Some(&other)));
        assert!(endpoint.wants(EventType::UserUpdated, None, None));
    }

    #[test]
    fn drafts_report_every_problem_at_once() {
        let errors = NewWebhookEndpoint::parse(
            WebhookEndpointDraft {
                url: "ftp://x".into(),
                event_types: vec!["customer.created".into(), "customer.exploded".into()],
                customer: Some(Err(InvalidId)),
                exclude_client_id: Some("has space".into()),
            },
            false,
        )
        .unwrap_err();
        let fields: Vec<Field> = errors.errors().iter().map(|error| error.field).collect();
        assert_eq!(
            fields,
            [
                Field::Url,
                Field::EventTypes,
                Field::Customer,
                Field::ExcludeClientId
            ]
        );
        let parsed = NewWebhookEndpoint::parse(
            WebhookEndpointDraft {
                url: "https://example.com/".into(),
                event_types: vec!["user.created".into(), "user.created".into()],
                customer: None,
                exclude_client_id: Some(String::new()),
            },
            false,
        )
        .unwrap();
        assert_eq!(parsed.event_types, [EventType::UserCreated]);
        assert_eq!(parsed.exclude_client_id, None);
    }

    #[test]
    fn a_rotated_secret_signs_for_its_grace_period_and_then_not() {
        let now = crate::now();
        let secrets = WebhookSecrets {
            current: WebhookSecret::new("whsec_new".into()),
            previous: Some(WebhookSecret::new("whsec_old".into())),
            previous_until: Some(now + PREVIOUS_SECRET_GRACE),
        };
        assert_eq!(secrets.signing(now), ["whsec_new", "whsec_old"]);
        assert_eq!(secrets.signing(now + PREVIOUS_SECRET_GRACE), ["whsec_new"]);
        assert_eq!(format!("{:?}", secrets.current), "WebhookSecret(..)");
    }

    #[test]
    fn failing_endpoints_are_disabled_after_three_days_and_deliveries_give_up_after_26_hours() {
        let now = crate::now();
        let mut endpoint = endpoint();
        assert!(!endpoint.fails_too_long(now));
        endpoint.failing_since = Some(now - TimeDelta::days(2));
        assert!(!endpoint.fails_too_long(now));
        endpoint.failing_since = Some(now - TimeDelta::days(3) - TimeDelta::seconds(1));
        assert!(endpoint.fails_too_long(now));
        assert!(!delivery_gives_up(now - TimeDelta::hours(25), now));
        assert!(delivery_gives_up(now - TimeDelta::hours(27), now));
    }

    #[test]
    fn re_enabling_forgets_failures_and_disabling_records_when() {
        let now = crate::now();
        let mut endpoint = endpoint();
        endpoint.enabled = false;
        endpoint.failing_since = Some(now);
        endpoint.disabled_at = Some(now);
        let patch = WebhookEndpointPatch {
            enabled: Some(true),
            ..WebhookEndpointPatch::default()
        };
        let enabled = patch.apply(&endpoint, now);
        assert!(
            enabled.enabled && enabled.failing_since.is_none() && enabled.disabled_at.is_none()
        );
        let patch = WebhookEndpointPatch {
            enabled: Some(false),
            ..WebhookEndpointPatch::default()
        };
        assert_eq!(patch.apply(&enabled, now).disabled_at, Some(now));
    }
}
