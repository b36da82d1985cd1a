//! The filter grammar as a table: each input with the AST it parses to, or the kind of error
//! it is refused with (never a panic). Every accepted filter's canonical text parses back to
//! the same AST.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a table row that does not hold panics"
)]

use scim::{
    AttrPath, CompValue, CompareOp, ENTERPRISE_USER_SCHEMA, Filter, FilterErrorKind as K,
    MAX_DEPTH, MAX_INPUT, ScimType, parse_filter,
};
use serde_json::Number;

enum Want {
    Ast(Filter),
    Err(K),
}

/// `name` or `name.sub`, core schema.
fn ap(path: &str) -> AttrPath {
    match path.split_once('.') {
        Some((name, sub)) => AttrPath::with_sub(name, sub),
        None => AttrPath::new(path),
    }
}

fn ext(name: &str, sub: Option<&str>) -> AttrPath {
    AttrPath {
        schema: Some(ENTERPRISE_USER_SCHEMA.to_owned()),
        name: name.to_owned(),
        sub: sub.map(str::to_owned),
    }
}

fn cmp(path: &str, op: CompareOp, value: CompValue) -> Filter {
    Filter::Compare {
        path: ap(path),
        op,
        value,
    }
}

fn s(text: &str) -> CompValue {
    CompValue::String(text.to_owned())
}

/// A number as a correctly rounded double (or an integer), as the parser reads it.
fn num(text: &str) -> CompValue {
    if text.contains(['.', 'e', 'E']) {
        CompValue::Number(Number::from_f64(text.parse().unwrap()).unwrap())
    } else {
        CompValue::Number(Number::from(text.parse::<i64>().unwrap()))
    }
}

fn pr(path: &str) -> Filter {
    Filter::Present(ap(path))
}

fn and(terms: Vec<Filter>) -> Filter {
    Filter::And(terms)
}

fn or(terms: Vec<Filter>) -> Filter {
    Filter::Or(terms)
}

fn not(inner: Filter) -> Filter {
    Filter::Not(Box::new(inner))
}

fn vp(path: &str, inner: Filter) -> Filter {
    Filter::ValuePath {
        path: ap(path),
        filter: Box::new(inner),
    }
}

fn ok(input: impl Into<String>, ast: Filter) -> (String, Want) {
    (input.into(), Want::Ast(ast))
}

fn err(input: impl Into<String>, kind: K) -> (String, Want) {
    (input.into(), Want::Err(kind))
}

fn table() -> Vec<(String, Want)> {
    use CompareOp::*;
    let nested = |n: usize| format!("{}title pr{}", "(".repeat(n), ")".repeat(n));
    let padded = |total: usize| {
        let head = "userName eq \"";
        format!("{head}{}\"", "x".repeat(total - head.len() - 1))
    };
    vec![
        // The RFC 7644 §3.4.2.2 examples.
        ok("userName eq \"bjensen\"", cmp("userName", Eq, s("bjensen"))),
        ok(
            "name.familyName co \"O'Malley\"",
            cmp("name.familyName", Co, s("O'Malley")),
        ),
        ok("userName sw \"J\"", cmp("userName", Sw, s("J"))),
        ok(
            "urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"J\"",
            cmp("userName", Sw, s("J")),
        ),
        ok("title pr", pr("title")),
        ok(
            "meta.lastModified gt \"2011-05-13T04:42:34Z\"",
            cmp("meta.lastModified", Gt, s("2011-05-13T04:42:34Z")),
        ),
        ok(
            "meta.lastModified ge \"2011-05-13T04:42:34Z\"",
            cmp("meta.lastModified", Ge, s("2011-05-13T04:42:34Z")),
        ),
        ok(
            "meta.lastModified lt \"2011-05-13T04:42:34Z\"",
            cmp("meta.lastModified", Lt, s("2011-05-13T04:42:34Z")),
        ),
        ok(
            "meta.lastModified le \"2011-05-13T04:42:34Z\"",
            cmp("meta.lastModified", Le, s("2011-05-13T04:42:34Z")),
        ),
        ok(
            "title pr and userType eq \"Employee\"",
            and(vec![pr("title"), cmp("userType", Eq, s("Employee"))]),
        ),
        ok(
            "title pr or userType eq \"Intern\"",
            or(vec![pr("title"), cmp("userType", Eq, s("Intern"))]),
        ),
        ok(
            "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"",
            cmp("schemas", Eq, s(ENTERPRISE_USER_SCHEMA)),
        ),
        ok(
            "userType eq \"Employee\" and (emails co \"example.com\" or emails.value co \"example.org\")",
            and(vec![
                cmp("userType", Eq, s("Employee")),
                or(vec![
                    cmp("emails", Co, s("example.com")),
                    cmp("emails.value", Co, s("example.org")),
                ]),
            ]),
        ),
        ok(
            "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.org\")",
            and(vec![
                cmp("userType", Ne, s("Employee")),
                not(or(vec![
                    cmp("emails", Co, s("example.com")),
                    cmp("emails.value", Co, s("example.org")),
                ])),
            ]),
        ),
        ok(
            "userType eq \"Employee\" and (emails.type eq \"work\")",
            and(vec![
                cmp("userType", Eq, s("Employee")),
                cmp("emails.type", Eq, s("work")),
            ]),
        ),
        ok(
            "userType eq \"Employee\" and emails[type eq \"work\" and value co \"@example.com\"]",
            and(vec![
                cmp("userType", Eq, s("Employee")),
                vp(
                    "emails",
                    and(vec![
                        cmp("type", Eq, s("work")),
                        cmp("value", Co, s("@example.com")),
                    ]),
                ),
            ]),
        ),
        ok(
            "emails[type eq \"work\" and value co \"@example.com\"] or ims[type eq \"xmpp\" and value co \"@foo.com\"]",
            or(vec![
                vp(
                    "emails",
                    and(vec![
                        cmp("type", Eq, s("work")),
                        cmp("value", Co, s("@example.com")),
                    ]),
                ),
                vp(
                    "ims",
                    and(vec![
                        cmp("type", Eq, s("xmpp")),
                        cmp("value", Co, s("@foo.com")),
                    ]),
                ),
            ]),
        ),
        // Precedence: not > and > or; chains are flat.
        ok(
            "a eq 1 or b eq 2 and c eq 3",
            or(vec![
                cmp("a", Eq, num("1")),
                and(vec![cmp("b", Eq, num("2")), cmp("c", Eq, num("3"))]),
            ]),
        ),
        ok(
            "a eq 1 and b eq 2 or c eq 3",
            or(vec![
                and(vec![cmp("a", Eq, num("1")), cmp("b", Eq, num("2"))]),
                cmp("c", Eq, num("3")),
            ]),
        ),
        ok(
            "a eq 1 and b eq 2 and c eq 3",
            and(vec![
                cmp("a", Eq, num("1")),
                cmp("b", Eq, num("2")),
                cmp("c", Eq, num("3")),
            ]),
        ),
        ok(
            "a pr or b pr or c pr or d pr",
            or(vec![pr("a"), pr("b"), pr("c"), pr("d")]),
        ),
        ok(
            "(a eq 1 or b eq 2) and c eq 3",
            and(vec![
                or(vec![cmp("a", Eq, num("1")), cmp("b", Eq, num("2"))]),
                cmp("c", Eq, num("3")),
            ]),
        ),
        ok(
            "(a pr and b pr) and c pr",
            and(vec![and(vec![pr("a"), pr("b")]), pr("c")]),
        ),
        ok("not(title pr)", not(pr("title"))),
        ok("NOT (title pr)", not(pr("title"))),
        ok("not (not (title pr))", not(not(pr("title")))),
        ok("not (a pr) and b pr", and(vec![not(pr("a")), pr("b")])),
        // Case: keywords and operators in any case; names keep their spelling.
        ok("USERNAME EQ \"bjensen\"", cmp("USERNAME", Eq, s("bjensen"))),
        ok(
            "title PR AND userType Eq \"x\"",
            and(vec![pr("title"), cmp("userType", Eq, s("x"))]),
        ),
        // Literals.
        ok("active eq true", cmp("active", Eq, CompValue::Bool(true))),
        ok("active eq false", cmp("active", Eq, CompValue::Bool(false))),
        ok("active eq TRUE", cmp("active", Eq, CompValue::Bool(true))),
        ok("title eq null", cmp("title", Eq, CompValue::Null)),
        ok("title ne null", cmp("title", Ne, CompValue::Null)),
        ok("age gt 42", cmp("age", Gt, num("42"))),
        ok("age ge -1.5", cmp("age", Ge, num("-1.5"))),
        ok("age lt 1e3", cmp("age", Lt, num("1e3"))),
        ok("age le 0", cmp("age", Le, num("0"))),
        ok("age eq 2.5E-3", cmp("age", Eq, num("2.5E-3"))),
        ok("age gt -2.5e33", cmp("age", Gt, num("-2.5e33"))),
        ok(
            "age lt 18446744073709551615",
            cmp("age", Lt, CompValue::Number(u64::MAX.into())),
        ),
        ok("age lt 99999999999999999999", cmp("age", Lt, num("1e20"))),
        ok(r#"title eq "a\"b""#, cmp("title", Eq, s("a\"b"))),
        ok(
            r#"title eq "back\\slash\/""#,
            cmp("title", Eq, s("back\\slash/")),
        ),
        ok(r#"title eq "caf\u00e9""#, cmp("title", Eq, s("café"))),
        ok(r#"title eq "\ud83d\ude00""#, cmp("title", Eq, s("😀"))),
        ok(
            r#"title eq "a\n\t\r\b\fb""#,
            cmp("title", Eq, s("a\n\t\r\u{8}\u{c}b")),
        ),
        ok("title eq \"Zoë 東京\"", cmp("title", Eq, s("Zoë 東京"))),
        ok("title eq \"\"", cmp("title", Eq, s(""))),
        // URN-prefixed names.
        ok(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"701984\"",
            Filter::Compare {
                path: ext("employeeNumber", None),
                op: Eq,
                value: s("701984"),
            },
        ),
        ok(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"26118915\"",
            Filter::Compare {
                path: ext("manager", Some("value")),
                op: Eq,
                value: s("26118915"),
            },
        ),
        ok(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:employeeNumber pr",
            Filter::Present(ext("employeeNumber", None)),
        ),
        ok(
            "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:name.givenName pr",
            pr("name.givenName"),
        ),
        ok(
            "urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq \"Admins\"",
            cmp("displayName", Eq, s("Admins")),
        ),
        // Value paths.
        ok(
            "emails[type eq \"work\"]",
            vp("emails", cmp("type", Eq, s("work"))),
        ),
        ok(
            "emails[ type eq \"work\" ]",
            vp("emails", cmp("type", Eq, s("work"))),
        ),
        ok(
            "members[value eq \"abc\"]",
            vp("members", cmp("value", Eq, s("abc"))),
        ),
        ok("members[$ref pr]", vp("members", pr("$ref"))),
        ok(
            "emails[not (type eq \"work\")]",
            vp("emails", not(cmp("type", Eq, s("work")))),
        ),
        ok(
            "emails[(type eq \"work\" or type eq \"home\") and primary eq true]",
            vp(
                "emails",
                and(vec![
                    or(vec![cmp("type", Eq, s("work")), cmp("type", Eq, s("home"))]),
                    cmp("primary", Eq, CompValue::Bool(true)),
                ]),
            ),
        ),
        ok(
            "emails[type eq \"work\"].value eq \"x@y.z\"",
            vp(
                "emails",
                and(vec![
                    cmp("type", Eq, s("work")),
                    cmp("value", Eq, s("x@y.z")),
                ]),
            ),
        ),
        ok(
            "emails[type eq \"work\"].value pr",
            vp("emails", and(vec![cmp("type", Eq, s("work")), pr("value")])),
        ),
        // Whitespace.
        ok("  userName   eq \t \"x\"  ", cmp("userName", Eq, s("x"))),
        ok("(title pr)", pr("title")),
        ok("( title pr )", pr("title")),
        // Keywords as attribute names, where they stand as one.
        ok("not pr", pr("not")),
        ok("and eq \"x\"", cmp("and", Eq, s("x"))),
        ok("a pr and or pr", and(vec![pr("a"), pr("or")])),
        // Bounds: exactly at the limits is accepted.
        ok(nested(MAX_DEPTH), pr("title")),
        ok(
            padded(MAX_INPUT),
            cmp("userName", Eq, s(&"x".repeat(MAX_INPUT - 14))),
        ),
        // Malformed.
        err("", K::Empty),
        err("   \t ", K::Empty),
        err("(userName eq \"x\"", K::UnexpectedEnd),
        err("((userName eq \"x\")", K::UnexpectedEnd),
        err("userName eq \"x\")", K::UnexpectedToken),
        err(")(", K::UnexpectedToken),
        err("()", K::UnexpectedToken),
        err("userName eq", K::UnexpectedEnd),
        err("userName", K::UnexpectedEnd),
        err("userName eq \"x\" and", K::UnexpectedEnd),
        err("userName eq \"x\" or", K::UnexpectedEnd),
        err("userName eq \"x\" and and", K::UnexpectedEnd),
        err("eq \"x\"", K::UnknownOperator),
        err("userName equals \"x\"", K::UnknownOperator),
        err("userName EQUAL \"x\"", K::UnknownOperator),
        err("userName = \"x\"", K::UnexpectedChar),
        err("userName eq 'x'", K::UnexpectedChar),
        err("userName eq \"x\" && title pr", K::UnexpectedChar),
        err("_x eq 1", K::UnexpectedChar),
        err("userName eq \"x", K::UnterminatedString),
        err("userName eq \"x\\\"", K::UnterminatedString),
        err(r#"userName eq "x\q""#, K::InvalidString),
        err(r#"userName eq "\ud800""#, K::InvalidString),
        err(r#"userName eq "\ud800\u0041""#, K::InvalidString),
        err(r#"userName eq "\u12""#, K::InvalidString),
        err("userName eq \"a\tb\"", K::InvalidString),
        err("userName eq \"x\" garbage", K::TrailingInput),
        err("userName eq \"x\" \"y\"", K::TrailingInput),
        err("title pr pr", K::TrailingInput),
        err("emails[type eq \"work\"]]", K::TrailingInput),
        err("userName eq x", K::InvalidValue),
        err("userName eq (", K::InvalidValue),
        err("userName eq 01", K::InvalidNumber),
        err("age gt 12abc", K::InvalidNumber),
        err("age gt 1.", K::InvalidNumber),
        err("age gt -", K::InvalidNumber),
        err("age gt 1e999", K::InvalidNumber),
        err("1abc eq \"x\"", K::InvalidNumber),
        err("active gt true", K::UncomparableValue),
        err("title co null", K::UncomparableValue),
        err("active sw false", K::UncomparableValue),
        err("emails[type eq \"work\"", K::UnexpectedEnd),
        err("emails[]", K::UnexpectedToken),
        err("emails[addresses[type eq \"x\"]]", K::NestedValuePath),
        err("emails[type eq \"work\"].", K::UnexpectedEnd),
        err("emails[type eq \"work\"].value", K::UnexpectedEnd),
        err("emails[type eq \"work\"].value.x eq 1", K::InvalidAttrPath),
        err("name.givenName[type eq \"x\"]", K::UnexpectedToken),
        err("not userName eq \"x\"", K::UnexpectedToken),
        err("not (", K::UnexpectedEnd),
        err("name..givenName eq \"x\"", K::InvalidAttrPath),
        err("name.givenName.x eq \"x\"", K::InvalidAttrPath),
        err("foo:bar eq \"x\"", K::InvalidAttrPath),
        err("urn: eq \"x\"", K::InvalidAttrPath),
        err(
            "urn:ietf:params:scim:schemas:core:2.0:User: eq \"x\"",
            K::InvalidAttrPath,
        ),
        err("$foo eq 1", K::InvalidAttrPath),
        // Bombs.
        err(nested(MAX_DEPTH + 1), K::TooDeep),
        err(nested(1000), K::TooDeep),
        err(format!("{}title pr", "not (".repeat(100)), K::TooDeep),
        err(format!("{}title pr", "(".repeat(2000)), K::TooDeep),
        err(padded(MAX_INPUT + 1), K::TooLong),
        err(
            format!("userName eq \"{}\"", "x".repeat(100 * 1024)),
            K::TooLong,
        ),
        err(
            std::iter::repeat_n("title pr", 20_000)
                .collect::<Vec<_>>()
                .join(" and "),
            K::TooLong,
        ),
    ]
}

#[test]
fn the_grammar_table() {
    let rows = table();
    assert!(rows.len() >= 60, "only {} rows", rows.len());
    let mut failures = Vec::new();
    for (input, want) in &rows {
        let shown: String = input.chars().take(80).collect();
        match (parse_filter(input), want) {
            (Ok(got), Want::Ast(expected)) if &got == expected => {
                let text = got.to_string();
                match parse_filter(&text) {
                    Ok(again) if again == got => {}
                    other => failures.push(format!(
                        "{shown:?}: canonical text {text:?} parses to {other:?}"
                    )),
                }
            }
            (Err(e), Want::Err(kind)) if e.kind == *kind => {
                assert_eq!(e.scim_type(), ScimType::InvalidFilter);
                assert!(e.position <= input.len().max(MAX_INPUT), "{shown:?}: {e:?}");
            }
            (got, Want::Ast(expected)) => {
                failures.push(format!("{shown:?}: want {expected:?}, got {got:?}"));
            }
            (got, Want::Err(kind)) => {
                failures.push(format!("{shown:?}: want error {kind:?}, got {got:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn canonical_text_is_readable() {
    let filter = parse_filter(
        "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.org\")",
    )
    .unwrap();
    assert_eq!(
        filter.to_string(),
        "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.org\")"
    );
    let filter = parse_filter(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"a\\\"b\"",
    )
    .unwrap();
    assert_eq!(
        filter.to_string(),
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"a\\\"b\""
    );
}

#[test]
fn errors_say_where_and_what() {
    let error = parse_filter("userName eq \"x\" garbage").unwrap_err();
    assert_eq!(error.position, 16);
    assert_eq!(
        error.to_string(),
        "expected \"and\", \"or\" or the end of the filter, found \"garbage\" (at byte 16)"
    );
    let error = parse_filter("userName equals \"x\"").unwrap_err();
    assert_eq!(error.position, 9);
    assert!(error.message.contains("equals"), "{error}");
}
