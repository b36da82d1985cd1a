//! PATCH as tables: the path grammar, the request body (with Entra ID's and Okta's shapes),
//! and operations applied to resources.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a table row that does not hold panics"
)]

use scim::{
    AttrPath, CompValue, CompareOp, ENTERPRISE_USER_SCHEMA, Filter, PatchOp, PatchPath,
    PatchRequest, ScimType, apply_patch, parse_patch_path,
};
use serde_json::{Value, json};

fn body(operations: Value) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": operations,
    })
}

fn eq(name: &str, value: &str) -> Filter {
    Filter::Compare {
        path: AttrPath::new(name),
        op: CompareOp::Eq,
        value: CompValue::String(value.to_owned()),
    }
}

#[test]
fn the_path_table() {
    let path = |attr: AttrPath, filter: Option<Filter>| Ok(PatchPath { attr, filter });
    let ext = |name: &str, sub: Option<&str>| AttrPath {
        schema: Some(ENTERPRISE_USER_SCHEMA.to_owned()),
        name: name.to_owned(),
        sub: sub.map(str::to_owned),
    };
    let rows: Vec<(&str, Result<PatchPath, ScimType>)> = vec![
        ("active", path(AttrPath::new("active"), None)),
        (
            "name.givenName",
            path(AttrPath::with_sub("name", "givenName"), None),
        ),
        ("  members  ", path(AttrPath::new("members"), None)),
        (
            "emails[type eq \"work\"].value",
            path(
                AttrPath::with_sub("emails", "value"),
                Some(eq("type", "work")),
            ),
        ),
        (
            "emails[type eq \"work\"]",
            path(AttrPath::new("emails"), Some(eq("type", "work"))),
        ),
        (
            "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]",
            path(
                AttrPath::new("members"),
                Some(eq("value", "2819c223-7f76-453a-919d-413861904646")),
            ),
        ),
        (
            "addresses[type eq \"work\" and primary eq true].locality",
            path(
                AttrPath::with_sub("addresses", "locality"),
                Some(Filter::And(vec![
                    eq("type", "work"),
                    Filter::Compare {
                        path: AttrPath::new("primary"),
                        op: CompareOp::Eq,
                        value: CompValue::Bool(true),
                    },
                ])),
            ),
        ),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:userName",
            path(AttrPath::new("userName"), None),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            path(ext("employeeNumber", None), None),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            path(ext("manager", Some("value")), None),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            path(AttrPath::new(ENTERPRISE_USER_SCHEMA), None),
        ),
        ("", Err(ScimType::InvalidPath)),
        ("name..givenName", Err(ScimType::InvalidPath)),
        ("name.givenName.x", Err(ScimType::InvalidPath)),
        ("emails[type eq \"work\"", Err(ScimType::InvalidPath)),
        ("emails[type eq \"work\"].", Err(ScimType::InvalidPath)),
        (
            "emails[type eq \"work\"].value.x",
            Err(ScimType::InvalidPath),
        ),
        ("emails[type eq \"work\"]x", Err(ScimType::InvalidPath)),
        ("emails[]", Err(ScimType::InvalidPath)),
        ("emails[type zz \"work\"]", Err(ScimType::InvalidPath)),
        ("name.givenName[type eq \"x\"]", Err(ScimType::InvalidPath)),
        ("active eq true", Err(ScimType::InvalidPath)),
        ("\"active\"", Err(ScimType::InvalidPath)),
        ("(active)", Err(ScimType::InvalidPath)),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User",
            Err(ScimType::InvalidPath),
        ),
        ("1active", Err(ScimType::InvalidPath)),
    ];
    for (input, want) in rows {
        let got = parse_patch_path(input).map_err(|e| e.scim_type());
        assert_eq!(got, want, "{input:?}");
        if let Ok(parsed) = got {
            assert_eq!(
                parse_patch_path(&parsed.to_string()).as_ref(),
                Ok(&parsed),
                "{input:?}"
            );
        }
    }
}

#[test]
fn the_request_table() {
    let schema = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
    type Row = (&'static str, Value, Result<Vec<PatchOp>, ScimType>);
    let rows: Vec<Row> = vec![
        (
            "Entra ID: capitalised op, string boolean",
            body(json!([{"op": "Replace", "path": "active", "value": "False"}])),
            Ok(vec![PatchOp::Replace]),
        ),
        (
            "Okta: path-less replace",
            body(json!([{"op": "replace", "value": {"active": false}}])),
            Ok(vec![PatchOp::Replace]),
        ),
        (
            "Entra ID: add with a value path",
            body(
                json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "x@y.z"}]),
            ),
            Ok(vec![PatchOp::Add]),
        ),
        (
            "Groups: members add then remove",
            body(json!([
                {"op": "add", "path": "members", "value": [{"value": "a"}]},
                {"op": "remove", "path": "members[value eq \"b\"]"},
                {"op": "REMOVE", "path": "members", "value": [{"value": "c"}]},
            ])),
            Ok(vec![PatchOp::Add, PatchOp::Remove, PatchOp::Remove]),
        ),
        (
            "keys in any case",
            json!({"SCHEMAS": [schema], "operations": [{"OP": "add", "Path": "title", "Value": "x"}]}),
            Ok(vec![PatchOp::Add]),
        ),
        (
            "the core schema as path is the resource",
            body(
                json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User", "value": {"title": "x"}}]),
            ),
            Ok(vec![PatchOp::Replace]),
        ),
        (
            "replace with null unassigns",
            body(json!([{"op": "replace", "path": "title", "value": null}])),
            Ok(vec![PatchOp::Replace]),
        ),
        ("not an object", json!([]), Err(ScimType::InvalidSyntax)),
        (
            "no schemas",
            json!({"Operations": [{"op": "add", "path": "title", "value": "x"}]}),
            Err(ScimType::InvalidSyntax),
        ),
        (
            "another schema",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": []}),
            Err(ScimType::InvalidSyntax),
        ),
        (
            "schemas not a list",
            json!({"schemas": schema, "Operations": [{"op": "add", "path": "title", "value": "x"}]}),
            Err(ScimType::InvalidSyntax),
        ),
        (
            "no Operations",
            json!({"schemas": [schema]}),
            Err(ScimType::InvalidSyntax),
        ),
        (
            "empty Operations",
            body(json!([])),
            Err(ScimType::InvalidSyntax),
        ),
        (
            "Operations not a list",
            body(json!({"op": "add"})),
            Err(ScimType::InvalidSyntax),
        ),
        (
            "an operation not an object",
            body(json!(["add"])),
            Err(ScimType::InvalidSyntax),
        ),
        (
            "unknown op",
            body(json!([{"op": "move", "path": "title", "value": "x"}])),
            Err(ScimType::InvalidSyntax),
        ),
        (
            "no op",
            body(json!([{"path": "title", "value": "x"}])),
            Err(ScimType::InvalidSyntax),
        ),
        (
            "remove without path",
            body(json!([{"op": "remove"}])),
            Err(ScimType::NoTarget),
        ),
        (
            "add without value",
            body(json!([{"op": "add", "path": "title"}])),
            Err(ScimType::InvalidValue),
        ),
        (
            "add with null value",
            body(json!([{"op": "add", "path": "title", "value": null}])),
            Err(ScimType::InvalidValue),
        ),
        (
            "path-less add of a non-object",
            body(json!([{"op": "add", "value": "x"}])),
            Err(ScimType::InvalidValue),
        ),
        (
            "path not a string",
            body(json!([{"op": "add", "path": 5, "value": "x"}])),
            Err(ScimType::InvalidPath),
        ),
        (
            "malformed path",
            body(json!([{"op": "replace", "path": "emails[type eq", "value": "x"}])),
            Err(ScimType::InvalidPath),
        ),
        (
            "a later operation is bad",
            body(json!([
                {"op": "add", "path": "title", "value": "x"},
                {"op": "replace", "path": "name..x", "value": "x"},
            ])),
            Err(ScimType::InvalidPath),
        ),
    ];
    for (what, json, want) in rows {
        let got = PatchRequest::from_json(&json)
            .map(|r| r.operations.iter().map(|o| o.op).collect::<Vec<_>>())
            .map_err(|e| e.scim_type());
        assert_eq!(got, want, "{what}");
    }
    let too_many = body(Value::Array(vec![
        json!({"op": "add", "path": "title", "value": "x"});
        scim::patch::MAX_OPERATIONS + 1
    ]));
    assert_eq!(
        PatchRequest::from_json(&too_many).map_err(|e| e.scim_type()),
        Err(ScimType::InvalidSyntax)
    );
    let error =
        PatchRequest::from_json(&body(json!([{"op": "add", "path": "t"}, {"op": "remove"}])))
            .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid value: operation 0: \"add\" needs a \"value\""
    );
}

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "u1",
        "userName": "bjensen@example.com",
        "name": {"formatted": "Barbara Jensen", "givenName": "Barbara", "familyName": "Jensen"},
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "meta": {"resourceType": "User", "version": "W/\"1\""}
    })
}

fn group() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "g1",
        "displayName": "Admins",
        "members": [{"value": "a", "display": "A"}, {"value": "b"}]
    })
}

/// `user()` with `change` applied to its JSON by hand: the expected outcome.
fn user_with(change: impl FnOnce(&mut Value)) -> Value {
    let mut user = user();
    change(&mut user);
    user
}

fn group_with(change: impl FnOnce(&mut Value)) -> Value {
    let mut group = group();
    change(&mut group);
    group
}

#[test]
fn the_apply_table() {
    let enterprise = ENTERPRISE_USER_SCHEMA;
    let rows: Vec<(&str, Value, Value, Result<Value, ScimType>)> = vec![
        (
            "Entra ID: replace active with the string False",
            user(),
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
            Ok(user_with(|u| u["active"] = json!(false))),
        ),
        (
            "Entra ID: replace active with the string True",
            user_with(|u| u["active"] = json!(false)),
            json!([{"op": "Replace", "path": "active", "value": "True"}]),
            Ok(user()),
        ),
        (
            "Okta: path-less replace of active",
            user(),
            json!([{"op": "replace", "value": {"active": false}}]),
            Ok(user_with(|u| u["active"] = json!(false))),
        ),
        (
            "path-less replace of name as a whole object (unnamed sub-attributes kept, RFC 7644 §3.5.2.3)",
            user(),
            json!([{"op": "replace", "value": {"name": {"givenName": "Babs", "familyName": "J"}}}]),
            Ok(user_with(
                |u| {
                    u["name"] = json!({"formatted": "Barbara Jensen", "givenName": "Babs", "familyName": "J"})
                },
            )),
        ),
        (
            "path-less replace of name, formatted unassigned with null",
            user(),
            json!([{"op": "replace", "value": {"name": {"givenName": "Babs", "familyName": "J", "formatted": null}}}]),
            Ok(user_with(|u| {
                u["name"] = json!({"givenName": "Babs", "familyName": "J"})
            })),
        ),
        (
            "Entra ID: add to the work email's value (exists)",
            user(),
            json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "new@example.com"}]),
            Ok(user_with(|u| {
                u["emails"][0]["value"] = json!("new@example.com")
            })),
        ),
        (
            "Entra ID: add to the work email's value (none yet)",
            user_with(|u| {
                u.as_object_mut().unwrap().remove("emails");
            }),
            json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "x@y.z"}]),
            Ok(user_with(|u| {
                u["emails"] = json!([{"type": "work", "value": "x@y.z"}])
            })),
        ),
        (
            "add with a value path that names no value to build",
            user(),
            json!([{"op": "add", "path": "emails[value co \"nothing\"].type", "value": "x"}]),
            Err(ScimType::NoTarget),
        ),
        (
            "replace a matching value's sub-attribute",
            user(),
            json!([{"op": "replace", "path": "emails[type eq \"home\"].value", "value": "h@x.y"}]),
            Ok(user_with(|u| u["emails"][1]["value"] = json!("h@x.y"))),
        ),
        (
            "replace a matching value whole",
            user(),
            json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "h@x.y", "type": "other"}}]),
            Ok(user_with(|u| {
                u["emails"][1] = json!({"value": "h@x.y", "type": "other"})
            })),
        ),
        (
            "replace with a value filter that matches nothing: noTarget, nothing changed",
            user(),
            json!([
                {"op": "replace", "path": "title", "value": "changed first"},
                {"op": "replace", "path": "emails[type eq \"other\"].value", "value": "x"}
            ]),
            Err(ScimType::NoTarget),
        ),
        (
            "replace the emails whole",
            user(),
            json!([{"op": "replace", "path": "emails", "value": [{"value": "only@x.y"}]}]),
            Ok(user_with(|u| u["emails"] = json!([{"value": "only@x.y"}]))),
        ),
        (
            "replace the emails with one value, not a list",
            user(),
            json!([{"op": "replace", "path": "emails", "value": {"value": "only@x.y"}}]),
            Ok(user_with(|u| u["emails"] = json!([{"value": "only@x.y"}]))),
        ),
        (
            "a sub-attribute of every value",
            user(),
            json!([{"op": "replace", "path": "emails.type", "value": "other"}]),
            Ok(user_with(|u| {
                u["emails"][0]["type"] = json!("other");
                u["emails"][1]["type"] = json!("other");
            })),
        ),
        (
            "remove matching members among many, keeping order",
            group_with(|g| {
                g["members"] =
                    json!([{"value": "a"}, {"value": "b"}, {"value": "a"}, {"value": "c"}])
            }),
            json!([{"op": "remove", "path": "members[value eq \"a\"]"}]),
            Ok(group_with(|g| {
                g["members"] = json!([{"value": "b"}, {"value": "c"}])
            })),
        ),
        (
            "add one email (appended); one already there is not added twice",
            user(),
            json!([{"op": "add", "path": "emails", "value": [{"value": "o@x.y", "type": "other"}, {"value": "babs@jensen.org"}]}]),
            Ok(user_with(|u| {
                u["emails"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"value": "o@x.y", "type": "other"}))
            })),
        ),
        (
            "add a primary email: the old primary is no longer",
            user(),
            json!([{"op": "add", "path": "emails", "value": {"value": "p@x.y", "primary": "true"}}]),
            Ok(user_with(|u| {
                u["emails"][0]["primary"] = json!(false);
                u["emails"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"value": "p@x.y", "primary": true}));
            })),
        ),
        (
            "add a simple attribute that is absent",
            user(),
            json!([{"op": "add", "path": "displayName", "value": "Babs"}]),
            Ok(user_with(|u| u["displayName"] = json!("Babs"))),
        ),
        (
            "add a sub-attribute of an absent complex attribute",
            user_with(|u| {
                u.as_object_mut().unwrap().remove("name");
            }),
            json!([{"op": "add", "path": "name.givenName", "value": "B"}]),
            Ok(user_with(|u| u["name"] = json!({"givenName": "B"}))),
        ),
        (
            "names in any case keep the resource's spelling",
            user(),
            json!([{"op": "replace", "path": "NAME.GIVENNAME", "value": "B"}, {"op": "replace", "path": "Active", "value": false}]),
            Ok(user_with(|u| {
                u["name"]["givenName"] = json!("B");
                u["active"] = json!(false);
            })),
        ),
        (
            "Entra ID: path-less value whose keys are paths",
            user(),
            json!([{"op": "Add", "value": {"name.givenName": "B", "title": "Boss"}}]),
            Ok(user_with(|u| {
                u["name"]["givenName"] = json!("B");
                u["title"] = json!("Boss");
            })),
        ),
        (
            "a sub-attribute of a simple attribute",
            user(),
            json!([{"op": "replace", "path": "userName.x", "value": "y"}]),
            Err(ScimType::InvalidPath),
        ),
        (
            "a value filter on a simple attribute",
            user(),
            json!([{"op": "replace", "path": "userName[value eq \"x\"]", "value": "y"}]),
            Err(ScimType::InvalidPath),
        ),
        (
            "remove a sub-attribute",
            user(),
            json!([{"op": "remove", "path": "name.formatted"}]),
            Ok(user_with(|u| {
                u["name"].as_object_mut().unwrap().remove("formatted");
            })),
        ),
        (
            "remove a complex attribute",
            user(),
            json!([{"op": "remove", "path": "name"}]),
            Ok(user_with(|u| {
                u.as_object_mut().unwrap().remove("name");
            })),
        ),
        (
            "remove the matching emails",
            user(),
            json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
            Ok(user_with(|u| {
                u["emails"].as_array_mut().unwrap().pop();
            })),
        ),
        (
            "remove every email: the attribute is gone",
            user(),
            json!([{"op": "remove", "path": "emails[value pr]"}]),
            Ok(user_with(|u| {
                u.as_object_mut().unwrap().remove("emails");
            })),
        ),
        (
            "remove a matching value's sub-attribute",
            user(),
            json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]),
            Ok(user_with(|u| {
                u["emails"][0].as_object_mut().unwrap().remove("primary");
            })),
        ),
        (
            "remove what is not there changes nothing",
            user(),
            json!([
                {"op": "remove", "path": "title"},
                {"op": "remove", "path": "emails[type eq \"other\"]"},
                {"op": "remove", "path": "phoneNumbers[type eq \"work\"]"},
                {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}
            ]),
            Ok(user()),
        ),
        (
            "id is read-only",
            user(),
            json!([{"op": "replace", "path": "id", "value": "other"}]),
            Err(ScimType::Mutability),
        ),
        (
            "meta is read-only",
            user(),
            json!([{"op": "remove", "path": "meta.version"}]),
            Err(ScimType::Mutability),
        ),
        (
            "path-less id, meta and schemas are ignored",
            user(),
            json!([{"op": "replace", "value": {"id": "x", "meta": {}, "schemas": [], "title": "T"}}]),
            Ok(user_with(|u| u["title"] = json!("T"))),
        ),
        (
            "replace with null unassigns",
            user(),
            json!([{"op": "replace", "path": "name", "value": null}]),
            Ok(user_with(|u| {
                u.as_object_mut().unwrap().remove("name");
            })),
        ),
        (
            "an enterprise attribute by path: the extension and its schema appear",
            user(),
            json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "701984"}]),
            Ok(user_with(|u| {
                u["schemas"].as_array_mut().unwrap().push(json!(enterprise));
                u[enterprise] = json!({"employeeNumber": "701984"});
            })),
        ),
        (
            "a known schema URN in another case is stored in its canonical spelling",
            user(),
            json!([
                {"op": "add", "path": "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:employeeNumber", "value": "1"},
                {"op": "add", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"division": "X"}}}
            ]),
            Ok(user_with(|u| {
                u["schemas"].as_array_mut().unwrap().push(json!(enterprise));
                u[enterprise] = json!({"employeeNumber": "1", "division": "X"});
            })),
        ),
        (
            "Entra ID: the manager by path",
            user(),
            json!([{"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": {"value": "m1"}}]),
            Ok(user_with(|u| {
                u["schemas"].as_array_mut().unwrap().push(json!(enterprise));
                u[enterprise] = json!({"manager": {"value": "m1"}});
            })),
        ),
        (
            "path-less extension object, then its last attribute removed",
            user(),
            json!([
                {"op": "add", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}}},
                {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}
            ]),
            Ok(user()),
        ),
        (
            "path-less core schema object",
            user(),
            json!([{"op": "replace", "value": {"urn:ietf:params:scim:schemas:core:2.0:User": {"active": "false"}}}]),
            Ok(user_with(|u| u["active"] = json!(false))),
        ),
        (
            "the whole extension by its URN",
            user(),
            json!([
                {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "value": {"costCenter": "4130"}},
                {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division", "value": "X"}
            ]),
            Ok(user_with(|u| {
                u[enterprise] = json!({"costCenter": "4130", "division": "X"});
                u["schemas"].as_array_mut().unwrap().push(json!(enterprise));
            })),
        ),
        (
            "path-less keys that are attributes of the extension, complex or simple",
            user(),
            json!([{"op": "add", "value": {
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": {"value": "m1"},
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "R&D"
            }}]),
            Ok(user_with(|u| {
                u["schemas"].as_array_mut().unwrap().push(json!(enterprise));
                u[enterprise] = json!({"manager": {"value": "m1"}, "department": "R&D"});
            })),
        ),
        (
            "a path-less key that is no attribute name",
            user(),
            json!([{"op": "add", "value": {"bad name": 1}}]),
            Err(ScimType::InvalidPath),
        ),
        (
            "Groups: add members (one already there)",
            group(),
            json!([{"op": "add", "path": "members", "value": [{"value": "c"}, {"value": "a"}]}]),
            Ok(group_with(|g| {
                g["members"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"value": "c"}))
            })),
        ),
        (
            "Groups: remove a member by value filter",
            group(),
            json!([{"op": "remove", "path": "members[value eq \"a\"]"}]),
            Ok(group_with(|g| g["members"] = json!([{"value": "b"}]))),
        ),
        (
            "Entra ID Groups: remove members listed in value",
            group(),
            json!([{"op": "Remove", "path": "members", "value": [{"value": "b"}, {"value": "zz"}]}]),
            Ok(group_with(|g| {
                g["members"] = json!([{"value": "a", "display": "A"}])
            })),
        ),
        (
            "Groups: remove the last members",
            group(),
            json!([{"op": "remove", "path": "members", "value": [{"value": "a"}, {"value": "b"}]}]),
            Ok(group_with(|g| {
                g.as_object_mut().unwrap().remove("members");
            })),
        ),
        (
            "Groups: remove all members",
            group(),
            json!([{"op": "remove", "path": "members"}]),
            Ok(group_with(|g| {
                g.as_object_mut().unwrap().remove("members");
            })),
        ),
        (
            "Groups: members to an empty group",
            group_with(|g| {
                g.as_object_mut().unwrap().remove("members");
            }),
            json!([{"op": "add", "path": "members", "value": [{"value": "x"}]}]),
            Ok(group_with(|g| g["members"] = json!([{"value": "x"}]))),
        ),
        (
            "Okta Groups: replace members whole",
            group(),
            json!([{"op": "replace", "path": "members", "value": [{"value": "z"}]}]),
            Ok(group_with(|g| g["members"] = json!([{"value": "z"}]))),
        ),
    ];
    let mut failures = Vec::new();
    for (what, before, operations, want) in rows {
        let request =
            PatchRequest::from_json(&body(operations)).unwrap_or_else(|e| panic!("{what}: {e}"));
        let mut resource = before.clone();
        let got = apply_patch(&mut resource, &request.operations).map(|()| resource.clone());
        match (got, want) {
            (Ok(got), Ok(want)) if got == want => {}
            (Err(e), Err(kind)) if e.scim_type() == kind => {
                if resource != before {
                    failures.push(format!("{what}: failed but changed the resource"));
                }
            }
            (got, want) => failures.push(format!(
                "{what}:\n  want {want:?}\n  got  {:?}",
                got.map_err(|e| e.to_string())
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn attribute_paths_for_sort_by_and_attributes() {
    let ok = |text: &str, want: AttrPath| assert_eq!(AttrPath::parse(text), Ok(want), "{text}");
    ok("userName", AttrPath::new("userName"));
    ok(" name.givenName ", AttrPath::with_sub("name", "givenName"));
    ok(
        "urn:ietf:params:scim:schemas:core:2.0:User:meta.lastModified",
        AttrPath::with_sub("meta", "lastModified"),
    );
    ok(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
        AttrPath {
            schema: Some(ENTERPRISE_USER_SCHEMA.to_owned()),
            name: "employeeNumber".to_owned(),
            sub: None,
        },
    );
    for bad in [
        "",
        " ",
        "name givenName",
        "emails[type eq \"x\"]",
        "a.b.c",
        "9a",
        "x:y",
    ] {
        assert!(AttrPath::parse(bad).is_err(), "{bad:?}");
    }
    assert!(AttrPath::parse(&"a".repeat(5000)).is_err());
}
