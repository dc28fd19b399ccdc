// `sqlx::migrate!` embeds the migrations at compile time; on stable Rust cargo does not know that,
// so without this a new or edited migration would not rebuild the crate.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=analytics-migrations");
}
