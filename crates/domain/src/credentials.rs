//! Credentials: the passwords people choose and the refresh tokens that keep a session
//! going, with the rules that decide whether a refresh token may still be used.

use std::fmt;
use std::sync::Arc;

use uuid::Uuid;

use crate::Timestamp;
use crate::access::Actor;
use crate::error::{Field, FieldError};
use crate::id::{OrganizationId, UserId};

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD: usize = 12;
/// Longest password accepted, in characters (argon2 takes any length; this bounds the work).
pub const MAX_PASSWORD: usize = 128;

/// How long a refresh token may be used, unless it is rotated or revoked first.
pub const REFRESH_TOKEN_TTL: chrono::TimeDelta = chrono::TimeDelta::days(30);

/// A password a person chose, 12..=128 characters; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Checks the length rule (characters, not bytes); nothing is trimmed.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let length = text.chars().count();
        if length < MIN_PASSWORD {
            return Err(FieldError::invalid(
                Field::Password,
                format!("The password must have at least {MIN_PASSWORD} characters."),
            ));
        }
        if length > MAX_PASSWORD {
            return Err(FieldError::invalid(
                Field::Password,
                format!("The password must have at most {MAX_PASSWORD} characters."),
            ));
        }
        Ok(Password(text.to_owned()))
    }

    /// The password itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

/// A stored refresh token: only the hash of the opaque token the client holds. Tokens
/// rotated from one login share a `family`, so reuse of an old one can revoke them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// Hex SHA-256 of the token text.
    pub token_hash: String,
    pub family: Uuid,
    pub organization_id: OrganizationId,
    pub user_id: UserId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// When it was exchanged for its successor.
    pub used_at: Option<Timestamp>,
    /// When its family was revoked.
    pub revoked_at: Option<Timestamp>,
}

/// What a presented refresh token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshState {
    /// May be exchanged once.
    Active,
    /// Already exchanged: presenting it again means it leaked, so the family is revoked.
    Reused,
    /// Revoked or expired: refused, nothing else happens.
    Dead,
}

impl RefreshToken {
    /// The first token of a new login's family.
    pub fn issue(
        token_hash: String,
        organization_id: OrganizationId,
        user_id: UserId,
        now: Timestamp,
    ) -> Self {
        RefreshToken::successor_in(Uuid::now_v7(), token_hash, organization_id, user_id, now)
    }

    /// The token that replaces this one, in the same family.
    pub fn successor(&self, token_hash: String, now: Timestamp) -> Self {
        RefreshToken::successor_in(
            self.family,
            token_hash,
            self.organization_id,
            self.user_id,
            now,
        )
    }

    fn successor_in(
        family: Uuid,
        token_hash: String,
        organization_id: OrganizationId,
        user_id: UserId,
        now: Timestamp,
    ) -> Self {
        RefreshToken {
            token_hash,
            family,
            organization_id,
            user_id,
            created_at: now,
            expires_at: now + REFRESH_TOKEN_TTL,
            used_at: None,
            revoked_at: None,
        }
    }

    /// Whether the token may be exchanged at `now`.
    pub fn state(&self, now: Timestamp) -> RefreshState {
        if self.revoked_at.is_some() || now >= self.expires_at {
            RefreshState::Dead
        } else if self.used_at.is_some() {
            RefreshState::Reused
        } else {
            RefreshState::Active
        }
    }
}

/// A caller as its access tokens are checked on each request: who it is now, which token
/// generation is current (a password change or a role change starts a new one), and which of
/// its sessions (refresh families) were revoked recently enough for their tokens to live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Who the caller is as stored now.
    pub actor: Actor,
    /// Tokens naming another generation were issued before their user's tokens were ended.
    pub token_generation: i64,
    /// Sessions revoked within one access-token lifetime (older ones have no live token).
    pub revoked_sessions: Arc<[Uuid]>,
}

impl Caller {
    /// Whether a token naming `generation` and, for a login's token, `session` still counts.
    pub fn accepts(&self, generation: i64, session: Option<Uuid>) -> bool {
        generation == self.token_generation
            && session.is_none_or(|session| !self.revoked_sessions.contains(&session))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_12_to_128_characters_counted_as_characters() {
        assert!(Password::parse("elevenchars").is_err());
        assert!(Password::parse("twelve chars").is_ok());
        assert!(
            Password::parse(&"ä".repeat(12)).is_ok(),
            "24 bytes, 12 characters"
        );
        assert!(Password::parse(&"x".repeat(128)).is_ok());
        let error = Password::parse(&"x".repeat(129)).unwrap_err();
        assert_eq!(error.field, Field::Password);
        assert_eq!(
            format!("{:?}", Password::parse("secret secret").unwrap()),
            "Password(..)"
        );
    }

    #[test]
    fn a_token_is_active_once_then_reused_and_dead_when_revoked_or_expired() {
        let now = crate::now();
        let token = RefreshToken::issue(
            "h1".into(),
            OrganizationId::generate(),
            UserId::generate(),
            now,
        );
        assert_eq!(token.state(now), RefreshState::Active);
        let next = token.successor("h2".into(), now);
        assert_eq!(next.family, token.family);
        assert_eq!(next.user_id, token.user_id);
        let used = RefreshToken {
            used_at: Some(now),
            ..token.clone()
        };
        assert_eq!(used.state(now), RefreshState::Reused);
        let revoked = RefreshToken {
            revoked_at: Some(now),
            ..used
        };
        assert_eq!(revoked.state(now), RefreshState::Dead);
        assert_eq!(token.state(token.expires_at), RefreshState::Dead);
    }

    #[test]
    fn a_caller_accepts_only_its_current_generation_and_unrevoked_sessions() {
        let actor = Actor {
            user_id: UserId::generate(),
            organization_id: OrganizationId::generate(),
            customer_id: None,
            role: crate::RoleKind::Admin,
        };
        let revoked = Uuid::now_v7();
        let caller = Caller {
            actor,
            token_generation: 2,
            revoked_sessions: Arc::from([revoked]),
        };
        assert!(
            caller.accepts(2, None),
            "an operator token of this generation"
        );
        assert!(caller.accepts(2, Some(Uuid::now_v7())), "a live session");
        assert!(!caller.accepts(2, Some(revoked)), "a revoked session");
        assert!(!caller.accepts(1, None), "an earlier generation");
        assert!(!caller.accepts(3, None), "a generation never issued");
    }
}
