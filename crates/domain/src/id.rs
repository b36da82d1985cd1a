//! Typed identifiers and their Relay global form (`base64("Customer:<uuid>")`).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use uuid::Uuid;

/// The kinds of object that have a global ID; the name is the `<Type>` part of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    Customer,
    User,
    Role,
    Permission,
    Organization,
    OrganizationSigningKey,
}

impl NodeKind {
    const ALL: [NodeKind; 6] = [
        NodeKind::Customer,
        NodeKind::User,
        NodeKind::Role,
        NodeKind::Permission,
        NodeKind::Organization,
        NodeKind::OrganizationSigningKey,
    ];

    /// The GraphQL type name.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Customer => "Customer",
            NodeKind::User => "User",
            NodeKind::Role => "Role",
            NodeKind::Permission => "Permission",
            NodeKind::Organization => "Organization",
            NodeKind::OrganizationSigningKey => "OrganizationSigningKey",
        }
    }

    fn from_name(name: &str) -> Option<NodeKind> {
        NodeKind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// An ID that does not decode, or names another type than expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid ID")]
pub struct InvalidId;

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
        let kind = NodeKind::from_name(name).ok_or(InvalidId)?;
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

impl fmt::Display for GlobalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let raw = format!("{}:{}", self.kind.as_str(), self.uuid.hyphenated());
        f.write_str(&STANDARD.encode(raw))
    }
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $kind:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn generate() -> Self {
                $name(Uuid::now_v7())
            }

            /// Wraps a UUID read back from storage.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                $name(uuid)
            }

            /// The UUID, for storage.
            pub const fn uuid(self) -> Uuid {
                self.0
            }

            /// The Relay global ID clients see.
            pub fn global(self) -> GlobalId {
                GlobalId { kind: NodeKind::$kind, uuid: self.0 }
            }

            /// Parses a Relay global ID that must name this kind of object.
            pub fn parse_global(text: &str) -> Result<Self, InvalidId> {
                GlobalId::parse_as(text, NodeKind::$kind).map($name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.global().fmt(f)
            }
        }
    };
}

typed_id!(
    /// Identifies a customer of an organization.
    CustomerId,
    Customer
);
typed_id!(
    /// Identifies a user (a team member or a customer user).
    UserId,
    User
);
typed_id!(
    /// Identifies one organization's instance of a built-in role.
    RoleId,
    Role
);
typed_id!(
    /// Identifies a permission; the same for every organization.
    PermissionId,
    Permission
);
typed_id!(
    /// Identifies an organization (a tenant).
    OrganizationId,
    Organization
);
typed_id!(
    /// Identifies a public key an organization registered to verify embedded users' JWTs.
    SigningKeyId,
    OrganizationSigningKey
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_contracts_example() {
        let uuid = Uuid::parse_str("d3456ceb-53e9-4bb9-aa82-7d2d47b6d108").unwrap();
        let id = CustomerId::from_uuid(uuid);
        assert_eq!(
            id.to_string(),
            "Q3VzdG9tZXI6ZDM0NTZjZWItNTNlOS00YmI5LWFhODItN2QyZDQ3YjZkMTA4"
        );
        assert_eq!(CustomerId::parse_global(&id.to_string()), Ok(id));
    }

    #[test]
    fn keeps_base64_padding() {
        let id = OrganizationId::from_uuid(Uuid::nil());
        let text = id.to_string();
        assert!(text.ends_with('='), "{text}");
        assert_eq!(OrganizationId::parse_global(&text), Ok(id));
    }

    #[test]
    fn rejects_wrong_type_and_garbage() {
        let user = UserId::generate().to_string();
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
    }
}
