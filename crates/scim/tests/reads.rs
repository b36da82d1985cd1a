//! What a router asks of a filter before evaluating it: which attributes it reads
//! ([`Filter::mentions`]) and the values an `eq`-only filter selects ([`Filter::equal_strings`]).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a table row that does not hold panics"
)]

use scim::parse_filter;

#[test]
fn a_filter_mentions_the_attributes_its_paths_name() {
    for (filter, mentions) in [
        (r#"members.value eq "u1""#, true),
        (r#"Members[value eq "u1"]"#, true),
        ("members pr", true),
        (
            r#"displayName eq "Admin" and not (members.display co "x")"#,
            true,
        ),
        (r#"displayName eq "Admin" or id eq "x""#, false),
        (r#"emails[members eq "x"]"#, false),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:Group:members.value eq "u1""#,
            true,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:members eq "u1""#,
            false,
        ),
    ] {
        assert_eq!(
            parse_filter(filter).unwrap().mentions("members"),
            mentions,
            "{filter}"
        );
    }
}

#[test]
fn eq_only_filters_give_the_values_they_select() {
    for (filter, values) in [
        (r#"value eq "u1""#, Some(vec!["u1"])),
        (r#"VALUE eq "u1" or value eq "u2""#, Some(vec!["u1", "u2"])),
        (
            r#"value eq "u1" or (value eq "u2" or value eq "u3")"#,
            Some(vec!["u1", "u2", "u3"]),
        ),
        (r#"value ne "u1""#, None),
        (r#"value eq "u1" and display eq "Ann""#, None),
        (r#"display eq "Ann""#, None),
        (r#"value eq "u1" or display eq "Ann""#, None),
        ("value eq 1", None),
        (r#"not (value eq "u1")"#, None),
    ] {
        assert_eq!(
            parse_filter(filter).unwrap().equal_strings("value"),
            values,
            "{filter}"
        );
    }
}
