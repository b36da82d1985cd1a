//! The kept SCIM attributes of a user ([`ScimProfile`]) as SCIM JSON: read from a
//! resource a client sent ([`profile_from_json`]) and written back into the resource Roster
//! serves ([`profile_to_json`]), so a client reads back exactly what it wrote. Storage keeps
//! the same JSON.

use domain::scim_user::{ScimName, ScimProfile, ScimText, ScimValue, ScimValueError};
use serde_json::{Map, Value};

/// The value of `key` in `object`, its name matched without case (RFC 7643 §2.1).
pub fn get_ci<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(key))
        .map(|(_, value)| value)
}

/// A string attribute: absent, `null` and `""` are unassigned (RFC 7643 §2.5).
fn text(
    object: &Map<String, Value>,
    key: &str,
    attribute: &str,
) -> Result<Option<ScimText>, ScimValueError> {
    match get_ci(object, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => ScimText::parse(attribute, s).map(Some),
        Some(_) => Err(ScimValueError::new(attribute, "must be a string")),
    }
}

/// A boolean sub-attribute; `"True"`/`"False"` in any case are read as booleans (Entra ID
/// sends them so).
fn boolean(
    object: &Map<String, Value>,
    key: &str,
    attribute: &str,
) -> Result<Option<bool>, ScimValueError> {
    match get_ci(object, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(ScimValueError::new(attribute, "must be a boolean")),
    }
}

fn multi_valued(
    resource: &Map<String, Value>,
    key: &str,
) -> Result<Vec<ScimValue>, ScimValueError> {
    let items = match get_ci(resource, key) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ScimValueError::new(key, "must be an array")),
    };
    if items.len() > ScimProfile::MAX_VALUES {
        return Err(ScimValueError::new(key, "holds more than 10 values"));
    }
    let mut values = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let Value::Object(item) = item else {
            return Err(ScimValueError::new(
                format!("{key}[{index}]"),
                "must be an object",
            ));
        };
        let at = |sub: &str| format!("{key}[{index}].{sub}");
        let Some(value) = text(item, "value", &at("value"))? else {
            return Err(ScimValueError::new(at("value"), "is required"));
        };
        values.push(ScimValue {
            value,
            kind: text(item, "type", &at("type"))?,
            primary: boolean(item, "primary", &at("primary"))?,
            display: text(item, "display", &at("display"))?,
        });
    }
    Ok(values)
}

/// The kept attributes of a SCIM User resource (`name`, `displayName`, `emails`,
/// `phoneNumbers`), checked; anything else in it is read elsewhere or ignored.
pub fn profile_from_json(resource: &Map<String, Value>) -> Result<ScimProfile, ScimValueError> {
    let name = match get_ci(resource, "name") {
        None | Some(Value::Null) => None,
        Some(Value::Object(name)) => Some(ScimName {
            formatted: text(name, "formatted", "name.formatted")?,
            given_name: text(name, "givenName", "name.givenName")?,
            family_name: text(name, "familyName", "name.familyName")?,
        })
        .filter(|name| !name.is_empty()),
        Some(_) => return Err(ScimValueError::new("name", "must be an object")),
    };
    ScimProfile {
        name,
        display_name: text(resource, "displayName", "displayName")?,
        emails: multi_valued(resource, "emails")?,
        phone_numbers: multi_valued(resource, "phoneNumbers")?,
    }
    .check()
}

fn values_json(values: &[ScimValue]) -> Value {
    Value::Array(
        values
            .iter()
            .map(|v| {
                let mut item = Map::new();
                item.insert("value".into(), v.value.as_str().into());
                if let Some(kind) = &v.kind {
                    item.insert("type".into(), kind.as_str().into());
                }
                if let Some(primary) = v.primary {
                    item.insert("primary".into(), primary.into());
                }
                if let Some(display) = &v.display {
                    item.insert("display".into(), display.as_str().into());
                }
                Value::Object(item)
            })
            .collect(),
    )
}

/// Writes `profile`'s attributes into `resource`; unassigned ones are left out.
pub fn profile_to_json(profile: &ScimProfile, resource: &mut Map<String, Value>) {
    if let Some(name) = &profile.name {
        let mut object = Map::new();
        for (key, part) in [
            ("formatted", &name.formatted),
            ("givenName", &name.given_name),
            ("familyName", &name.family_name),
        ] {
            if let Some(part) = part {
                object.insert(key.into(), part.as_str().into());
            }
        }
        resource.insert("name".into(), Value::Object(object));
    }
    if let Some(display) = &profile.display_name {
        resource.insert("displayName".into(), display.as_str().into());
    }
    if !profile.emails.is_empty() {
        resource.insert("emails".into(), values_json(&profile.emails));
    }
    if !profile.phone_numbers.is_empty() {
        resource.insert("phoneNumbers".into(), values_json(&profile.phone_numbers));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn a_profile_reads_back_exactly_as_sent() {
        let sent = json!({
            "name": {"formatted": "Ms Ann Lee ", "givenName": "Ann", "familyName": "Lee"},
            "displayName": "Annie",
            "emails": [{"value": "Ann@Example.com", "type": "work", "primary": true},
                       {"value": "ann@home.example", "type": "home", "display": "home"}],
            "phoneNumbers": [{"value": "+1 (555) 555-0123", "type": "mobile", "primary": false}],
        });
        let profile = profile_from_json(&object(sent.clone())).unwrap();
        let mut back = Map::new();
        profile_to_json(&profile, &mut back);
        assert_eq!(Value::Object(back), sent);
    }

    #[test]
    fn unassigned_attributes_read_back_absent() {
        let profile = profile_from_json(&object(json!({
            "name": {"givenName": "", "familyName": null},
            "displayName": "",
            "emails": null,
            "phoneNumbers": [],
        })))
        .unwrap();
        assert_eq!(profile, ScimProfile::default());
        let mut back = Map::new();
        profile_to_json(&profile, &mut back);
        assert!(back.is_empty());
    }

    #[test]
    fn names_match_without_case_and_entra_booleans_are_read() {
        let profile = profile_from_json(&object(json!({
            "DisplayName": "Bob",
            "Emails": [{"Value": "b@example.com", "Primary": "True"}],
        })))
        .unwrap();
        assert_eq!(profile.display_name.unwrap().as_str(), "Bob");
        assert_eq!(profile.emails[0].primary, Some(true));
    }

    #[test]
    fn malformed_attributes_are_invalid_values() {
        for (resource, attribute) in [
            (json!({"name": "Ann"}), "name"),
            (json!({"name": {"givenName": 3}}), "name.givenName"),
            (json!({"displayName": "a\u{7}"}), "displayName"),
            (json!({"emails": {"value": "a"}}), "emails"),
            (json!({"emails": ["a@example.com"]}), "emails[0]"),
            (json!({"emails": [{"type": "work"}]}), "emails[0].value"),
            (
                json!({"emails": [{"value": "a", "primary": "yes"}]}),
                "emails[0].primary",
            ),
            (
                json!({"phoneNumbers": vec![json!({"value": "+1"}); 11]}),
                "phoneNumbers",
            ),
            (
                json!({"emails": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}),
                "emails",
            ),
        ] {
            let error = profile_from_json(&object(resource.clone())).unwrap_err();
            assert_eq!(error.attribute, attribute, "{resource}");
        }
    }
}
