//! Random input, bounded and from a fixed seed (so a failure reproduces): nothing panics; an
//! accepted filter's canonical text parses back to it; a failed PATCH changes nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a table row that does not hold panics"
)]

use scim::{PatchRequest, apply_patch, parse_filter, parse_patch_path};
use serde_json::{Value, json};

/// xorshift64*: enough randomness for inputs, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Pieces of filters, well- and ill-formed, that random sequences are made of.
const FRAGMENTS: &[&str] = &[
    "userName",
    "emails",
    "value",
    "type",
    "name.givenName",
    "meta.lastModified",
    "urn:ietf:params:scim:schemas:core:2.0:User:",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "not",
    "and",
    "or",
    " ",
    " ",
    " ",
    " eq ",
    " ne ",
    " co ",
    " sw ",
    " gt ",
    " le ",
    " pr",
    "(",
    ")",
    "[",
    "]",
    ".",
    ":",
    "\"x\"",
    "\"2024-05-01T10:00:00Z\"",
    "\"a\\\"b\\u00e9\"",
    "\"",
    "\\",
    "\\u",
    "1",
    "-2.5e3",
    "0",
    "true",
    "null",
    "$ref",
    "=",
    "\u{e9}",
    "\u{1F600}",
];

/// Characters of the grammar, so random strings get past the first token.
const ALPHABET: &[u8] = b"aeqnotrpsw()[].\":\\ u0123456789-eEfl$_ \t";

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "u1",
        "userName": "x",
        "name": {"givenName": "x", "familyName": "y"},
        "active": true,
        "emails": [{"value": "x", "type": "work", "primary": true}, {"value": "y"}],
        "meta": {"lastModified": "2024-05-01T10:00:00Z"},
        "members": [{"value": "a"}, {"value": "b"}]
    })
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x5EED_0001);
    for _ in 0..20_000 {
        let len = rng.below(48);
        let bytes: Vec<u8> = if rng.below(2) == 0 {
            (0..len).map(|_| rng.next() as u8).collect()
        } else {
            (0..len).map(|_| *rng.pick(ALPHABET)).collect()
        };
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(filter) = parse_filter(&text) {
            assert_eq!(
                parse_filter(&filter.to_string()).as_ref(),
                Ok(&filter),
                "{text:?}"
            );
        }
        if let Ok(path) = parse_patch_path(&text) {
            assert_eq!(
                parse_patch_path(&path.to_string()).as_ref(),
                Ok(&path),
                "{text:?}"
            );
        }
    }
}

/// A random valid filter, `depth` levels of nesting at most, in random case and spacing.
fn valid_filter(rng: &mut Rng, depth: usize, in_brackets: bool) -> String {
    let names = [
        "userName",
        "title",
        "name.givenName",
        "emails.value",
        "active",
        "meta.lastModified",
        "urn:ietf:params:scim:schemas:core:2.0:User:userName",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    ];
    let sub_names = ["type", "value", "primary", "display"];
    let values = [
        "\"x\"",
        "\"\"",
        "\"a\\\"b\\u00e9\"",
        "\"2024-05-01T10:00:00Z\"",
        "1",
        "-2.5e3",
        "0",
    ];
    let ops = [
        "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "Gt",
    ];
    let space = |rng: &mut Rng| if rng.below(4) == 0 { "  " } else { " " };
    let choice = if depth == 0 {
        rng.below(3)
    } else {
        rng.below(7)
    };
    match choice {
        0 | 1 => {
            let name = if in_brackets {
                *rng.pick(&sub_names)
            } else {
                *rng.pick(&names)
            };
            if choice == 1 && rng.below(2) == 0 {
                let lit = *rng.pick(&["true", "false", "null", "TRUE"]);
                let op = *rng.pick(&["eq", "ne"]);
                return format!("{name}{}{op}{}{lit}", space(rng), space(rng));
            }
            format!(
                "{name}{}{}{}{}",
                space(rng),
                rng.pick(&ops),
                space(rng),
                rng.pick(&values)
            )
        }
        2 => {
            let name = if in_brackets {
                *rng.pick(&sub_names)
            } else {
                *rng.pick(&names)
            };
            format!("{name}{}pr", space(rng))
        }
        3 => format!("({})", valid_filter(rng, depth - 1, in_brackets)),
        4 => format!(
            "{} ({})",
            rng.pick(&["not", "NOT"]),
            valid_filter(rng, depth - 1, in_brackets)
        ),
        5 if !in_brackets => format!(
            "{}[{}]",
            rng.pick(&[
                "emails",
                "members",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:x"
            ]),
            valid_filter(rng, depth - 1, true)
        ),
        _ => {
            let word = *rng.pick(&["and", "or", "AND", "Or"]);
            let count = 2 + rng.below(3);
            (0..count)
                .map(|_| valid_filter(rng, depth - 1, in_brackets))
                .collect::<Vec<_>>()
                .join(&format!(" {word} "))
        }
    }
}

/// `text` with a few random edits: characters removed, repeated, or fragments inserted.
fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(chars.len() + 1);
        match rng.below(3) {
            0 if at < chars.len() => {
                chars.remove(at);
            }
            1 if at < chars.len() => {
                let c = chars[at];
                chars.insert(at, c);
            }
            _ => chars
                .splice(at..at, rng.pick(FRAGMENTS).chars())
                .for_each(drop),
        }
    }
    chars.into_iter().collect()
}

#[test]
fn random_filters_parse_round_trip_and_survive_mutation() {
    let mut rng = Rng(0x5EED_0002);
    let resource = user();
    for _ in 0..5_000 {
        let depth = rng.below(5);
        let text = valid_filter(&mut rng, depth, false);
        let filter = parse_filter(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let canonical = filter.to_string();
        assert_eq!(parse_filter(&canonical).as_ref(), Ok(&filter), "{text:?}");
        let _ = filter.matches(&resource);
        let _ = filter.indexed();
        if !text.contains('[') {
            let path = format!("emails[{text}].value");
            let parsed = parse_patch_path(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            assert_eq!(parse_patch_path(&parsed.to_string()).as_ref(), Ok(&parsed));
        }
        let broken = mutate(&mut rng, &text);
        match parse_filter(&broken) {
            Ok(filter) => {
                assert_eq!(
                    parse_filter(&filter.to_string()).as_ref(),
                    Ok(&filter),
                    "{broken:?}"
                );
                let _ = filter.matches(&resource);
            }
            Err(error) => assert!(error.position <= broken.len(), "{broken:?}: {error:?}"),
        }
    }
}

#[test]
fn random_token_sequences_never_panic() {
    let mut rng = Rng(0x5EED_0004);
    for _ in 0..20_000 {
        let count = 1 + rng.below(12);
        let text: String = (0..count).map(|_| *rng.pick(FRAGMENTS)).collect();
        if let Ok(filter) = parse_filter(&text) {
            assert_eq!(
                parse_filter(&filter.to_string()).as_ref(),
                Ok(&filter),
                "{text:?}"
            );
        }
        let _ = parse_patch_path(&text);
    }
}

#[test]
fn random_patches_never_panic_and_fail_whole() {
    let mut rng = Rng(0x5EED_0003);
    let ops = [
        "add", "Add", "replace", "Replace", "remove", "REMOVE", "move",
    ];
    let paths = [
        json!(null),
        json!("active"),
        json!("name"),
        json!("name.givenName"),
        json!("emails"),
        json!("emails.value"),
        json!("emails[type eq \"work\"]"),
        json!("emails[type eq \"work\"].value"),
        json!("emails[value co \"x\"].primary"),
        json!("members"),
        json!("members[value eq \"a\"]"),
        json!("userName.x"),
        json!("id"),
        json!("meta.lastModified"),
        json!("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
        json!("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"),
        json!("urn:ietf:params:scim:schemas:core:2.0:User"),
        json!("emails[type eq"),
        json!(7),
    ];
    let values = [
        json!(null),
        json!("False"),
        json!("x"),
        json!(3),
        json!(true),
        json!({"givenName": "z"}),
        json!({"active": "true", "name": {"formatted": null}}),
        json!({"value": "n", "primary": true}),
        json!([{"value": "c"}, {"value": "a"}]),
        json!([]),
        json!({}),
        json!({"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "d"}}),
        json!({"name.familyName": "f", "bad key": 1}),
    ];
    let start = user();
    let mut applied = 0;
    for _ in 0..5_000 {
        let count = 1 + rng.below(4);
        let operations: Vec<Value> = (0..count)
            .map(|_| {
                let mut op = json!({"op": rng.pick(&ops)});
                let path = rng.pick(&paths);
                if !path.is_null() {
                    op["path"] = path.clone();
                }
                if rng.below(4) != 0 {
                    op["value"] = rng.pick(&values).clone();
                }
                op
            })
            .collect();
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": operations,
        });
        let Ok(request) = PatchRequest::from_json(&body) else {
            continue;
        };
        let mut resource = start.clone();
        match apply_patch(&mut resource, &request.operations) {
            Ok(()) => {
                applied += 1;
                assert!(resource.is_object());
                assert_eq!(resource["id"], start["id"], "{body}");
            }
            Err(_) => assert_eq!(resource, start, "{body}"),
        }
    }
    assert!(applied > 100, "only {applied} applied");
}
