//! The committed `schema.graphql` is the schema the API serves.

use std::path::{Path, PathBuf};

/// `schema.graphql` at the workspace root, two levels above this crate.
fn committed_path() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.ancestors().nth(2).unwrap_or(manifest_dir);
    root.join("schema.graphql")
}

#[test]
fn committed_schema_graphql_matches_the_served_schema() {
    let sdl = http_api::schema_sdl();
    let path = committed_path();
    if std::env::var_os("UPDATE_SCHEMA").is_some_and(|value| value == "1") {
        std::fs::write(&path, &sdl).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed == sdl {
        return;
    }
    let first_difference = committed
        .lines()
        .zip(sdl.lines())
        .position(|(old, new)| old != new)
        .unwrap_or_else(|| committed.lines().count().min(sdl.lines().count()));
    let context = |text: &str| {
        text.lines()
            .enumerate()
            .skip(first_difference.saturating_sub(2))
            .take(5)
            .map(|(number, line)| format!("{:>5} | {line}", number + 1))
            .collect::<Vec<_>>()
            .join("\n")
    };
    panic!(
        "{} differs from the served schema at line {}.\n--- committed\n{}\n+++ served\n{}\n\
         Regenerate it with: UPDATE_SCHEMA=1 cargo test -p http-api --test api schema",
        path.display(),
        first_difference + 1,
        context(&committed),
        context(&sdl),
    );
}

#[test]
fn schema_declares_the_contracts_input_types_exactly() {
    let sdl = without_descriptions(&http_api::schema_sdl());
    let contract = include_str!("prismatic-inputs.graphql");
    let mut checked = 0;
    for block in contract.split("\n\n").filter(|block| block.contains('{')) {
        let block: Vec<&str> = block
            .lines()
            .filter(|line| !line.starts_with('#'))
            .collect();
        let header = block[0].split(" {").next().unwrap().trim();
        if header.contains("SigningKey") {
            continue; // A later issue serves the signing-key mutations.
        }
        let expected = members(&block.join("\n"));
        let served = sdl
            .split("\n\n")
            .find(|served| {
                served
                    .lines()
                    .any(|line| line.split(" {").next() == Some(header))
            })
            .unwrap_or_else(|| panic!("the schema has no `{header}`"));
        let additions: Vec<String> = ROSTER_ADDITIONS
            .iter()
            .filter(|(input, _)| *input == header)
            .map(|(_, member)| (*member).to_owned())
            .collect();
        let (added, contract_members): (Vec<String>, Vec<String>) = members(served)
            .into_iter()
            .partition(|member| additions.contains(member));
        assert_eq!(contract_members, expected, "{header}");
        assert_eq!(added, additions, "{header}: Roster's additions");
        checked += 1;
    }
    assert_eq!(
        checked, 14,
        "every input and enum of the contract was compared"
    );
}

/// Optional input fields Roster adds to the contract's inputs (additive: every contract
/// field stays exactly as declared), each documented in docs/api.md.
const ROSTER_ADDITIONS: &[(&str, &str)] = &[
    ("input UpdateCustomerInput", "expectedVersion: Int"),
    ("input DeleteCustomerInput", "expectedVersion: Int"),
    ("input UpdateUserInput", "expectedVersion: Int"),
    ("input DeleteUserInput", "expectedVersion: Int"),
];

/// The field or value lines of one type definition, sorted.
fn members(definition: &str) -> Vec<String> {
    let body = &definition[definition.find('{').unwrap() + 1..definition.rfind('}').unwrap()];
    let mut members: Vec<String> = if body.contains('\n') {
        body.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect()
    } else {
        body.split_whitespace().map(str::to_owned).collect()
    };
    members.sort_unstable();
    members
}

fn without_descriptions(sdl: &str) -> String {
    let mut inside = false;
    let mut kept = Vec::new();
    for line in sdl.lines() {
        if line.trim() == "\"\"\"" {
            inside = !inside;
        } else if !inside {
            kept.push(line);
        }
    }
    kept.join("\n")
}
