//! `cargo xtask tidy`: the layer rules of `docs/architecture.md`, checked on `cargo metadata`
//! so that a wrong arrow fails CI with a message naming the rule.
//!
//! Two rules, both on each workspace crate's *direct* dependencies:
//! - **Layers.** A crate depends only on the workspace crates its row of [`LAYERS`] names
//!   (normal and build dependencies); its dev-dependencies may add itself (features for its
//!   own tests) and the contract suites. A workspace crate without a row fails too, so a new
//!   crate is placed on purpose.
//! - **Pure centre.** `domain`, `ports` and `scim` depend on no I/O, HTTP, SQL or GraphQL crate
//!   ([`NO_IO`]); `domain` also on no serde and no async crate ([`DOMAIN_ONLY`]).
//!
//! [`check`] is a pure function over the parsed metadata, so the rules have unit tests.

use std::fmt;
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::Value;

/// Which workspace crates a crate may depend on.
enum MayUse {
    /// Only these (by package name).
    Only(&'static [&'static str]),
    /// Any crate: composition roots, benchmarks and system tests.
    Anything,
}

/// One row of the layer table: a crate, what it may use, and why (the rule's wording).
struct Layer {
    name: &'static str,
    may_use: MayUse,
    why: &'static str,
}

const STORAGE: &[&str] = &["storage-sql", "domain", "ports"];
const CLIENT_SIDE: &[&str] = &[
    "directory-client",
    "directory-sync",
    "domain",
    "ports",
    "wire",
];

/// The layer table, from `docs/architecture.md`: adapters -> ports -> domain.
const LAYERS: &[Layer] = &[
    Layer {
        name: "domain",
        may_use: MayUse::Only(&[]),
        why: "domain is the centre: it depends on no other workspace crate",
    },
    Layer {
        name: "wire",
        may_use: MayUse::Only(&["domain"]),
        why: "the wire contract only spells domain values",
    },
    Layer {
        name: "scim",
        may_use: MayUse::Only(&["domain"]),
        why: "the SCIM protocol pieces are pure: filters and PATCH over JSON, and the domain's SCIM values as JSON",
    },
    Layer {
        name: "ports",
        may_use: MayUse::Only(&["domain"]),
        why: "ports speak domain terms only",
    },
    Layer {
        name: "service",
        may_use: MayUse::Only(&["domain", "ports", "wire"]),
        why: "service sees only ports (and wire, to decode one token claim); it knows no storage engine or transport",
    },
    Layer {
        name: "storage-sql",
        may_use: MayUse::Only(&["domain", "ports", "scim"]),
        why: "storage implements the repository ports (keeping a user's SCIM attributes as scim's JSON); it never knows GraphQL or the use cases",
    },
    Layer {
        name: "storage-sqlite",
        may_use: MayUse::Only(STORAGE),
        why: "a storage adapter is a driver under storage-sql; it never knows GraphQL or the use cases",
    },
    Layer {
        name: "storage-postgres",
        may_use: MayUse::Only(STORAGE),
        why: "a storage adapter is a driver under storage-sql; it never knows GraphQL or the use cases",
    },
    Layer {
        name: "storage-contract",
        may_use: MayUse::Only(&["domain", "ports"]),
        why: "the storage contract holds any adapter to the repository ports",
    },
    Layer {
        name: "directory-contract",
        may_use: MayUse::Only(&["domain", "ports"]),
        why: "the directory contract holds any implementation to the directory ports",
    },
    Layer {
        name: "directory-sync",
        may_use: MayUse::Only(&["domain", "ports"]),
        why: "directory-sync runs over any two directories: it sees only ports",
    },
    Layer {
        name: "directory-client",
        may_use: MayUse::Only(&["domain", "ports", "wire"]),
        why: "the client is an adapter of the directory ports: domain, ports and the wire contract only",
    },
    Layer {
        name: "http-api",
        may_use: MayUse::Only(&["domain", "ports", "scim", "wire"]),
        why: "http-api never touches storage: it sees the directory ports only",
    },
    Layer {
        name: "roster-cli",
        may_use: MayUse::Only(CLIENT_SIDE),
        why: "the command line reaches servers through the client only",
    },
    Layer {
        name: "app",
        may_use: MayUse::Anything,
        why: "app is the composition root",
    },
    Layer {
        name: "bench",
        may_use: MayUse::Anything,
        why: "the benchmark drives the whole server",
    },
    Layer {
        name: "system-tests",
        may_use: MayUse::Anything,
        why: "the system tests drive the whole server",
    },
    Layer {
        name: "xtask",
        may_use: MayUse::Only(&[]),
        why: "xtask only runs tools",
    },
];

/// What any crate's dev-dependencies may add to its row: the contract suites.
const TEST_SUPPORT: &[&str] = &["storage-contract", "directory-contract"];

/// The crates held to [`NO_IO`] (and `domain` to [`DOMAIN_ONLY`] too).
const PURE: &[&str] = &["domain", "ports", "scim"];

/// I/O, HTTP, SQL and GraphQL crates; `*` ends a prefix.
const NO_IO: &[&str] = &[
    "tokio",
    "tokio-*",
    "mio",
    "socket2",
    "async-std",
    "smol",
    "sqlx",
    "sqlx-*",
    "rusqlite",
    "libsqlite3-sys",
    "postgres",
    "postgres-*",
    "diesel",
    "diesel-*",
    "axum",
    "axum-*",
    "hyper",
    "hyper-*",
    "http",
    "http-body",
    "http-body-*",
    "h2",
    "reqwest",
    "ureq",
    "tower",
    "tower-*",
    "async-graphql",
    "async-graphql-*",
    "graphql_client",
    "graphql-parser",
    "juniper",
    "lettre",
    "rustls",
    "native-tls",
    "openssl",
    "openssl-sys",
];

/// What `domain` alone may not use either: no serde, no async.
const DOMAIN_ONLY: &[&str] = &["serde", "serde_*", "futures", "futures-*", "async-trait"];

/// How a dependency is declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Normal,
    Dev,
    Build,
}

/// One direct dependency of a workspace crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dependency {
    /// The package name (not a rename).
    pub(crate) name: String,
    pub(crate) kind: Kind,
}

/// One workspace crate and its direct dependencies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Package {
    pub(crate) name: String,
    pub(crate) dependencies: Vec<Dependency>,
}

/// One broken rule, worded as the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation(pub(crate) String);

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The workspace members of `cargo metadata --format-version 1` output, with their direct
/// dependencies.
pub(crate) fn parse(metadata: &Value) -> anyhow::Result<Vec<Package>> {
    let members: Vec<&str> = metadata["workspace_members"]
        .as_array()
        .context("metadata without workspace_members")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let packages = metadata["packages"]
        .as_array()
        .context("metadata without packages")?;
    let mut parsed = Vec::new();
    for package in packages {
        let id = package["id"].as_str().unwrap_or_default();
        if !members.contains(&id) {
            continue;
        }
        let name = package["name"]
            .as_str()
            .with_context(|| format!("package {id} has no name"))?;
        let dependencies = package["dependencies"]
            .as_array()
            .with_context(|| format!("package {name} has no dependency list"))?
            .iter()
            .map(|dependency| {
                let name = dependency["name"]
                    .as_str()
                    .with_context(|| format!("a dependency of {name} has no name"))?;
                let kind = match dependency["kind"].as_str() {
                    Some("dev") => Kind::Dev,
                    Some("build") => Kind::Build,
                    _ => Kind::Normal,
                };
                Ok(Dependency {
                    name: name.to_owned(),
                    kind,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        parsed.push(Package {
            name: name.to_owned(),
            dependencies,
        });
    }
    if parsed.is_empty() {
        bail!("cargo metadata listed no workspace member");
    }
    Ok(parsed)
}

/// Every broken rule of `workspace` (its members), in the members' order; none when tidy.
pub(crate) fn check(workspace: &[Package]) -> Vec<Violation> {
    let members: Vec<&str> = workspace
        .iter()
        .map(|package| package.name.as_str())
        .collect();
    let mut violations = Vec::new();
    for package in workspace {
        let Some(layer) = LAYERS.iter().find(|layer| layer.name == package.name) else {
            violations.push(Violation(format!(
                "layer rule: {} has no row in the layer table (xtask/src/tidy.rs): add it with the workspace crates it may depend on",
                package.name
            )));
            continue;
        };
        for dependency in &package.dependencies {
            let name = dependency.name.as_str();
            if members.contains(&name) {
                if !may_use(layer, &package.name, dependency) {
                    let dev = if dependency.kind == Kind::Dev {
                        " (even as a dev-dependency)"
                    } else {
                        ""
                    };
                    violations.push(Violation(format!(
                        "layer rule: {} may not depend on {name}{dev} ({})",
                        package.name, layer.why
                    )));
                }
                continue;
            }
            if dependency.kind == Kind::Dev || !PURE.contains(&package.name.as_str()) {
                continue;
            }
            if matches_any(NO_IO, name) {
                violations.push(Violation(format!(
                    "purity rule: {} may not depend on {name} (domain, ports and scim name no I/O, HTTP, SQL or GraphQL crate)",
                    package.name
                )));
            } else if package.name == "domain" && matches_any(DOMAIN_ONLY, name) {
                violations.push(Violation(format!(
                    "purity rule: domain may not depend on {name} (domain has no serde and no async)"
                )));
            }
        }
    }
    violations
}

/// Whether `package` (of `layer`) may depend on the workspace crate `dependency`.
fn may_use(layer: &Layer, package: &str, dependency: &Dependency) -> bool {
    let name = dependency.name.as_str();
    let allowed = match layer.may_use {
        MayUse::Anything => return true,
        MayUse::Only(allowed) => allowed.contains(&name),
    };
    allowed || (dependency.kind == Kind::Dev && (name == package || TEST_SUPPORT.contains(&name)))
}

/// Whether `name` is one of `patterns` (exact, or a prefix ending in `*`).
fn matches_any(patterns: &[&str], name: &str) -> bool {
    patterns
        .iter()
        .any(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == *pattern,
        })
}

/// The workspace as `cargo metadata --no-deps` describes it (direct dependencies only).
pub(crate) fn workspace_metadata(cargo: &mut Command) -> anyhow::Result<Value> {
    let output = cargo
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("running cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    serde_json::from_slice(&output.stdout).context("reading cargo metadata's JSON")
}

/// `cargo xtask tidy`: fails listing every broken rule.
pub(crate) fn tidy(cargo: &mut Command) -> anyhow::Result<()> {
    eprintln!("\n==> tidy: layer rules (cargo metadata)");
    let workspace = parse(&workspace_metadata(cargo)?)?;
    let violations = check(&workspace);
    if violations.is_empty() {
        eprintln!("{} workspace crates keep the layer rules", workspace.len());
        return Ok(());
    }
    for violation in &violations {
        eprintln!("{violation}");
    }
    bail!(
        "{} layer rule(s) broken (the table is in xtask/src/tidy.rs; the reasons in docs/architecture.md)",
        violations.len()
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The real workspace, as cargo describes it now.
    fn real() -> Vec<Package> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut command = Command::new(cargo);
        command.current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        parse(&workspace_metadata(&mut command).unwrap()).unwrap()
    }

    fn with_dependency(
        mut workspace: Vec<Package>,
        from: &str,
        to: &str,
        kind: Kind,
    ) -> Vec<Package> {
        let package = workspace
            .iter_mut()
            .find(|package| package.name == from)
            .unwrap();
        package.dependencies.push(Dependency {
            name: to.to_owned(),
            kind,
        });
        workspace
    }

    fn messages(workspace: &[Package]) -> Vec<String> {
        check(workspace).into_iter().map(|v| v.0).collect()
    }

    #[test]
    fn the_workspace_keeps_the_layer_rules() {
        let workspace = real();
        assert!(workspace.iter().any(|package| package.name == "http-api"));
        assert_eq!(messages(&workspace), Vec::<String>::new());
    }

    #[test]
    fn http_api_depending_on_storage_fails_naming_the_rule() {
        let workspace = with_dependency(real(), "http-api", "storage-sql", Kind::Normal);
        assert_eq!(
            messages(&workspace),
            [
                "layer rule: http-api may not depend on storage-sql (http-api never touches storage: it sees the directory ports only)"
            ]
        );
    }

    #[test]
    fn an_outward_arrow_fails_even_as_a_dev_dependency_unless_it_is_a_contract_suite() {
        let wrong = with_dependency(real(), "service", "storage-sqlite", Kind::Dev);
        assert_eq!(
            messages(&wrong),
            [
                "layer rule: service may not depend on storage-sqlite (even as a dev-dependency) (service sees only ports (and wire, to decode one token claim); it knows no storage engine or transport)"
            ]
        );
        let suite = with_dependency(real(), "service", "directory-contract", Kind::Dev);
        assert_eq!(messages(&suite), Vec::<String>::new());
        let same_as_normal = with_dependency(real(), "service", "directory-contract", Kind::Normal);
        assert_eq!(messages(&same_as_normal).len(), 1);
    }

    #[test]
    fn domain_and_ports_name_no_io_crate() {
        let workspace = with_dependency(real(), "domain", "tokio", Kind::Normal);
        let workspace = with_dependency(workspace, "ports", "sqlx-core", Kind::Normal);
        let workspace = with_dependency(workspace, "ports", "async-graphql", Kind::Build);
        let workspace = with_dependency(workspace, "domain", "serde", Kind::Normal);
        assert_eq!(
            messages(&workspace),
            [
                "purity rule: domain may not depend on tokio (domain, ports and scim name no I/O, HTTP, SQL or GraphQL crate)",
                "purity rule: domain may not depend on serde (domain has no serde and no async)",
                "purity rule: ports may not depend on sqlx-core (domain, ports and scim name no I/O, HTTP, SQL or GraphQL crate)",
                "purity rule: ports may not depend on async-graphql (domain, ports and scim name no I/O, HTTP, SQL or GraphQL crate)",
            ]
        );
        // Only the centre is held to it, and only by its normal dependencies.
        let tests_only = with_dependency(real(), "domain", "tokio", Kind::Dev);
        let service = with_dependency(tests_only, "service", "tokio", Kind::Normal);
        assert_eq!(messages(&service), Vec::<String>::new());
    }

    #[test]
    fn a_crate_without_a_row_fails() {
        let mut workspace = real();
        workspace.push(Package {
            name: "newcomer".into(),
            dependencies: Vec::new(),
        });
        assert_eq!(
            messages(&workspace),
            [
                "layer rule: newcomer has no row in the layer table (xtask/src/tidy.rs): add it with the workspace crates it may depend on"
            ]
        );
    }

    #[test]
    fn parse_reads_members_their_dependencies_and_kinds() {
        let metadata = json!({
            "workspace_members": ["path+file:///w/crates/a#0.1.0"],
            "packages": [
                {"id": "path+file:///w/crates/a#0.1.0", "name": "http-api", "dependencies": [
                    {"name": "storage-sql", "kind": null, "rename": "store"},
                    {"name": "ports", "kind": "dev"},
                    {"name": "cc", "kind": "build"},
                ]},
                {"id": "registry+https://example/#tokio@1.0.0", "name": "tokio", "dependencies": []},
            ],
        });
        let workspace = parse(&metadata).unwrap();
        assert_eq!(
            workspace,
            [Package {
                name: "http-api".into(),
                dependencies: vec![
                    Dependency {
                        name: "storage-sql".into(),
                        kind: Kind::Normal
                    },
                    Dependency {
                        name: "ports".into(),
                        kind: Kind::Dev
                    },
                    Dependency {
                        name: "cc".into(),
                        kind: Kind::Build
                    },
                ],
            }]
        );
        // storage-sql is no member here: an external crate, which http-api may use.
        assert_eq!(messages(&workspace), Vec::<String>::new());
        assert!(parse(&json!({"packages": []})).is_err());
    }
}
