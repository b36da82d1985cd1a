//! The signing-key use cases: generate, import, list and delete the RSA public keys that
//! verify an organization's embedded-user JWTs. Private keys leave once and are never kept.

use async_trait::async_trait;
use domain::events::Origin;
use domain::{Actor, Field, FieldError, SigningKey, SigningKeyId};
use jsonwebtoken::DecodingKey;
use ports::{DirectoryError, GeneratedSigningKey, SigningKeyDirectory};
use rsa::pkcs1::{DecodeRsaPublicKey, EncodeRsaPublicKey};
use rsa::pkcs8::{DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};

use crate::Directory;
use crate::errors::{record_not_found, storage};
use crate::events::{self, Change};

/// Size of generated keys, and the smallest accepted on import.
pub(crate) const RSA_BITS: usize = 2048;

/// Why key generation failed (never the caller's fault).
#[derive(Debug, thiserror::Error)]
#[error("could not generate an RSA key pair: {0}")]
struct KeyGenerationFailed(String);

fn unavailable(error: impl std::fmt::Display) -> DirectoryError {
    DirectoryError::Unavailable(Box::new(KeyGenerationFailed(error.to_string())))
}

/// A fresh RSA key pair as (public SPKI PEM, private PKCS#8 PEM).
fn generate_pair() -> Result<(String, String), DirectoryError> {
    let mut rng = rsa::rand_core::OsRng;
    let private = RsaPrivateKey::new(&mut rng, RSA_BITS).map_err(unavailable)?;
    let public = private
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(unavailable)?;
    let private = private.to_pkcs8_pem(LineEnding::LF).map_err(unavailable)?;
    Ok((public, private.to_string()))
}

/// `text` as a normalised SPKI PEM when it is a PEM RSA public key (SPKI `PUBLIC KEY` or
/// PKCS#1 `RSA PUBLIC KEY`) of at least [`RSA_BITS`] bits; a `publicKey` error otherwise.
pub(crate) fn parse_public_key(text: &str) -> Result<String, FieldError> {
    let text = text.trim();
    let key = RsaPublicKey::from_public_key_pem(text)
        .or_else(|_| RsaPublicKey::from_pkcs1_pem(text))
        .map_err(|_| {
            FieldError::invalid(Field::PublicKey, "Enter a PEM-encoded RSA public key.")
        })?;
    if key.size() * 8 < RSA_BITS {
        return Err(FieldError::invalid(
            Field::PublicKey,
            format!("The key must have at least {RSA_BITS} bits."),
        ));
    }
    key.to_public_key_pem(LineEnding::LF)
        .map_err(|_| FieldError::invalid(Field::PublicKey, "Enter a PEM-encoded RSA public key."))
}

/// The key that verifies RS256 signatures for a stored PEM public key; `None` if the PEM
/// does not hold an RSA public key.
pub(crate) fn decoding_key(public_pem: &str) -> Option<DecodingKey> {
    let key = RsaPublicKey::from_public_key_pem(public_pem)
        .or_else(|_| RsaPublicKey::from_pkcs1_pem(public_pem))
        .ok()?;
    let der = key.to_pkcs1_der().ok()?;
    Some(DecodingKey::from_rsa_der(der.as_bytes()))
}

impl Directory {
    fn check_key_admin(actor: &Actor) -> Result<(), DirectoryError> {
        if actor.can_manage_signing_keys() {
            Ok(())
        } else {
            Err(DirectoryError::Forbidden)
        }
    }

    async fn store_key(&self, origin: &Origin, key: &SigningKey) -> Result<(), DirectoryError> {
        let event = events::draft(origin, Change::SigningKeyAdded(key));
        self.repos
            .signing_keys
            .insert_signing_key(key, &event)
            .await
            .map_err(storage)?;
        tracing::info!(key = %key.id, actor = %origin.actor.user_id, imported = key.imported, "signing key added");
        Ok(())
    }
}

#[async_trait]
impl SigningKeyDirectory for Directory {
    #[tracing::instrument(level = "error", skip_all, name = "signing_keys.list")]
    async fn signing_keys(&self, actor: &Actor) -> Result<Vec<SigningKey>, DirectoryError> {
        Directory::check_key_admin(actor)?;
        self.repos
            .signing_keys
            .signing_keys(actor.organization_id)
            .await
            .map_err(storage)
    }

    #[tracing::instrument(level = "error", skip_all, name = "signing_keys.create")]
    async fn create_signing_key(
        &self,
        origin: &Origin,
    ) -> Result<GeneratedSigningKey, DirectoryError> {
        let actor = &origin.actor;
        Directory::check_key_admin(actor)?;
        // Key generation takes a noticeable moment; keep it off the async workers.
        let (public, private) = tokio::task::spawn_blocking(generate_pair)
            .await
            .map_err(unavailable)??;
        let key = SigningKey::generated(actor.organization_id, public, &private, domain::now());
        self.store_key(origin, &key).await?;
        Ok(GeneratedSigningKey {
            key,
            private_key_pem: private,
        })
    }

    #[tracing::instrument(level = "error", skip_all, name = "signing_keys.import")]
    async fn import_signing_key(
        &self,
        origin: &Origin,
        public_key: &str,
    ) -> Result<SigningKey, DirectoryError> {
        Directory::check_key_admin(&origin.actor)?;
        let public = parse_public_key(public_key)?;
        let key = SigningKey::imported(origin.actor.organization_id, public, domain::now());
        self.store_key(origin, &key).await?;
        Ok(key)
    }

    #[tracing::instrument(level = "error", skip_all, name = "signing_keys.delete")]
    async fn delete_signing_key(
        &self,
        origin: &Origin,
        id: SigningKeyId,
    ) -> Result<SigningKey, DirectoryError> {
        let actor = &origin.actor;
        Directory::check_key_admin(actor)?;
        let keys = &self.repos.signing_keys;
        // Read first, so the event's `before` is the key deleted (keys never change).
        let key = keys
            .signing_keys(actor.organization_id)
            .await
            .map_err(storage)?
            .into_iter()
            .find(|key| key.id == id)
            .ok_or_else(|| record_not_found(Field::Id))?;
        let event = events::draft(origin, Change::SigningKeyDeleted(&key));
        let deleted = keys
            .delete_signing_key(actor.organization_id, id, &event)
            .await
            .map_err(storage)?
            .ok_or_else(|| record_not_found(Field::Id))?;
        tracing::info!(key = %deleted.id, actor = %actor.user_id, "signing key deleted");
        Ok(deleted)
    }
}

/// Key pairs for other modules' tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use jsonwebtoken::EncodingKey;
    use rsa::RsaPrivateKey;
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;

    /// A fresh 2048-bit pair as (public SPKI PEM, private PKCS#8 PEM).
    pub(crate) fn generate_pair() -> (String, String) {
        super::generate_pair().unwrap()
    }

    /// The key that signs RS256 with a private PKCS#8 PEM.
    pub(crate) fn encoding_key(private_pem: &str) -> EncodingKey {
        let key = RsaPrivateKey::from_pkcs8_pem(private_pem).unwrap();
        EncodingKey::from_rsa_der(key.to_pkcs1_der().unwrap().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use domain::{ErrorCode, OrganizationId, RoleKind};
    use jsonwebtoken::{Algorithm, Header, Validation};

    use super::*;
    use domain::events::{ActorKind, EventActor, EventType, Subject};

    use crate::testing::{Mocks, actor, origin};

    fn invalid_fields(error: DirectoryError) -> Vec<(String, ErrorCode)> {
        match error {
            DirectoryError::Invalid(errors) => errors
                .errors()
                .iter()
                .map(|e| (wire::field_name(e.field).to_owned(), e.code))
                .collect(),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_created_key_stores_only_the_public_half_which_verifies_the_private_one() {
        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let mut mocks = Mocks::default();
        mocks
            .signing_keys
            .expect_insert_signing_key()
            .withf(move |key, event| {
                key.organization_id == org
                    && !key.imported
                    && key.public_key.starts_with("-----BEGIN PUBLIC KEY-----")
                    && !key.public_key.contains("PRIVATE")
                    && event.kind == EventType::SigningKeyCreated
                    && event.subject == Subject::SigningKey(key.id)
                    && event.after == Some(wire::snapshot::signing_key(key))
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let generated = mocks
            .directory()
            .create_signing_key(&origin(&owner))
            .await
            .unwrap();
        let private = &generated.private_key_pem;
        assert!(
            private.starts_with("-----BEGIN PRIVATE KEY-----"),
            "{private}"
        );
        assert_eq!(
            generated.key.private_key_preview,
            Some(domain::private_key_preview(private))
        );
        #[derive(Debug, serde::Serialize, serde::Deserialize)]
        struct Claims {
            sub: String,
            exp: u64,
        }
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            &Claims {
                sub: "x".into(),
                exp: 4_000_000_000,
            },
            &tests_support::encoding_key(private),
        )
        .unwrap();
        let decoded = jsonwebtoken::decode::<Claims>(
            &token,
            &decoding_key(&generated.key.public_key).unwrap(),
            &Validation::new(Algorithm::RS256),
        );
        assert!(decoded.is_ok(), "{decoded:?}");
    }

    #[tokio::test]
    async fn only_owners_and_admins_touch_keys() {
        let org = OrganizationId::generate();
        for (customer, kind) in [
            (None, RoleKind::Integrator),
            (None, RoleKind::CustomerManager),
            (
                Some(domain::CustomerId::generate()),
                RoleKind::CustomerAdmin,
            ),
        ] {
            let (caller, _) = actor(org, customer, kind);
            let directory = Mocks::default().directory();
            assert!(matches!(
                directory.signing_keys(&caller).await,
                Err(DirectoryError::Forbidden)
            ));
            assert!(matches!(
                directory.create_signing_key(&origin(&caller)).await,
                Err(DirectoryError::Forbidden)
            ));
            assert!(matches!(
                directory.import_signing_key(&origin(&caller), "x").await,
                Err(DirectoryError::Forbidden)
            ));
            assert!(matches!(
                directory
                    .delete_signing_key(&origin(&caller), SigningKeyId::generate())
                    .await,
                Err(DirectoryError::Forbidden)
            ));
        }
    }

    #[tokio::test]
    async fn imports_accept_rsa_public_keys_only() {
        let org = OrganizationId::generate();
        let (admin, _) = actor(org, None, RoleKind::Admin);
        let (public, private) = generate_pair().unwrap();
        let pkcs1 = {
            use rsa::pkcs1::EncodeRsaPublicKey;
            RsaPublicKey::from_public_key_pem(&public)
                .unwrap()
                .to_pkcs1_pem(LineEnding::LF)
                .unwrap()
        };
        let mut mocks = Mocks::default();
        let expected = public.clone();
        mocks
            .signing_keys
            .expect_insert_signing_key()
            .withf(move |key, event| {
                key.imported
                    && key.private_key_preview.is_none()
                    && key.public_key == expected
                    && event.kind == EventType::SigningKeyImported
                    && event.subject == Subject::SigningKey(key.id)
            })
            .times(2)
            .returning(|_, _| Ok(()));
        let directory = mocks.directory();
        for accepted in [format!("\n{public}\n"), pkcs1] {
            let key = directory
                .import_signing_key(&origin(&admin), &accepted)
                .await
                .unwrap();
            assert_eq!(key.organization_id, org);
        }
        for refused in [
            "",
            "not a key",
            private.as_str(),
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
        ] {
            let error = directory
                .import_signing_key(&origin(&admin), refused)
                .await
                .unwrap_err();
            assert_eq!(
                invalid_fields(error),
                [("publicKey".to_owned(), ErrorCode::Invalid)],
                "{refused}"
            );
        }
    }

    #[tokio::test]
    async fn deleting_an_unknown_key_is_not_found_on_id() {
        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let kept = SigningKey::imported(org, "-----BEGIN PUBLIC KEY-----".into(), domain::now());
        let mut mocks = Mocks::default();
        mocks
            .signing_keys
            .expect_signing_keys()
            .returning(move |_| Ok(vec![kept.clone()]));
        // Unknown: nothing to delete, so no write (and no event).
        mocks.signing_keys.expect_delete_signing_key().times(0);
        let error = mocks
            .directory()
            .delete_signing_key(&origin(&owner), SigningKeyId::generate())
            .await
            .unwrap_err();
        assert_eq!(
            invalid_fields(error),
            [("id".to_owned(), ErrorCode::NotFound)]
        );
    }

    #[tokio::test]
    async fn deleting_a_key_hands_storage_its_deleted_event_with_the_key_as_it_was() {
        let org = OrganizationId::generate();
        let (owner, _) = actor(org, None, RoleKind::Owner);
        let key = SigningKey::imported(org, "-----BEGIN PUBLIC KEY-----".into(), domain::now());
        let id = key.id;
        let mut mocks = Mocks::default();
        let listed = key.clone();
        mocks
            .signing_keys
            .expect_signing_keys()
            .returning(move |_| Ok(vec![listed.clone()]));
        let stored = key.clone();
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = calls.clone();
        mocks
            .signing_keys
            .expect_delete_signing_key()
            .withf(move |o, deleted, event| {
                *o == org
                    && *deleted == id
                    && event.organization_id == org
                    && event.kind == EventType::SigningKeyDeleted
                    && event.subject == Subject::SigningKey(id)
                    && event.actor
                        == EventActor {
                            user: Some(owner.user_id),
                            kind: ActorKind::User,
                        }
                    && event.before == Some(wire::snapshot::signing_key(&stored))
                    && event.after.is_none()
            })
            .times(2)
            .returning(move |_, _, _| {
                // The second delete finds the key gone (deleted concurrently).
                let first = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
                Ok(first.then(|| key.clone()))
            });
        let directory = mocks.directory();
        let deleted = directory
            .delete_signing_key(&origin(&owner), id)
            .await
            .unwrap();
        assert_eq!(deleted.id, id);
        let error = directory
            .delete_signing_key(&origin(&owner), id)
            .await
            .unwrap_err();
        assert_eq!(
            invalid_fields(error),
            [("id".to_owned(), ErrorCode::NotFound)]
        );
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
