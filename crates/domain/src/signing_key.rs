//! Signing keys: the RSA public keys an organization registers so that its own backend can
//! sign JWTs for embedded customer users. Roster never keeps a private key.

use crate::Timestamp;
use crate::id::{OrganizationId, SigningKeyId};

/// How many characters of a generated private key are kept, to tell keys apart.
pub const PREVIEW_CHARS: usize = 8;

/// A public key of an organization, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub id: SigningKeyId,
    pub organization_id: OrganizationId,
    /// The RSA public key, PEM (SPKI `PUBLIC KEY` or PKCS#1 `RSA PUBLIC KEY`).
    pub public_key: String,
    /// The last [`PREVIEW_CHARS`] characters of the private key's base64 body, for keys
    /// Roster generated; `None` for imported keys, whose private half Roster never saw.
    pub private_key_preview: Option<String>,
    pub issued_at: Timestamp,
    /// True when the public key was imported rather than generated here.
    pub imported: bool,
}

impl SigningKey {
    /// A key Roster generated: the public half and the preview of the private half.
    pub fn generated(
        organization_id: OrganizationId,
        public_key: String,
        private_key_pem: &str,
        now: Timestamp,
    ) -> Self {
        SigningKey {
            id: SigningKeyId::generate(),
            organization_id,
            public_key,
            private_key_preview: Some(private_key_preview(private_key_pem)),
            issued_at: now,
            imported: false,
        }
    }

    /// A public key the organization brought (already checked to be an RSA public key).
    pub fn imported(organization_id: OrganizationId, public_key: String, now: Timestamp) -> Self {
        SigningKey {
            id: SigningKeyId::generate(),
            organization_id,
            public_key,
            private_key_preview: None,
            issued_at: now,
            imported: true,
        }
    }
}

/// The last [`PREVIEW_CHARS`] characters of a PEM's base64 body (armour lines and
/// whitespace left out), so the owner of a private key can tell which stored key is its.
pub fn private_key_preview(pem: &str) -> String {
    let body: Vec<char> = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .flat_map(str::chars)
        .filter(|c| !c.is_whitespace())
        .collect();
    let start = body.len().saturating_sub(PREVIEW_CHARS);
    body[start..].iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preview_is_the_end_of_the_body_without_armour() {
        let pem =
            "-----BEGIN PRIVATE KEY-----\nAAAABBBB\nCCCCDDDDEEEE==\n-----END PRIVATE KEY-----\n";
        assert_eq!(private_key_preview(pem), "DDEEEE==");
        assert_eq!(
            private_key_preview("-----BEGIN X-----\nabc\n-----END X-----"),
            "abc"
        );
    }

    #[test]
    fn generated_keys_keep_a_preview_and_imported_ones_none() {
        let org = OrganizationId::generate();
        let pem = "-----BEGIN PRIVATE KEY-----\n0123456789abcdef\n-----END PRIVATE KEY-----";
        let generated = SigningKey::generated(org, "pub".into(), pem, crate::now());
        assert_eq!(generated.private_key_preview.as_deref(), Some("89abcdef"));
        assert!(!generated.imported);
        let imported = SigningKey::imported(org, "pub".into(), crate::now());
        assert_eq!(imported.private_key_preview, None);
        assert!(imported.imported);
    }
}
