//! The `Roster-Signature` header: `v1=<hex>`, the HMAC-SHA256 of `"<timestamp>.<body>"`
//! keyed by the endpoint secret's UTF-8 bytes, so a receiver knows a delivery came from
//! Roster, unaltered, and (with `Roster-Timestamp`) recently. While a rotated secret is still
//! honoured the header carries one `v1=` per secret, comma-separated, and a receiver accepts
//! the delivery if any of them matches the secret it holds.

use hmac::digest::{Key, KeyInit};
use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};

/// The scheme's prefix: a later scheme would add its own values beside these.
const SCHEME: &str = "v1=";

/// The value of `Roster-Signature` for `body` sent at `timestamp` (unix seconds): one
/// `v1=<hex>` per secret, in the order given (the current secret first), comma-separated.
pub fn signature_header(secrets: &[&str], timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|secret| {
            let tag = mac(secret, timestamp, body).finalize().into_bytes();
            format!("{SCHEME}{}", hex(&tag))
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether `header` (a `Roster-Signature` value) holds a `v1=` signature of `body` at
/// `timestamp` by `secret`, each compared in constant time: what a receiver does (it should
/// also refuse timestamps far from its clock, against replays). For tests and the docs.
pub fn verify(header: &str, secret: &str, timestamp: i64, body: &[u8]) -> bool {
    header
        .split(',')
        .filter_map(|value| value.trim().strip_prefix(SCHEME))
        .filter_map(unhex)
        .any(|tag| mac(secret, timestamp, body).verify_slice(&tag).is_ok())
}

/// The HMAC of `"<timestamp>.<body>"` keyed by `secret`, ready to finalize or verify.
fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block_key(secret.as_bytes()));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The key as HMAC uses it (RFC 2104): hashed when longer than a block, then zero-padded to
/// one. Done here so that keying is infallible (`new_from_slice` returns a `Result` that
/// cannot fail) without an `expect`.
fn block_key(secret: &[u8]) -> Key<Hmac<Sha256>> {
    let mut key = Key::<Hmac<Sha256>>::default();
    if secret.len() > key.len() {
        let digest = Sha256::digest(secret);
        key[..digest.len()].copy_from_slice(&digest);
    } else {
        key[..secret.len()].copy_from_slice(secret);
    }
    key
}

/// Lowercase hex, as the header carries it.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The bytes of a hex string (either case); `None` if it is not hex.
fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| {
            text.get(at..at + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] =
        br#"{"id":"0190f5c2-7c1e-7d4a-9b1e-6f3a2c1d0e9f","type":"customer.created","sequence":1}"#;
    const TIMESTAMP: i64 = 1_700_000_000;
    const CURRENT: &str = "whsec_Yb8H1rP4kq2T0mZcV7xWnE3sLaJd9uGfQo5iR6tKpXU";
    const PREVIOUS: &str = "whsec_previous-secret";

    // Computed independently with OpenSSL:
    //   printf '%s' "1700000000.$BODY" | openssl dgst -sha256 -hmac "$SECRET" -r
    const CURRENT_HEX: &str = "335488d5aa5133926a14d77c3dd20f0505729c57ebaa66e61045d01c4e07bfae";
    const PREVIOUS_HEX: &str = "cbf50dab842611c0ceb6094d66af1f714121c73774e11dc1a3f52a90f2692e16";

    #[test]
    fn the_signature_is_the_hmac_sha256_of_timestamp_dot_body_as_openssl_computes_it() {
        assert_eq!(
            signature_header(&[CURRENT], TIMESTAMP, BODY),
            format!("v1={CURRENT_HEX}")
        );
        // The key is the secret's UTF-8 bytes, whatever they are.
        assert_eq!(
            signature_header(&["ünïcødé-secret"], TIMESTAMP, BODY),
            "v1=a7d09248092b2f904e36c5640bace329b7d39ae3da66595fb2cd13debebb7bfa"
        );
        // Exactly one block long, and longer than a block (hashed first).
        let block = format!("{:064}", 7);
        assert_eq!(
            signature_header(&[&block], TIMESTAMP, BODY),
            "v1=3ddfcaff1f10995618ab859b998f9b611bdc001ce413d04c958fe0d475bcc7ee"
        );
        let long = "whsec_0123456789".repeat(7);
        assert_eq!(
            signature_header(&[&long[..100]], TIMESTAMP, BODY),
            "v1=3311e1d6208801ae0d413f5b9e446d522248f53ae7f24bc5c755e0650fbea28f"
        );
    }

    #[test]
    fn a_rotated_secret_adds_its_signature_after_the_current_one() {
        let header = signature_header(&[CURRENT, PREVIOUS], TIMESTAMP, BODY);
        assert_eq!(header, format!("v1={CURRENT_HEX},v1={PREVIOUS_HEX}"));
        // A receiver holding either secret accepts the delivery.
        assert!(verify(&header, CURRENT, TIMESTAMP, BODY));
        assert!(verify(&header, PREVIOUS, TIMESTAMP, BODY));
        assert!(!verify(&header, "whsec_another", TIMESTAMP, BODY));
        assert!(signature_header(&[], TIMESTAMP, BODY).is_empty());
    }

    #[test]
    fn verify_refuses_a_wrong_secret_a_tampered_body_or_timestamp_and_garbage() {
        let header = signature_header(&[CURRENT], TIMESTAMP, BODY);
        assert!(verify(&header, CURRENT, TIMESTAMP, BODY));
        // Spaces after the commas and uppercase hex are tolerated.
        let loose = format!("v0=abcd, V1=00, v1={}", CURRENT_HEX.to_uppercase());
        assert!(verify(&loose, CURRENT, TIMESTAMP, BODY));
        assert!(!verify(&header, PREVIOUS, TIMESTAMP, BODY));
        assert!(!verify(
            &header,
            &CURRENT[..CURRENT.len() - 1],
            TIMESTAMP,
            BODY
        ));
        let mut tampered = BODY.to_vec();
        tampered[10] ^= 1;
        assert!(!verify(&header, CURRENT, TIMESTAMP, &tampered));
        assert!(!verify(&header, CURRENT, TIMESTAMP + 1, BODY));
        for garbage in [
            "",
            "v1=",
            CURRENT_HEX,
            &format!("v2={CURRENT_HEX}"),
            &format!("v1={}", &CURRENT_HEX[..62]),
            &format!("v1={}0", CURRENT_HEX),
            &format!("v1={}zz", &CURRENT_HEX[..62]),
            "v1=é1",
        ] {
            assert!(!verify(garbage, CURRENT, TIMESTAMP, BODY), "{garbage:?}");
        }
    }
}
