//! The SCIM attributes a customer's identity provider sends for a user, kept as sent
//! ([`ScimProfile`]) beside the user's own fields, which are derived from them: a SCIM
//! client reads back exactly what it wrote. Checked and bounded here; the JSON shape is the
//! `scim` crate's.

use crate::text::Phone;

/// Why a SCIM attribute was refused (SCIM's `invalidValue`): which attribute, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{attribute}: {reason}")]
pub struct ScimValueError {
    /// The attribute's path (`emails[1].value`, `name.givenName`).
    pub attribute: String,
    pub reason: &'static str,
}

impl ScimValueError {
    /// An error on `attribute`.
    pub fn new(attribute: impl Into<String>, reason: &'static str) -> Self {
        ScimValueError {
            attribute: attribute.into(),
            reason,
        }
    }
}

/// A SCIM string attribute kept verbatim (never trimmed or rewritten): 1 to
/// [`ScimText::MAX`] characters, no control characters, so it is safe to store and show.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScimText(String);

impl ScimText {
    /// Longest text accepted, in characters.
    pub const MAX: usize = 255;

    /// Checks `text` as the value of `attribute`.
    pub fn parse(attribute: &str, text: &str) -> Result<ScimText, ScimValueError> {
        if text.is_empty() {
            return Err(ScimValueError::new(attribute, "must not be empty"));
        }
        if text.chars().count() > Self::MAX {
            return Err(ScimValueError::new(
                attribute,
                "is longer than 255 characters",
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(ScimValueError::new(attribute, "holds a control character"));
        }
        Ok(ScimText(text.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// SCIM's `name` complex attribute, the parts Roster keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScimName {
    pub formatted: Option<ScimText>,
    pub given_name: Option<ScimText>,
    pub family_name: Option<ScimText>,
}

impl ScimName {
    /// True when no part is set (such a name is not kept: it reads back absent).
    pub fn is_empty(&self) -> bool {
        self.formatted.is_none() && self.given_name.is_none() && self.family_name.is_none()
    }
}

/// One value of a multi-valued attribute (`emails`, `phoneNumbers`), as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimValue {
    pub value: ScimText,
    /// SCIM's `type` (`work`, `home`, `mobile`...).
    pub kind: Option<ScimText>,
    pub primary: Option<bool>,
    pub display: Option<ScimText>,
}

/// The SCIM attributes of a user kept as sent: what the identity provider reads back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScimProfile {
    pub name: Option<ScimName>,
    pub display_name: Option<ScimText>,
    pub emails: Vec<ScimValue>,
    pub phone_numbers: Vec<ScimValue>,
}

impl ScimProfile {
    /// Most values a multi-valued attribute keeps: bounds what one user stores.
    pub const MAX_VALUES: usize = 10;

    /// Checks the bounds that span attributes (how many values, one primary at most).
    pub fn check(self) -> Result<ScimProfile, ScimValueError> {
        for (attribute, values) in [
            ("emails", &self.emails),
            ("phoneNumbers", &self.phone_numbers),
        ] {
            if values.len() > Self::MAX_VALUES {
                return Err(ScimValueError::new(attribute, "holds more than 10 values"));
            }
            if values.iter().filter(|v| v.primary == Some(true)).count() > 1 {
                return Err(ScimValueError::new(
                    attribute,
                    "has more than one primary value",
                ));
            }
        }
        Ok(self)
    }

    /// The user's name as Roster derives it: `displayName`, else `name.formatted`, else
    /// "givenName familyName", else `user_name` (the email).
    pub fn derived_name(&self, user_name: &str) -> String {
        if let Some(display) = &self.display_name {
            return display.as_str().to_owned();
        }
        let name = self.name.as_ref();
        if let Some(formatted) = name.and_then(|n| n.formatted.as_ref()) {
            return formatted.as_str().to_owned();
        }
        let parts: Vec<&str> = name
            .into_iter()
            .flat_map(|n| [n.given_name.as_ref(), n.family_name.as_ref()])
            .flatten()
            .map(ScimText::as_str)
            .collect();
        if parts.is_empty() {
            user_name.to_owned()
        } else {
            parts.join(" ")
        }
    }

    /// The user's phone: the primary phone number (the first when none is primary) when it
    /// is a valid E.164 number, else empty.
    pub fn derived_phone(&self) -> Phone {
        let number = self
            .phone_numbers
            .iter()
            .find(|v| v.primary == Some(true))
            .or_else(|| self.phone_numbers.first());
        number
            .and_then(|v| Phone::parse(v.value.as_str()).ok())
            .unwrap_or_else(Phone::empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> ScimText {
        ScimText::parse("x", s).unwrap()
    }

    fn value(v: &str, primary: Option<bool>) -> ScimValue {
        ScimValue {
            value: text(v),
            kind: Some(text("work")),
            primary,
            display: None,
        }
    }

    #[test]
    fn texts_are_kept_verbatim_within_bounds() {
        assert_eq!(text("  Ann ").as_str(), "  Ann ");
        assert!(ScimText::parse("x", &"é".repeat(255)).is_ok());
        for bad in ["", "a\nb", "a\u{0}b", &"a".repeat(256)] {
            let error = ScimText::parse("name.givenName", bad).unwrap_err();
            assert_eq!(error.attribute, "name.givenName", "{bad:?}");
        }
    }

    #[test]
    fn the_name_is_derived_in_order_of_preference() {
        let mut profile = ScimProfile::default();
        assert_eq!(profile.derived_name("a@example.com"), "a@example.com");
        profile.name = Some(ScimName {
            given_name: Some(text("Ann")),
            ..ScimName::default()
        });
        assert_eq!(profile.derived_name("a@example.com"), "Ann");
        profile.name.as_mut().unwrap().family_name = Some(text("Lee"));
        assert_eq!(profile.derived_name("a@example.com"), "Ann Lee");
        profile.name.as_mut().unwrap().formatted = Some(text("Ms Ann Lee"));
        assert_eq!(profile.derived_name("a@example.com"), "Ms Ann Lee");
        profile.display_name = Some(text("Annie"));
        assert_eq!(profile.derived_name("a@example.com"), "Annie");
    }

    #[test]
    fn the_phone_is_the_primary_number_when_it_is_e164() {
        let mut profile = ScimProfile {
            phone_numbers: vec![
                value("+15555550100", None),
                value("+15555550123", Some(true)),
            ],
            ..ScimProfile::default()
        };
        assert_eq!(profile.derived_phone().as_str(), "+15555550123");
        profile.phone_numbers = vec![value("+15555550100", None)];
        assert_eq!(profile.derived_phone().as_str(), "+15555550100");
        profile.phone_numbers = vec![value("(555) 555-0123", Some(true))];
        assert_eq!(profile.derived_phone().as_str(), "");
    }

    #[test]
    fn values_are_bounded_with_one_primary_at_most() {
        let many = ScimProfile {
            emails: vec![value("a@example.com", None); 11],
            ..ScimProfile::default()
        };
        assert_eq!(many.check().unwrap_err().attribute, "emails");
        let two = ScimProfile {
            phone_numbers: vec![value("+1", Some(true)), value("+2", Some(true))],
            ..ScimProfile::default()
        };
        assert_eq!(two.check().unwrap_err().attribute, "phoneNumbers");
        let fine = ScimProfile {
            emails: vec![value("a@example.com", None); 10],
            ..ScimProfile::default()
        };
        assert!(fine.check().is_ok());
    }
}
