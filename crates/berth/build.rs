//! Marks the tests whose prerequisites this machine lacks as ignored (see `berth-test-prereqs`):
//! PostgreSQL, the official SDKs pinned in `sdk-tests/`, and a local S3 server.

fn main() {
    berth_test_prereqs::postgres();
    berth_test_prereqs::python_sdk("2.17.0");
    let sdk_tests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk-tests");
    berth_test_prereqs::typescript_sdk(&sdk_tests.join("typescript"), "1.17.0");
    berth_test_prereqs::s3_server();
}
