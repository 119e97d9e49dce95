//! Marks the tests whose prerequisites this machine lacks as ignored (see `berth-test-prereqs`):
//! a local S3 server.

fn main() {
    berth_test_prereqs::s3_server();
}
