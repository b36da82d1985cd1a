//! Filters evaluated on resources as JSON, as a table of (filter, matches?), and the filters
//! storage can answer with an index.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a table row that does not hold panics"
)]

use scim::{IndexedFilter, parse_filter};
use serde_json::{Value, json};

fn user() -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "Bjensen-701984",
        "userName": "bjensen@example.com",
        "name": {
            "formatted": "Ms. Barbara J Jensen, III",
            "familyName": "Jensen",
            "givenName": "Barbara"
        },
        "displayName": "Babs Jensen",
        "nickName": "",
        "active": true,
        "loginCount": 5,
        "score": 2.5,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [{"value": "+15555550100", "type": "mobile"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
        },
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2024-05-01T10:00:00Z",
            "version": "W/\"3694e05e9dff591\""
        }
    })
}

fn group() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "displayName": "Admins",
        "members": [
            {"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs"},
            {"value": "902c246b-6245-4190-8e05-00816be7344a"}
        ]
    })
}

#[test]
fn the_evaluation_table() {
    let user = user();
    let group = group();
    let rows: &[(&Value, &str, bool)] = &[
        // Strings: caseExact false, except id and externalId.
        (&user, "userName eq \"bjensen@example.com\"", true),
        (&user, "userName eq \"BJensen@Example.COM\"", true),
        (&user, "USERNAME eq \"bjensen@example.com\"", true),
        (&user, "userName eq \"bjensen\"", false),
        (
            &user,
            "id eq \"2819c223-7f76-453a-919d-413861904646\"",
            true,
        ),
        (
            &user,
            "id eq \"2819C223-7F76-453A-919D-413861904646\"",
            false,
        ),
        (&user, "externalId eq \"Bjensen-701984\"", true),
        (&user, "externalId eq \"bjensen-701984\"", false),
        (&user, "userName sw \"BJ\"", true),
        (&user, "userName ew \"@EXAMPLE.com\"", true),
        (&user, "userName co \"jens\"", true),
        (&user, "userName co \"zz\"", false),
        (&user, "name.familyName eq \"jensen\"", true),
        (&user, "NAME.FAMILYNAME eq \"JENSEN\"", true),
        (
            &user,
            "name.givenName sw \"Bar\" and name.familyName ew \"sen\"",
            true,
        ),
        (&user, "displayName gt \"Babs\"", true),
        (&user, "displayName lt \"babs\"", false),
        // Multi-valued: any value.
        (&user, "emails.value eq \"babs@jensen.org\"", true),
        (&user, "emails.value ew \"@example.com\"", true),
        (&user, "emails.type eq \"other\"", false),
        (&user, "emails co \"jensen\"", false),
        (&user, "emails[type eq \"work\"]", true),
        (
            &user,
            "emails[type eq \"work\" and value co \"example.com\"]",
            true,
        ),
        (&user, "emails[type eq \"home\" and primary eq true]", false),
        (&user, "emails[type eq \"work\" and primary eq true]", true),
        (
            &user,
            "emails[type eq \"work\"].value eq \"bjensen@example.com\"",
            true,
        ),
        (
            &user,
            "emails[type eq \"home\"].value eq \"bjensen@example.com\"",
            false,
        ),
        (&user, "emails[not (type eq \"work\")]", true),
        (
            &user,
            "phoneNumbers[type eq \"mobile\" and value sw \"+1555\"]",
            true,
        ),
        (
            &user,
            "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"",
            true,
        ),
        (
            &user,
            "schemas[value eq \"urn:ietf:params:scim:schemas:core:2.0:User\"]",
            true,
        ),
        // Presence.
        (&user, "title pr", false),
        (&user, "nickName pr", false),
        (&user, "displayName pr", true),
        (&user, "emails pr", true),
        (&user, "name pr", true),
        (&user, "emails[type eq \"work\"].value pr", true),
        (&user, "ims pr", false),
        // Booleans and null.
        (&user, "active eq true", true),
        (&user, "active eq false", false),
        (&user, "active ne false", true),
        (&user, "title eq null", true),
        (&user, "title ne null", false),
        (&user, "userName eq null", false),
        (&user, "userName ne null", true),
        (&user, "active eq \"true\"", false),
        // ne is the complement of eq (true when absent).
        (&user, "title ne \"x\"", true),
        (&user, "userName ne \"bjensen@example.com\"", false),
        (&user, "emails.type ne \"home\"", false),
        // Numbers.
        (&user, "loginCount gt 4", true),
        (&user, "loginCount ge 5.0", true),
        (&user, "loginCount lt 5", false),
        (&user, "loginCount eq 5", true),
        (&user, "score gt 2", true),
        (&user, "score le 2.5", true),
        (&user, "loginCount eq \"5\"", false),
        (&user, "loginCount co 5", false),
        // Date-times compare as instants, not text.
        (&user, "meta.lastModified gt \"2011-05-13T04:42:34Z\"", true),
        (
            &user,
            "meta.lastModified gt \"2024-05-01T11:00:00+02:00\"",
            true,
        ),
        (
            &user,
            "meta.lastModified lt \"2024-05-01T11:00:00+02:00\"",
            false,
        ),
        (
            &user,
            "meta.lastModified ge \"2024-05-01T10:00:00.000Z\"",
            true,
        ),
        (
            &user,
            "meta.lastModified le \"2024-05-01T12:00:00+02:00\"",
            true,
        ),
        (
            &user,
            "meta.lastModified lt \"2024-05-01T09:59:59.999Z\"",
            false,
        ),
        (&user, "meta.created lt \"2011-05-13T04:42:34Z\"", true),
        (&user, "meta.resourceType eq \"user\"", true),
        // Schema URNs.
        (
            &user,
            "urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"bj\"",
            true,
        ),
        (
            &user,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"701984\"",
            true,
        ),
        (
            &user,
            "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:EMPLOYEENUMBER eq \"701984\"",
            true,
        ),
        (
            &user,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"26118915-6090-4610-87e4-49d8ca9f808d\"",
            true,
        ),
        (
            &user,
            "urn:ietf:params:scim:schemas:extension:other:2.0:User:employeeNumber pr",
            false,
        ),
        // Logic.
        (&user, "title pr or userName pr", true),
        (&user, "title pr and userName pr", false),
        (&user, "not (title pr)", true),
        (
            &user,
            "not (userName pr) or (active eq true and emails[type eq \"work\"])",
            true,
        ),
        (
            &user,
            "userName eq \"x\" or userName eq \"y\" or emails[value eq \"BABS@jensen.org\"]",
            true,
        ),
        // Groups.
        (&group, "displayName eq \"admins\"", true),
        (
            &group,
            "members[value eq \"902c246b-6245-4190-8e05-00816be7344a\"]",
            true,
        ),
        (
            &group,
            "members.value eq \"2819c223-7f76-453a-919d-413861904646\"",
            true,
        ),
        (&group, "members.display pr", true),
        (&group, "members[value eq \"nobody\"]", false),
        // Not a resource: nothing matches but negations.
        (&Value::Null, "userName pr", false),
        (&Value::Null, "userName ne \"x\"", true),
    ];
    let mut failures = Vec::new();
    for (resource, filter, want) in rows {
        let parsed = parse_filter(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
        if parsed.matches(resource) != *want {
            failures.push(format!("{filter}: want {want}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn index_friendly_filters_are_recognised() {
    let rows: &[(&str, Option<IndexedFilter<'_>>)] = &[
        (
            "userName eq \"a@b.c\"",
            Some(IndexedFilter::UserName("a@b.c")),
        ),
        (
            "USERNAME EQ \"A@b.c\"",
            Some(IndexedFilter::UserName("A@b.c")),
        ),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"a@b.c\"",
            Some(IndexedFilter::UserName("a@b.c")),
        ),
        (
            "externalId eq \"x-1\"",
            Some(IndexedFilter::ExternalId("x-1")),
        ),
        (
            "emails.value eq \"a@b.c\"",
            Some(IndexedFilter::Email("a@b.c")),
        ),
        (
            "emails[value eq \"a@b.c\"]",
            Some(IndexedFilter::Email("a@b.c")),
        ),
        ("active eq true", Some(IndexedFilter::Active(true))),
        ("active eq false", Some(IndexedFilter::Active(false))),
        ("userName ne \"a@b.c\"", None),
        ("userName co \"a\"", None),
        ("userName eq 1", None),
        ("active eq \"true\"", None),
        ("emails.type eq \"work\"", None),
        ("emails[type eq \"work\"]", None),
        ("emails[value eq \"a@b.c\" and type eq \"work\"]", None),
        ("emails[type eq \"work\"].value eq \"a@b.c\"", None),
        ("userName eq \"a\" and active eq true", None),
        ("not (userName eq \"a\")", None),
        ("name.userName eq \"a\"", None),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName eq \"a\"",
            None,
        ),
    ];
    for (filter, want) in rows {
        let parsed = parse_filter(filter).unwrap();
        assert_eq!(&parsed.indexed(), want, "{filter}");
    }
}

#[test]
fn indexed_filters_agree_with_evaluation() {
    let user = user();
    for filter in [
        "userName eq \"BJENSEN@example.com\"",
        "externalId eq \"Bjensen-701984\"",
        "emails.value eq \"babs@jensen.org\"",
        "emails[value eq \"babs@jensen.org\"]",
        "active eq true",
    ] {
        let parsed = parse_filter(filter).unwrap();
        assert!(parsed.indexed().is_some(), "{filter}");
        assert!(parsed.matches(&user), "{filter}");
    }
}
