//! Build-script helpers for test prerequisites.
//!
//! Some tests need things a plain Rust install lacks: a PostgreSQL database, the official
//! Python and TypeScript SDKs, a local S3 server. A crate's `build.rs` calls the helpers for what
//! its tests need; each declares a `cfg` that is set when the prerequisite is missing, and the
//! tests carry `#[cfg_attr(berth_no_…, ignore = "…what to install…")]`, so a local run reports
//! them as skipped (nextest counts them) instead of passing them silently. When CI sets the
//! matching `BERTH_REQUIRE_*` variable the `cfg` is never set: the tests run and fail if the
//! prerequisite is missing. Each helper also tells cargo what to watch so that installing the
//! prerequisite later re-runs the check.

// Build scripts talk to cargo by printing `cargo::` directives on standard output.
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::process::Command;

/// Declares `cfg` and sets it when `present` is false, unless `required_env` is `1`.
fn mark(cfg: &str, required_env: &str, present: impl FnOnce() -> bool) {
    println!("cargo::rustc-check-cfg=cfg({cfg})");
    println!("cargo::rerun-if-env-changed={required_env}");
    let required = std::env::var(required_env).is_ok_and(|v| v == "1");
    if !required && !present() {
        println!("cargo::rustc-cfg={cfg}");
    }
}

/// `berth_no_postgres`: `BERTH_TEST_DATABASE_URL` is not set.
pub fn postgres() {
    println!("cargo::rerun-if-env-changed=BERTH_TEST_DATABASE_URL");
    mark("berth_no_postgres", "BERTH_REQUIRE_POSTGRES", || {
        std::env::var("BERTH_TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty())
    });
}

/// The output of a Python one-liner, if `python3` runs it successfully.
fn python(code: &str) -> Option<String> {
    let output = Command::new("python3").args(["-c", code]).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// `berth_no_python_sdk`: `python3` cannot import `anthropic` at `version`, or `pytest`.
pub fn python_sdk(version: &str) {
    // Installing a package changes the site-packages directory.
    if let Some(site) = python("import sysconfig; print(sysconfig.get_paths()['purelib'])")
        && Path::new(&site).is_dir()
    {
        println!("cargo::rerun-if-changed={site}");
    }
    mark("berth_no_python_sdk", "BERTH_REQUIRE_SDK", || {
        python(&format!(
            "import anthropic, pytest; assert anthropic.__version__ == '{version}'"
        ))
        .is_some()
    });
}

/// `berth_no_typescript_sdk`: `node` does not run, or `@anthropic-ai/sdk` at `version` is not
/// installed under `project` (a directory holding `package.json`).
pub fn typescript_sdk(project: &Path, version: &str) {
    // `npm ci` creates `node_modules` afresh, which changes the project directory.
    println!("cargo::rerun-if-changed={}", project.display());
    mark("berth_no_typescript_sdk", "BERTH_REQUIRE_SDK", || {
        let manifest = project.join("node_modules/@anthropic-ai/sdk/package.json");
        let installed = std::fs::read_to_string(manifest)
            .is_ok_and(|text| text.contains(&format!("\"version\": \"{version}\"")));
        let node = Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        installed && node
    });
}

/// `berth_no_s3_server`: `moto_server` is not on the `PATH`.
pub fn s3_server() {
    println!("cargo::rerun-if-env-changed=PATH");
    if let Some(scripts) = python("import sysconfig; print(sysconfig.get_paths()['scripts'])")
        && Path::new(&scripts).is_dir()
    {
        println!("cargo::rerun-if-changed={scripts}");
    }
    mark("berth_no_s3_server", "BERTH_REQUIRE_S3", || {
        std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path).any(|dir| dir.join("moto_server").is_file())
        })
    });
}
