//! Embedded customer users: the claims of a JWT that an organization's backend signed for
//! one of its customers' users, checked, and the user record they make or refresh.
//!
//! The signature and the times (`exp`, `nbf`, `iat`) are checked by the service before the
//! claims get here; this module checks what the claims say.

use crate::Timestamp;
use crate::customer::{Customer, CustomerDraft, NewCustomer};
use crate::id::{CustomerId, InvalidId, OrganizationId, UserId};
use crate::role::{Role, RoleKind};
use crate::text::{CustomerName, Email, ExternalId, FeatureFlags, PersonName, Phone};
use crate::user::User;

/// Longest `sub` accepted, in characters.
pub const MAX_SUBJECT: usize = 255;

/// The domain that embedded users' placeholder addresses use: `.invalid` is reserved
/// (RFC 2606), so no mail can ever be delivered to one.
pub const PLACEHOLDER_EMAIL_DOMAIN: &str = "embedded.invalid";

/// The application claims of a verified embedded-user JWT, as they arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedClaims {
    pub sub: String,
    /// The organization, as the service decoded its id from the token (a Relay global ID).
    pub organization: Result<OrganizationId, InvalidId>,
    /// The customer's external id.
    pub customer: String,
    pub name: Option<String>,
    pub external_id: Option<String>,
    pub customer_name: Option<String>,
    /// `admin` (the default) or `user`.
    pub role: Option<String>,
}

/// Why the claims of a token cannot sign anyone in; the caller only ever sees a 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmbeddedRejection {
    /// A claim is empty, too long or malformed; the text names it, for logs.
    #[error("invalid claim: {0}")]
    InvalidClaim(&'static str),
}

/// What a valid embedded-user token says: who, in which customer of which organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedLogin {
    pub organization: OrganizationId,
    /// The user's id in the organization's own system (`sub`), unique within the customer.
    pub subject: String,
    pub customer_external_id: ExternalId,
    /// Creates the customer when it is unknown; without it an unknown customer is refused.
    pub customer_name: Option<CustomerName>,
    pub name: Option<PersonName>,
    pub external_id: Option<ExternalId>,
    pub role: RoleKind,
}

impl EmbeddedLogin {
    /// Checks the claims; any problem refuses the whole token.
    pub fn parse(claims: EmbeddedClaims) -> Result<Self, EmbeddedRejection> {
        let invalid = EmbeddedRejection::InvalidClaim;
        let organization = claims.organization.map_err(|_| invalid("organization"))?;
        let subject = claims.sub.trim().to_owned();
        if subject.is_empty()
            || subject.chars().count() > MAX_SUBJECT
            || subject.chars().any(crate::text::is_refused_char)
        {
            return Err(invalid("sub"));
        }
        let customer_external_id = ExternalId::parse_optional(&claims.customer)
            .ok()
            .flatten()
            .ok_or(invalid("customer"))?;
        let customer_name = claims
            .customer_name
            .as_deref()
            .filter(|name| !name.trim().is_empty())
            .map(CustomerName::parse)
            .transpose()
            .map_err(|_| invalid("customer_name"))?;
        let name = claims
            .name
            .as_deref()
            .map(PersonName::parse)
            .transpose()
            .map_err(|_| invalid("name"))?;
        let external_id = claims
            .external_id
            .as_deref()
            .map(ExternalId::parse_optional)
            .transpose()
            .map_err(|_| invalid("external_id"))?
            .flatten();
        let role = match claims.role.as_deref().map(str::trim) {
            None | Some("admin") => RoleKind::MarketplaceAdmin,
            Some("user") => RoleKind::MarketplaceUser,
            Some(_) => return Err(invalid("role")),
        };
        Ok(EmbeddedLogin {
            organization,
            subject,
            customer_external_id,
            customer_name,
            name,
            external_id,
            role,
        })
    }

    /// The customer to create for an unknown external id, if the token names one.
    pub fn new_customer(&self, now: Timestamp) -> Option<Customer> {
        let name = self.customer_name.as_ref()?;
        let customer = NewCustomer::parse(CustomerDraft {
            name: name.as_str().to_owned(),
            external_id: Some(self.customer_external_id.as_str().to_owned()),
            ..CustomerDraft::default()
        })
        .ok()?;
        Some(customer.into_customer(self.organization, now))
    }

    /// The user this login makes on first use, in `customer`, with `role` (this login's
    /// Marketplace role as the organization stores it). Embedded users get a placeholder
    /// address that can never receive mail, and no password.
    pub fn new_user(&self, customer: CustomerId, role: Role, now: Timestamp) -> User {
        let id = UserId::generate();
        User {
            id,
            organization_id: self.organization,
            customer_id: Some(customer),
            email: placeholder_email(id),
            name: self.name.clone().unwrap_or_else(PersonName::empty),
            phone: Phone::empty(),
            external_id: self.external_id.clone(),
            avatar_url: None,
            role,
            dark_mode: false,
            dark_mode_sync_with_os: true,
            feature_flags: FeatureFlags::empty(),
            created_at: now,
            updated_at: now,
            last_login: Some(now),
            deactivated_at: None,
            scim: None,
            version: crate::Version::FIRST,
        }
    }

    /// The stored user after a later sign-in, if this login changes it: a sent `name`
    /// replaces the stored one. `None` when nothing changes, so nothing is written.
    pub fn refresh(&self, user: &User, now: Timestamp) -> Option<User> {
        let name = self.name.as_ref().filter(|name| **name != user.name)?;
        let mut next = user.clone();
        next.name = name.clone();
        next.updated_at = now;
        Some(next)
    }
}

/// The address an embedded user is stored with: unique, and undeliverable by design.
pub fn placeholder_email(user: UserId) -> Email {
    Email::trusted(format!(
        "embedded-{}@{PLACEHOLDER_EMAIL_DOMAIN}",
        user.uuid().simple()
    ))
}

/// True when `email` is an embedded user's placeholder, which must never be mailed.
pub fn is_placeholder_email(email: &Email) -> bool {
    email
        .key()
        .ends_with(&format!("@{PLACEHOLDER_EMAIL_DOMAIN}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> EmbeddedClaims {
        EmbeddedClaims {
            sub: "user-42".into(),
            organization: Ok(OrganizationId::generate()),
            customer: "acme-1".into(),
            name: Some("Ada".into()),
            external_id: None,
            customer_name: None,
            role: None,
        }
    }

    #[test]
    fn the_role_claim_picks_a_marketplace_role_admin_by_default() {
        assert_eq!(
            EmbeddedLogin::parse(claims()).unwrap().role,
            RoleKind::MarketplaceAdmin
        );
        for (claim, kind) in [
            ("admin", RoleKind::MarketplaceAdmin),
            ("user", RoleKind::MarketplaceUser),
        ] {
            let login = EmbeddedLogin::parse(EmbeddedClaims {
                role: Some(claim.into()),
                ..claims()
            })
            .unwrap();
            assert_eq!(login.role, kind);
        }
        assert_eq!(
            EmbeddedLogin::parse(EmbeddedClaims {
                role: Some("owner".into()),
                ..claims()
            }),
            Err(EmbeddedRejection::InvalidClaim("role"))
        );
    }

    #[test]
    fn empty_or_malformed_identifying_claims_are_refused() {
        let cases = [
            (
                EmbeddedClaims {
                    sub: " ".into(),
                    ..claims()
                },
                "sub",
            ),
            (
                EmbeddedClaims {
                    customer: String::new(),
                    ..claims()
                },
                "customer",
            ),
            (
                EmbeddedClaims {
                    organization: Err(InvalidId),
                    ..claims()
                },
                "organization",
            ),
            (
                EmbeddedClaims {
                    sub: "s".repeat(MAX_SUBJECT + 1),
                    ..claims()
                },
                "sub",
            ),
            (
                EmbeddedClaims {
                    sub: "user\r\n42".into(),
                    ..claims()
                },
                "sub",
            ),
            (
                EmbeddedClaims {
                    name: Some("Eve\nAdmin".into()),
                    ..claims()
                },
                "name",
            ),
        ];
        for (claims, claim) in cases {
            assert_eq!(
                EmbeddedLogin::parse(claims),
                Err(EmbeddedRejection::InvalidClaim(claim))
            );
        }
    }

    #[test]
    fn a_new_user_gets_an_undeliverable_unique_address_and_the_claims() {
        let login = EmbeddedLogin::parse(claims()).unwrap();
        let role = Role::generate(RoleKind::MarketplaceAdmin);
        let customer = CustomerId::generate();
        let first = login.new_user(customer, role, crate::now());
        let second = login.new_user(customer, role, crate::now());
        assert_ne!(first.email, second.email);
        assert!(is_placeholder_email(&first.email), "{}", first.email);
        assert_eq!(Email::parse(first.email.as_str()), Ok(first.email.clone()));
        assert_eq!(first.name.as_str(), "Ada");
        assert_eq!(first.customer_id, Some(customer));
        assert!(!is_placeholder_email(
            &Email::parse("ada@example.com").unwrap()
        ));
    }

    #[test]
    fn a_later_login_changes_only_a_different_name() {
        let login = EmbeddedLogin::parse(claims()).unwrap();
        let role = Role::generate(RoleKind::MarketplaceAdmin);
        let user = login.new_user(CustomerId::generate(), role, crate::now());
        assert_eq!(login.refresh(&user, crate::now()), None);
        let renamed = EmbeddedLogin::parse(EmbeddedClaims {
            name: Some("Ada Lovelace".into()),
            ..claims()
        })
        .unwrap()
        .refresh(&user, crate::now())
        .unwrap();
        assert_eq!(renamed.name.as_str(), "Ada Lovelace");
        let unnamed = EmbeddedLogin::parse(EmbeddedClaims {
            name: None,
            ..claims()
        })
        .unwrap();
        assert_eq!(unnamed.refresh(&user, crate::now()), None);
    }

    #[test]
    fn customer_name_allows_creating_the_customer() {
        let org_claims = claims();
        let without = EmbeddedLogin::parse(org_claims.clone()).unwrap();
        assert!(without.new_customer(crate::now()).is_none());
        let with = EmbeddedLogin::parse(EmbeddedClaims {
            customer_name: Some("Acme".into()),
            ..org_claims
        })
        .unwrap();
        let customer = with.new_customer(crate::now()).unwrap();
        assert_eq!(customer.name.as_str(), "Acme");
        assert_eq!(
            customer.external_id.as_ref().map(ExternalId::as_str),
            Some("acme-1")
        );
        assert_eq!(customer.organization_id, with.organization);
    }
}
