//! Start-up rules: the data-dir lock, root-secret checks, and the bootstrap key.

use berth_server::{Server, ServerConfig};

fn config(dir: &std::path::Path) -> ServerConfig {
    let mut config = ServerConfig::new(dir.to_owned());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config
}

#[tokio::test]
async fn second_server_on_the_same_data_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = Server::start(config(dir.path())).await.unwrap();
    let second = Server::start(config(dir.path())).await;
    let Err(e) = second else {
        panic!("second start must fail")
    };
    assert!(
        e.to_string().contains("already using the data directory"),
        "{e}"
    );
    drop(first);
    // Once the first is gone the directory is usable again.
    Server::start(config(dir.path())).await.unwrap();
}

#[tokio::test]
async fn a_new_installation_gets_one_bootstrap_key() {
    let dir = tempfile::tempdir().unwrap();
    let first = Server::start(config(dir.path())).await.unwrap();
    let key = first.bootstrap_key().unwrap().to_owned();
    assert!(key.starts_with("berth_sk_"));
    drop(first);
    let again = Server::start(config(dir.path())).await.unwrap();
    assert_eq!(again.bootstrap_key(), None, "printed only once");
    let mode = std::fs::metadata(dir.path().join("root.key")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.permissions().mode() & 0o777, 0o600);
}

#[tokio::test]
async fn weak_or_changed_root_secrets_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut weak = config(dir.path());
    weak.root_secret = Some("password".into());
    let Err(e) = Server::start(weak).await else {
        panic!("weak secret accepted")
    };
    assert!(e.to_string().contains("64 hex characters"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let mut first = config(dir.path());
    first.root_secret =
        Some("8555426e3d8eda35b90a48172468a5118aedab41aa5b02cb8b3cc2f90b6fac78".into());
    drop(Server::start(first).await.unwrap());
    let mut changed = config(dir.path());
    changed.root_secret =
        Some("93175863f6c57af3f2c81337d900569dde2bf95c1fbfc4267e7063e4c6997714".into());
    let Err(e) = Server::start(changed).await else {
        panic!("changed secret accepted")
    };
    assert!(
        e.to_string()
            .contains("not the root secret this database was created with"),
        "{e}"
    );
}

#[tokio::test]
async fn provided_api_key_becomes_admin_and_rotates() {
    let dir = tempfile::tempdir().unwrap();
    let key_a = "berth_sk_operator_key_aaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let key_b = "berth_sk_operator_key_bbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    let mut first = config(dir.path());
    first.api_key = Some(key_a.into());
    let server = Server::start(first).await.unwrap();
    assert_eq!(server.bootstrap_key(), None);
    drop(server);

    let mut second = config(dir.path());
    second.api_key = Some(key_b.into());
    let server = Server::start(second).await.unwrap();
    let base = format!("http://{}", server.local_addr());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(server.run(async {
        let _ = rx.await;
    }));
    let b = berth_test_support::Api::new(&base, key_b);
    b.post("/v1/tenants", serde_json::json!({"name": "t"}))
        .await
        .expect(200);
    let a = berth_test_support::Api::new(&base, key_a);
    assert_eq!(
        a.get("/v1/agents").await.status,
        401,
        "the old env key is revoked"
    );
    let _ = tx.send(());
    handle.await.unwrap().unwrap();

    let mut short = config(tempfile::tempdir().unwrap().path());
    short.api_key = Some("short".into());
    assert!(Server::start(short).await.is_err());
}
