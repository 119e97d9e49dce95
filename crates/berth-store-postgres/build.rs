//! Marks the tests whose prerequisites this machine lacks as ignored (see `berth-test-prereqs`).

fn main() {
    berth_test_prereqs::postgres();
}
