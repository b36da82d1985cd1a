//! The webhook signature: `Roster-Signature: v1=<hex>`, the hex HMAC-SHA256 of
//! `"<timestamp>.<body>"` keyed by a secret's UTF-8 bytes exactly as shown to its owner, one
//! `v1=` per secret still honoured (comma-separated), so a receiver verifies against either
//! secret while a rotation settles.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The lowercase hex HMAC-SHA256 of `message` keyed by `key`.
fn hmac_hex(key: &[u8], message: &[&[u8]]) -> String {
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    for part in message {
        mac.update(part);
    }
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The `Roster-Signature` header's value for `body` sent at `timestamp` (unix seconds):
/// `v1=<hex>` per secret, in the order given (the current secret first).
pub fn signature_header(secrets: &[&str], timestamp: i64, body: &[u8]) -> String {
    let timestamp = timestamp.to_string();
    secrets
        .iter()
        .map(|secret| {
            let hex = hmac_hex(secret.as_bytes(), &[timestamp.as_bytes(), b".", body]);
            format!("v1={hex}")
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        // RFC 4231, test case 2.
        assert_eq!(
            hmac_hex(b"Jefe", &[b"what do ya want ", b"for nothing?"]),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_header_signs_timestamp_dot_body_with_each_secret() {
        // Python: hmac.new(b"whsec_test", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
        assert_eq!(
            signature_header(&["whsec_test"], 1_700_000_000, br#"{"a":1}"#),
            "v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
        assert_eq!(
            signature_header(&["whsec_test", "whsec_old"], 1_700_000_000, br#"{"a":1}"#),
            "v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789,\
             v1=b9d801502bb535e960ee9aeee7a294b082bda5089d79c7db610b85116ce6faa6"
        );
    }
}
