//! `sqlx::migrate!` embeds the migration files at compile time; cargo only
//! rebuilds when told that they changed.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
