//! Marks the tests that need PostgreSQL as ignored when no test database is configured, so a
//! local run reports them as skipped (nextest's summary counts them) instead of passing them
//! silently. `.ci/run` sets the database, so CI runs them all.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(berth_no_postgres)");
    println!("cargo::rerun-if-env-changed=BERTH_TEST_DATABASE_URL");
    let configured = std::env::var("BERTH_TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty());
    if !configured {
        println!("cargo::rustc-cfg=berth_no_postgres");
    }
}
