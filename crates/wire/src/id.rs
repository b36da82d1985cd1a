//! Relay global ids: `base64("<Type>:<uuid>")`, standard alphabet, `=`-padded.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use domain::{
    CustomerId, InvalidId, OrganizationId, PermissionId, RoleId, ScimTokenId, SigningKeyId, UserId,
    WebhookEndpointId,
};
use uuid::Uuid;

/// The kinds of object that have a global ID; the variant's name is the `<Type>` part of it
/// (the GraphQL type name), spelled once by `strum`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
pub enum NodeKind {
    Customer,
    User,
    Role,
    Permission,
    Organization,
    OrganizationSigningKey,
    /// An entry of the event log (its UUIDv7).
    Event,
    WebhookEndpoint,
    /// One delivery of one event to one webhook endpoint.
    WebhookDelivery,
    /// A customer's SCIM token.
    ScimToken,
}

impl NodeKind {
    /// The GraphQL type name (`Customer`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A decoded Relay global ID: which kind of object, and its UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GlobalId {
    pub kind: NodeKind,
    pub uuid: Uuid,
}

impl GlobalId {
    /// Decodes standard, `=`-padded base64 of `<Type>:<uuid>`.
    pub fn parse(text: &str) -> Result<GlobalId, InvalidId> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| InvalidId)?;
        let decoded = String::from_utf8(bytes).map_err(|_| InvalidId)?;
        let (name, uuid) = decoded.split_once(':').ok_or(InvalidId)?;
        let kind = name.parse::<NodeKind>().map_err(|_| InvalidId)?;
        let uuid = Uuid::try_parse(uuid).map_err(|_| InvalidId)?;
        Ok(GlobalId { kind, uuid })
    }

    /// Decodes `text` and checks that it names an object of `kind`.
    pub fn parse_as(text: &str, kind: NodeKind) -> Result<Uuid, InvalidId> {
        let id = GlobalId::parse(text)?;
        if id.kind != kind {
            return Err(InvalidId);
        }
        Ok(id.uuid)
    }
}

impl GlobalId {
    /// The base64 text clients see, the same as `Display` prints, made without the
    /// formatting machinery: a page prints hundreds of ids, and `format!` of the raw text
    /// cost several times the encoding itself.
    pub fn encode(&self) -> String {
        let mut encoded = Vec::with_capacity(ENCODED_ROOM);
        self.encode_into(&mut encoded);
        // The base64 alphabet is ASCII; a failure here cannot happen and would print "".
        String::from_utf8(encoded).unwrap_or_default()
    }

    /// [`GlobalId::encode`]'s text appended to `out`, for answers written straight as JSON
    /// (the base64 alphabet needs no escape there).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let kind = self.kind.as_str().as_bytes();
        let mut raw = [0_u8; RAW_ROOM];
        let length = kind.len() + 1 + uuid::fmt::Hyphenated::LENGTH;
        let Some(text) = raw.get_mut(..length) else {
            let raw = format!("{}:{}", self.kind.as_str(), self.uuid);
            push_base64(raw.as_bytes(), out);
            return;
        };
        let (prefix, uuid) = text.split_at_mut(kind.len() + 1);
        prefix[..kind.len()].copy_from_slice(kind);
        prefix[kind.len()] = b':';
        self.uuid.hyphenated().encode_lower(uuid);
        push_base64(text, out);
    }
}

/// The standard base64 alphabet.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Each 12-bit value as its two base64 characters, so a group of three bytes is written by
/// two lookups (the `base64` crate's engine, general and checked, cost three times as much
/// per id, and a page prints hundreds).
static PAIRS: [[u8; 2]; 4096] = {
    let mut pairs = [[0_u8; 2]; 4096];
    let mut bits = 0;
    while bits < 4096 {
        pairs[bits] = [ALPHABET[bits >> 6], ALPHABET[bits & 63]];
        bits += 1;
    }
    pairs
};

/// `raw` as standard, `=`-padded base64, appended to `out`: written on the stack when it
/// fits there (every id's raw text does), then copied once.
fn push_base64(raw: &[u8], out: &mut Vec<u8>) {
    let mut stack = [0_u8; ENCODED_ROOM];
    let length = raw.len().div_ceil(3) * 4;
    match stack.get_mut(..length) {
        Some(encoded) => {
            write_base64(raw, encoded);
            out.extend_from_slice(encoded);
        }
        None => {
            let start = out.len();
            out.resize(start + length, 0);
            write_base64(raw, &mut out[start..]);
        }
    }
}

/// `raw` as base64 into `encoded`, which holds exactly its padded length.
fn write_base64(raw: &[u8], encoded: &mut [u8]) {
    let pair = |bits: usize| PAIRS[bits & 0xfff];
    let mut groups = raw.chunks_exact(3);
    let mut quads = encoded.chunks_exact_mut(4);
    for (group, quad) in (&mut groups).zip(&mut quads) {
        let bits = usize::from(group[0]) << 16 | usize::from(group[1]) << 8 | usize::from(group[2]);
        let [a, b] = pair(bits >> 12);
        let [c, d] = pair(bits);
        quad.copy_from_slice(&[a, b, c, d]);
    }
    let tail = match *groups.remainder() {
        [first] => {
            let [a, b] = pair(usize::from(first) << 4);
            [a, b, b'=', b'=']
        }
        [first, second] => {
            let bits = usize::from(first) << 10 | usize::from(second) << 2;
            let [a, b] = pair(bits >> 6);
            [a, b, ALPHABET[bits & 63], b'=']
        }
        _ => return,
    };
    if let Some(quad) = quads.next() {
        quad.copy_from_slice(&tail);
    }
}

/// Room for the raw text of any kind's id on the stack.
const RAW_ROOM: usize = 64;

/// Room for the base64 of [`RAW_ROOM`] bytes.
const ENCODED_ROOM: usize = RAW_ROOM.div_ceil(3) * 4;

/// The global ID as clients see it (base64).
impl fmt::Display for GlobalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

/// A domain id that clients see as a Relay global ID of one [`NodeKind`].
pub trait Global: Sized {
    /// The kind of object this id names.
    const KIND: NodeKind;

    /// The Relay global ID clients see; `Display` it for the base64 text.
    fn global(self) -> GlobalId;

    /// Parses a Relay global ID that must name this kind of object.
    fn parse_global(text: &str) -> Result<Self, InvalidId>;
}

macro_rules! global {
    ($($id:ident => $kind:ident),+ $(,)?) => {
        $(
            impl Global for $id {
                const KIND: NodeKind = NodeKind::$kind;

                fn global(self) -> GlobalId {
                    GlobalId { kind: Self::KIND, uuid: self.uuid() }
                }

                fn parse_global(text: &str) -> Result<Self, InvalidId> {
                    GlobalId::parse_as(text, Self::KIND).map($id::from_uuid)
                }
            }
        )+
    };
}

global!(
    CustomerId => Customer,
    UserId => User,
    RoleId => Role,
    PermissionId => Permission,
    OrganizationId => Organization,
    SigningKeyId => OrganizationSigningKey,
    WebhookEndpointId => WebhookEndpoint,
    ScimTokenId => ScimToken,
);

/// The global id of an event's author, as the API and webhooks spell `actor.id`: a user's,
/// or for [`domain::events::ActorKind::Scim`] the SCIM token's (kept in the actor's id).
pub fn actor_global_id(actor: domain::events::EventActor) -> Option<GlobalId> {
    actor.user.map(|id| match actor.kind {
        domain::events::ActorKind::Scim => ScimTokenId::from_uuid(id.uuid()).global(),
        _ => id.global(),
    })
}

#[cfg(test)]
mod tests {
    use strum::IntoEnumIterator as _;

    use super::*;

    #[test]
    fn a_scim_actor_is_its_token() {
        use domain::events::{ActorKind, EventActor};
        let token = ScimTokenId::generate();
        let user = UserId::from_uuid(token.uuid());
        let scim = EventActor {
            user: Some(user),
            kind: ActorKind::Scim,
        };
        assert_eq!(actor_global_id(scim), Some(token.global()));
        let person = EventActor {
            user: Some(user),
            kind: ActorKind::User,
        };
        assert_eq!(actor_global_id(person), Some(user.global()));
        assert_eq!(
            actor_global_id(EventActor::without_user(ActorKind::System)),
            None
        );
    }

    #[test]
    fn base64_is_the_base64_crates_for_every_length_and_byte() {
        let bytes: Vec<u8> = (0..=255).chain((0..=255).rev()).collect();
        for length in 0..bytes.len() {
            for start in [0, 1, 2, 200] {
                let Some(raw) = bytes.get(start..start + length) else {
                    continue;
                };
                let mut out = b"before".to_vec();
                push_base64(raw, &mut out);
                assert_eq!(out[..6], *b"before");
                assert_eq!(
                    String::from_utf8_lossy(&out[6..]),
                    STANDARD.encode(raw),
                    "{length} bytes from {start}"
                );
            }
        }
    }

    #[test]
    fn encodes_the_contracts_example() {
        let uuid = Uuid::parse_str("d3456ceb-53e9-4bb9-aa82-7d2d47b6d108").unwrap();
        let id = CustomerId::from_uuid(uuid);
        assert_eq!(
            id.global().to_string(),
            "Q3VzdG9tZXI6ZDM0NTZjZWItNTNlOS00YmI5LWFhODItN2QyZDQ3YjZkMTA4"
        );
        assert_eq!(CustomerId::parse_global(&id.global().to_string()), Ok(id));
        assert_eq!(
            id.to_string(),
            uuid.to_string(),
            "the domain prints the UUID"
        );
    }

    #[test]
    fn encodes_every_kind_as_the_raw_text_in_base64() {
        let uuids = [
            Uuid::nil(),
            Uuid::max(),
            Uuid::parse_str("d3456ceb-53e9-4bb9-aa82-7d2d47b6d108").unwrap(),
        ];
        for kind in NodeKind::iter() {
            for uuid in uuids {
                let id = GlobalId { kind, uuid };
                let expected = STANDARD.encode(format!("{}:{}", kind.as_str(), uuid.hyphenated()));
                assert_eq!(id.encode(), expected);
                let mut written = b"x".to_vec();
                id.encode_into(&mut written);
                assert_eq!(written, format!("x{expected}").into_bytes());
                assert_eq!(id.to_string(), expected);
                assert_eq!(GlobalId::parse(&id.encode()), Ok(id));
            }
        }
    }

    #[test]
    fn keeps_base64_padding() {
        let id = OrganizationId::from_uuid(Uuid::nil());
        let text = id.global().to_string();
        assert!(text.ends_with('='), "{text}");
        assert_eq!(OrganizationId::parse_global(&text), Ok(id));
    }

    #[test]
    fn rejects_wrong_type_and_garbage() {
        let user = UserId::generate().global().to_string();
        assert_eq!(CustomerId::parse_global(&user), Err(InvalidId));
        for bad in [
            "",
            "!!!",
            "Zm9v",
            "Q3VzdG9tZXI6bm90LWEtdXVpZA==",
            "VW5rbm93bjpkMzQ1NmNlYi01M2U5LTRiYjktYWE4Mi03ZDJkNDdiNmQxMDg=",
        ] {
            assert_eq!(GlobalId::parse(bad), Err(InvalidId), "{bad}");
        }
        let plain = UserId::generate().to_string();
        assert_eq!(UserId::parse_global(&plain), Err(InvalidId), "a bare UUID");
    }

    #[test]
    fn every_kind_round_trips_under_its_graphql_type_name() {
        let names: Vec<_> = NodeKind::iter().map(NodeKind::as_str).collect();
        assert_eq!(
            names,
            [
                "Customer",
                "User",
                "Role",
                "Permission",
                "Organization",
                "OrganizationSigningKey",
                "Event",
                "WebhookEndpoint",
                "WebhookDelivery",
                "ScimToken"
            ]
        );
        for kind in NodeKind::iter() {
            let id = GlobalId {
                kind,
                uuid: Uuid::now_v7(),
            };
            assert_eq!(GlobalId::parse(&id.to_string()), Ok(id));
        }
    }
}
