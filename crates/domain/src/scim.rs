//! SCIM tokens: the bearer tokens a customer's identity provider (Okta, Entra ID...)
//! provisions that customer's users with, one customer per token ([`ScimToken`]), and who a
//! SCIM request acts as once its token is checked ([`ScimClient`]). The token's text is made
//! by the service and shown once; storage keeps only its SHA-256. Which roles SCIM serves as
//! groups, and who may be their members ([`is_scim_group`], [`scim_group_of`]).

use std::fmt;

use chrono::TimeDelta;

use crate::Timestamp;
use crate::User;
use crate::access::Actor;
use crate::embedded::is_placeholder_email;
use crate::error::{Field, FieldError, ValidationErrors};
use crate::events::{ActorKind, Origin, RequestMeta};
use crate::id::{CustomerId, InvalidId, OrganizationId, ScimTokenId, UserId};
use crate::role::{Role, RoleKind};
use crate::text::{check_max, check_single_line};

/// How often a token's `last_used_at` is written at most: a busy identity provider sends
/// many requests a minute, and each need not be a write.
pub const TOUCH_INTERVAL: TimeDelta = TimeDelta::minutes(1);

/// A token's text (`roster_scim_...`), the bearer credential. Never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct ScimSecret(String);

impl ScimSecret {
    /// The prefix every token starts with, so a leaked one is recognizable (and told
    /// from Roster's access tokens before any lookup).
    pub const PREFIX: &'static str = "roster_scim_";

    /// Characters of the token kept as its preview: the prefix and 8 more, enough to tell
    /// tokens apart in a list, far too few to guess the rest (32 random bytes).
    pub const PREVIEW_LEN: usize = Self::PREFIX.len() + 8;

    /// Wraps a token's text (made by the service, or presented by a client).
    pub fn new(text: String) -> ScimSecret {
        ScimSecret(text)
    }

    /// The token's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The start of the token that lists show (see [`ScimSecret::PREVIEW_LEN`]).
    pub fn preview(&self) -> String {
        self.0.chars().take(Self::PREVIEW_LEN).collect()
    }
}

impl fmt::Debug for ScimSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ScimSecret(..)")
    }
}

/// What a token is for, as its creator describes it ("Okta production"): 1..=255
/// characters after trimming, on one line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScimTokenDescription(String);

impl ScimTokenDescription {
    /// Longest description accepted, in characters.
    pub const MAX: usize = 255;

    /// Trims and checks a description.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(FieldError::required(Field::Description));
        }
        check_max(Field::Description, trimmed, Self::MAX)?;
        check_single_line(Field::Description, trimmed)?;
        Ok(ScimTokenDescription(trimmed.to_owned()))
    }

    /// A description read back from storage (checked when it was stored).
    pub fn from_stored(text: String) -> Self {
        ScimTokenDescription(text)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A SCIM token as listed: never its text, only its preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimToken {
    pub id: ScimTokenId,
    pub organization_id: OrganizationId,
    /// The one customer whose users the token provisions.
    pub customer_id: CustomerId,
    pub description: ScimTokenDescription,
    /// The token's first characters ([`ScimSecret::preview`]).
    pub preview: String,
    pub created_at: Timestamp,
    /// When a request last authenticated with it (written at most once per
    /// [`TOUCH_INTERVAL`]); `None` until first used.
    pub last_used_at: Option<Timestamp>,
    /// Whether users it creates get an invitation mail (off by default: the identity
    /// provider signs them in).
    pub send_invitations: bool,
}

impl ScimToken {
    /// Whether a use at `now` should be recorded: never used, or last recorded a
    /// [`TOUCH_INTERVAL`] ago or more.
    pub fn needs_touch(&self, now: Timestamp) -> bool {
        self.last_used_at
            .is_none_or(|last| now - last >= TOUCH_INTERVAL)
    }

    /// Who a request authenticated by this token acts as.
    pub fn client(&self) -> ScimClient {
        ScimClient {
            organization_id: self.organization_id,
            customer_id: self.customer_id,
            token_id: self.id,
            send_invitations: self.send_invitations,
        }
    }
}

/// Who a SCIM request acts as: its token's customer, in its organization, and nothing
/// else (no team member, no other customer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScimClient {
    pub organization_id: OrganizationId,
    pub customer_id: CustomerId,
    pub token_id: ScimTokenId,
    /// Whether users this client creates get an invitation mail.
    pub send_invitations: bool,
}

impl ScimClient {
    /// The directory caller a SCIM request acts as, so SCIM writes go through the same
    /// use cases (and access rules) as the API's: an Admin of the token's customer, whose
    /// id is the token's. No user has that id (ids are random), so the rules that compare
    /// the caller's id ("yourself", the caller who always sees itself) match no user; the
    /// SCIM routes call only the user use cases, and never `me`.
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: UserId::from_uuid(self.token_id.uuid()),
            organization_id: self.organization_id,
            customer_id: Some(self.customer_id),
            role: RoleKind::CustomerAdmin,
        }
    }

    /// The origin of a SCIM write through `request`: [`ScimClient::actor`], of kind
    /// [`ActorKind::Scim`], so the event log names the token as the author.
    pub fn origin(&self, request: RequestMeta) -> Origin {
        Origin {
            actor: self.actor(),
            kind: ActorKind::Scim,
            request,
        }
    }
}

/// The customer roles SCIM serves as groups, highest first: the roles of a customer's own
/// users, which its identity provider manages. The Marketplace roles are left out: they are
/// embedded users' (an embedded sign-in's JWT names one), and no identity provider knows
/// those users.
pub const SCIM_GROUP_ROLES: [RoleKind; 2] = [RoleKind::CustomerAdmin, RoleKind::CustomerMember];

/// The group a user falls back to when it leaves another (every user holds one role).
pub const SCIM_DEFAULT_GROUP: RoleKind = RoleKind::CustomerMember;

/// Whether SCIM serves `kind` as a group (see [`SCIM_GROUP_ROLES`]).
pub fn is_scim_group(kind: RoleKind) -> bool {
    SCIM_GROUP_ROLES.contains(&kind)
}

/// Whether `user` can be a member of a SCIM group: a customer's user that is not embedded
/// (an embedded user's role is its platform's business, not the identity provider's).
pub fn joins_scim_groups(user: &User) -> bool {
    user.customer_id.is_some() && !is_placeholder_email(&user.email)
}

/// The SCIM group `user` is a member of: its role, when that is a group and the user can
/// be a member of one; `None` otherwise (an embedded user, a Marketplace role).
pub fn scim_group_of(user: &User) -> Option<Role> {
    (joins_scim_groups(user) && is_scim_group(user.role.kind)).then_some(user.role)
}

/// A token as a caller asks for it, unchecked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimTokenDraft {
    /// The customer, its id decoded by the transport.
    pub customer: Result<CustomerId, InvalidId>,
    pub description: String,
    /// `None` is `false`.
    pub send_invitations: Option<bool>,
}

/// A checked [`ScimTokenDraft`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewScimToken {
    pub customer_id: CustomerId,
    pub description: ScimTokenDescription,
    pub send_invitations: bool,
}

impl NewScimToken {
    /// Checks every field of `draft`, reporting every problem at once.
    pub fn parse(draft: ScimTokenDraft) -> Result<NewScimToken, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let customer_id = errors.collect(
            draft
                .customer
                .map_err(|_| FieldError::invalid(Field::Customer, "Invalid ID")),
        );
        let description = errors.collect(ScimTokenDescription::parse(&draft.description));
        errors.finish(|| {
            Some(NewScimToken {
                customer_id: customer_id?,
                description: description?,
                send_invitations: draft.send_invitations.unwrap_or(false),
            })
        })
    }

    /// The token this makes for `secret` in `organization`, created at `at`.
    pub fn into_token(
        self,
        organization_id: OrganizationId,
        secret: &ScimSecret,
        at: Timestamp,
    ) -> ScimToken {
        ScimToken {
            id: ScimTokenId::generate(),
            organization_id,
            customer_id: self.customer_id,
            description: self.description,
            preview: secret.preview(),
            created_at: at,
            last_used_at: None,
            send_invitations: self.send_invitations,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn draft(description: &str) -> ScimTokenDraft {
        ScimTokenDraft {
            customer: Ok(CustomerId::generate()),
            description: description.into(),
            send_invitations: None,
        }
    }

    #[test]
    fn descriptions_are_one_trimmed_line_of_at_most_255_characters() {
        let parsed = NewScimToken::parse(draft("  Okta production ")).unwrap();
        assert_eq!(parsed.description.as_str(), "Okta production");
        assert!(!parsed.send_invitations);
        assert!(ScimTokenDescription::parse(&"é".repeat(255)).is_ok());
        for (bad, code) in [
            ("", ErrorCode::Required),
            ("   ", ErrorCode::Required),
            ("a\nb", ErrorCode::Invalid),
            ("a\u{202E}b", ErrorCode::Invalid),
        ] {
            let error = ScimTokenDescription::parse(bad).unwrap_err();
            assert_eq!(
                (error.field, error.code),
                (Field::Description, code),
                "{bad:?}"
            );
        }
        assert_eq!(
            ScimTokenDescription::parse(&"d".repeat(256))
                .unwrap_err()
                .code,
            ErrorCode::TooLong
        );
    }

    #[test]
    fn drafts_report_every_problem_at_once() {
        let errors = NewScimToken::parse(ScimTokenDraft {
            customer: Err(InvalidId),
            description: String::new(),
            send_invitations: Some(true),
        })
        .unwrap_err();
        let fields: Vec<Field> = errors.errors().iter().map(|error| error.field).collect();
        assert_eq!(fields, [Field::Customer, Field::Description]);
    }

    #[test]
    fn a_token_shows_only_its_preview_and_acts_for_its_customer() {
        let secret = ScimSecret::new("roster_scim_ABCDEFGHijklmnop".into());
        assert_eq!(secret.preview(), "roster_scim_ABCDEFGH");
        assert_eq!(format!("{secret:?}"), "ScimSecret(..)");
        let organization = OrganizationId::generate();
        let mut new = NewScimToken::parse(draft("Entra")).unwrap();
        new.send_invitations = true;
        let customer = new.customer_id;
        let token = new.into_token(organization, &secret, crate::now());
        assert_eq!(token.preview, "roster_scim_ABCDEFGH");
        let client = token.client();
        assert_eq!(
            (client.organization_id, client.customer_id, client.token_id),
            (organization, customer, token.id)
        );
        assert!(client.send_invitations);
    }

    fn client(organization: OrganizationId, customer: CustomerId) -> ScimClient {
        ScimClient {
            organization_id: organization,
            customer_id: customer,
            token_id: ScimTokenId::generate(),
            send_invitations: false,
        }
    }

    fn person(
        organization: OrganizationId,
        customer: Option<CustomerId>,
        kind: RoleKind,
    ) -> crate::User {
        let email = crate::Email::parse("p@example.com").unwrap();
        let draft = crate::UserDraft {
            email: email.as_str().into(),
            role: Ok(crate::RoleId::generate()),
            name: None,
            phone: None,
            external_id: None,
        };
        crate::NewUser::parse(draft).unwrap().into_user(
            organization,
            customer,
            crate::Role::generate(kind),
            crate::now(),
        )
    }

    #[test]
    fn a_scim_actor_acts_on_its_customers_users_only() {
        let organization = OrganizationId::generate();
        let acme = CustomerId::generate();
        let scim = client(organization, acme);
        let origin = scim.origin(RequestMeta::default());
        assert_eq!(origin.kind, ActorKind::Scim);
        let actor = origin.actor;
        assert_eq!(actor.user_id.uuid(), scim.token_id.uuid());
        assert_eq!(
            origin.event_actor().user.map(UserId::uuid),
            Some(scim.token_id.uuid())
        );
        for kind in [RoleKind::CustomerAdmin, RoleKind::CustomerMember] {
            let own = person(organization, Some(acme), kind);
            assert!(
                actor.can_view_user(&own) && actor.can_manage_user(&own),
                "{kind:?}"
            );
            assert!(actor.can_delete_user(&own), "{kind:?}");
        }
        let other_customer = person(
            organization,
            Some(CustomerId::generate()),
            RoleKind::CustomerMember,
        );
        let other_organization = person(
            OrganizationId::generate(),
            Some(acme),
            RoleKind::CustomerMember,
        );
        let mut outside = vec![other_customer, other_organization];
        for kind in [RoleKind::Owner, RoleKind::Admin, RoleKind::Guest] {
            outside.push(person(organization, None, kind));
        }
        for user in &outside {
            assert!(!actor.can_view_user(user), "{user:?}");
            assert!(!actor.can_manage_user(user), "{user:?}");
            assert!(!actor.can_delete_user(user), "{user:?}");
        }
        assert!(!actor.can_create_customer());
        assert!(!actor.can_manage_organization_users());
        assert!(!actor.can_manage_signing_keys());
        assert!(!actor.can_manage_users_of(CustomerId::generate()));
        let scope = actor.user_scope();
        assert!(!scope.organization_users);
        assert_eq!(scope.customers, crate::access::CustomerScope::Only(acme));
    }

    #[test]
    fn groups_are_the_roles_of_a_customers_own_users() {
        let groups: Vec<RoleKind> = RoleKind::ALL
            .into_iter()
            .filter(|kind| is_scim_group(*kind))
            .collect();
        assert_eq!(groups, [RoleKind::CustomerAdmin, RoleKind::CustomerMember]);
        assert!(is_scim_group(SCIM_DEFAULT_GROUP));
        let organization = OrganizationId::generate();
        let acme = CustomerId::generate();
        for kind in [RoleKind::CustomerAdmin, RoleKind::CustomerMember] {
            let user = person(organization, Some(acme), kind);
            assert_eq!(scim_group_of(&user), Some(user.role), "{kind:?}");
        }
        for kind in [RoleKind::MarketplaceAdmin, RoleKind::MarketplaceUser] {
            let user = person(organization, Some(acme), kind);
            assert!(joins_scim_groups(&user));
            assert_eq!(scim_group_of(&user), None, "{kind:?}");
        }
        let team_member = person(organization, None, RoleKind::Admin);
        assert!(!joins_scim_groups(&team_member));
        assert_eq!(scim_group_of(&team_member), None);
        let mut embedded = person(organization, Some(acme), RoleKind::CustomerAdmin);
        embedded.email = crate::embedded::placeholder_email(embedded.id);
        assert!(!joins_scim_groups(&embedded));
        assert_eq!(scim_group_of(&embedded), None);
    }

    #[test]
    fn uses_are_recorded_at_most_once_a_minute() {
        let now = crate::now();
        let mut token = NewScimToken::parse(draft("Okta")).unwrap().into_token(
            OrganizationId::generate(),
            &ScimSecret::new("x".into()),
            now,
        );
        assert!(token.needs_touch(now));
        token.last_used_at = Some(now - TimeDelta::seconds(59));
        assert!(!token.needs_touch(now));
        token.last_used_at = Some(now - TOUCH_INTERVAL);
        assert!(token.needs_touch(now));
    }
}
