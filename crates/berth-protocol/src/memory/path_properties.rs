//! Property tests of the memory path rules: a path that passes is already in its stored form,
//! and as a file under a store's mount directory it stays inside that directory.
//! `PROPTEST_CASES` raises the number of cases (CI runs the default 256).

use std::path::{Component, Path};

use proptest::prelude::*;

use super::path::{MAX_PATH_BYTES, MAX_PATH_SEGMENTS, normalize_path};

/// Strings that look like paths often enough to reach every rule.
fn asked_path() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("/".to_owned()),
        Just("..".to_owned()),
        Just(".".to_owned()),
        Just("\\".to_owned()),
        Just("e\u{301}".to_owned()),
        Just("\u{e9}".to_owned()),
        Just("\u{202e}".to_owned()),
        Just("\u{0}".to_owned()),
        Just("notes.md".to_owned()),
        "[a-zA-Z0-9 _.-]{1,8}",
        any::<String>(),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

proptest! {
    #[test]
    fn accepted_paths_are_stored_forms_inside_the_mount(asked in asked_path()) {
        let Ok(path) = normalize_path(&asked) else {
            return Ok(());
        };
        prop_assert_eq!(&normalize_path(&path).unwrap(), &path, "normalising twice changes nothing");
        prop_assert!(path.len() <= MAX_PATH_BYTES);
        prop_assert!(path.split('/').count() - 1 <= MAX_PATH_SEGMENTS);
        prop_assert!(!path.chars().any(char::is_control));
        let relative = path.strip_prefix('/').unwrap();
        let under = Path::new("/mnt/memory/store").join(relative);
        prop_assert!(under.starts_with("/mnt/memory/store/"), "{:?}", under);
        prop_assert!(
            Path::new(relative).components().all(|c| matches!(c, Component::Normal(_))),
            "{:?}", relative
        );
        prop_assert!(!path.ends_with('/'));
    }
}
