//! Rebuilds the crate when a migration is added or changed: `sqlx::migrate!` embeds the
//! `migrations` folder at compile time, and a new file there changes no source file.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
