//! GraphQL names of the domain's error fields and codes: `Field::ExternalId` is
//! `externalId`, `ErrorCode::TooLong` is `TOO_LONG`.
//!
//! Each table is a mirror of the domain enum whose spelling `strum` derives from the variant
//! names (the few exceptions are marked), with conversions both ways generated from the same
//! list: a variant added to the domain does not compile until it is named here, and every name
//! is spelled exactly once.

use domain::{ErrorCode, Field};

/// Declares a wire enum mirroring a domain enum variant for variant, with both conversions.
macro_rules! mirror {
    (
        $(#[$meta:meta])*
        enum $wire:ident <=> $domain:ident { $($(#[$variant_meta:meta])* $variant:ident,)+ }
    ) => {
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq,
            strum::EnumIter, strum::EnumString, strum::IntoStaticStr,
        )]
        $(#[$meta])*
        enum $wire {
            $($(#[$variant_meta])* $variant,)+
        }

        impl From<$domain> for $wire {
            fn from(value: $domain) -> Self {
                match value {
                    $($domain::$variant => $wire::$variant,)+
                }
            }
        }

        impl From<$wire> for $domain {
            fn from(value: $wire) -> Self {
                match value {
                    $($wire::$variant => $domain::$variant,)+
                }
            }
        }
    };
}

mirror! {
    /// Input field names as the contract spells them (`externalId`).
    #[strum(serialize_all = "camelCase")]
    enum FieldName <=> Field {
        /// Django's `NON_FIELD_ERRORS`: the whole record.
        #[strum(serialize = "__all__")]
        All,
        Id,
        Name,
        Description,
        ExternalId,
        Labels,
        AvatarUrl,
        ConcurrentExecutionLimit,
        AddAttachment,
        RemoveAttachment,
        RenameAttachment,
        Email,
        Phone,
        Role,
        Customer,
        FeatureFlags,
        AllowEmbeddedDesigner,
        AllowWorkflowCopilot,
        Starred,
        DarkMode,
        DarkModeSyncWithOs,
        PublicKey,
        Password,
        User,
        ExpectedVersion,
        Subject,
        Active,
        Url,
        EventTypes,
        ExcludeClientId,
    }
}

mirror! {
    /// Error codes as the contract spells them (`TOO_LONG`).
    #[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
    enum CodeName <=> ErrorCode {
        Required,
        Invalid,
        TooLong,
        Taken,
        NotFound,
        Forbidden,
        Stale,
    }
}

/// The GraphQL name of an error's field (`externalId`, or `__all__` for the whole record).
pub fn field_name(field: Field) -> &'static str {
    FieldName::from(field).into()
}

/// The field a GraphQL name denotes, if Roster knows it (rebuilding a remote server's errors).
pub fn parse_field(name: &str) -> Option<Field> {
    name.parse::<FieldName>().ok().map(Field::from)
}

/// The error code as the API spells it (`TOO_LONG`).
pub fn code_name(code: ErrorCode) -> &'static str {
    CodeName::from(code).into()
}

/// The code spelled `text` (`TOO_LONG`), if it is one of Roster's (remote errors).
pub fn parse_code(text: &str) -> Option<ErrorCode> {
    text.parse::<CodeName>().ok().map(ErrorCode::from)
}

#[cfg(test)]
mod tests {
    use strum::IntoEnumIterator as _;

    use super::*;

    #[test]
    fn every_field_round_trips_name_value_name() {
        for wire in FieldName::iter() {
            let field = Field::from(wire);
            let name = field_name(field);
            assert_eq!(parse_field(name), Some(field), "{name}");
            assert_eq!(FieldName::from(field), wire);
        }
        assert_eq!(parse_field("nope"), None);
        assert_eq!(parse_field("ExternalId"), None, "names are case-sensitive");
    }

    #[test]
    fn every_code_round_trips_name_value_name() {
        for wire in CodeName::iter() {
            let code = ErrorCode::from(wire);
            let name = code_name(code);
            assert_eq!(parse_code(name), Some(code), "{name}");
        }
        assert_eq!(parse_code("INTERNAL"), None);
    }

    #[test]
    fn names_are_the_contracts() {
        let fields: Vec<&str> = FieldName::iter().map(Into::into).collect();
        assert_eq!(
            fields,
            [
                "__all__",
                "id",
                "name",
                "description",
                "externalId",
                "labels",
                "avatarUrl",
                "concurrentExecutionLimit",
                "addAttachment",
                "removeAttachment",
                "renameAttachment",
                "email",
                "phone",
                "role",
                "customer",
                "featureFlags",
                "allowEmbeddedDesigner",
                "allowWorkflowCopilot",
                "starred",
                "darkMode",
                "darkModeSyncWithOs",
                "publicKey",
                "password",
                "user",
                "expectedVersion",
                "subject",
                "active",
                "url",
                "eventTypes",
                "excludeClientId",
            ]
        );
        let codes: Vec<&str> = CodeName::iter().map(Into::into).collect();
        assert_eq!(
            codes,
            [
                "REQUIRED",
                "INVALID",
                "TOO_LONG",
                "TAKEN",
                "NOT_FOUND",
                "FORBIDDEN",
                "STALE"
            ]
        );
    }
}
