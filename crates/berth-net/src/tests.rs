use super::*;

#[test]
fn private_and_special_addresses_are_not_public() {
    for addr in [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd12::1",
        "::ffff:127.0.0.1",
        "64:ff9b::a00:1",
    ] {
        assert!(!is_public(addr.parse().unwrap()), "{addr}");
    }
    for addr in ["1.1.1.1", "140.82.112.3", "2606:4700::1111"] {
        assert!(is_public(addr.parse().unwrap()), "{addr}");
    }
}

#[test]
fn literal_addresses_are_checked_against_the_allowlist() {
    let strict = EgressPolicy::default();
    assert!(matches!(
        strict.check_url("http://127.0.0.1:8080/x"),
        Err(EgressError::Private { .. })
    ));
    assert!(matches!(
        strict.check_url("http://[::1]/"),
        Err(EgressError::Private { .. })
    ));
    assert!(matches!(
        strict.check_url("ftp://example.com"),
        Err(EgressError::Scheme(_))
    ));
    assert!(strict.check_url("https://1.1.1.1/").is_ok());
    let loose = EgressPolicy::parse("127.0.0.0/8, 10.0.0.5").unwrap();
    assert!(loose.check_url("http://127.0.0.1:8080/x").is_ok());
    assert!(loose.check_url("http://10.0.0.5/").is_ok());
    assert!(loose.check_url("http://10.0.0.6/").is_err());
    assert!(EgressPolicy::parse("not a host!").is_err());
}

#[tokio::test]
async fn names_resolving_to_private_addresses_are_refused() {
    let strict = EgressPolicy::default();
    assert!(matches!(
        strict.resolve("http://localhost:9/").await,
        Err(EgressError::Private { .. })
    ));
    let by_name = EgressPolicy::parse("localhost").unwrap();
    assert!(by_name.resolve("http://localhost:9/").await.is_ok());
}

#[tokio::test]
async fn policed_clients_refuse_private_destinations_at_connect_time() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = EgressPolicy::default().client_builder().build().unwrap();
    let refused = client.get(format!("http://localhost:{port}/")).send().await;
    assert!(refused.is_err());
    let text = format!("{:?}", refused.unwrap_err());
    assert!(text.contains("Private"), "{text}");
}

#[test]
fn sandboxes_reach_the_hosts_own_addresses_only_when_named_exactly() {
    let wide = EgressPolicy::for_sandboxes("0.0.0.0/0,::/0").unwrap();
    assert!(matches!(
        wide.check_url("http://127.0.0.1:9/"),
        Err(EgressError::HostAddress { .. })
    ));
    assert!(
        wide.check_url("http://10.1.2.3/").is_ok(),
        "ranges open other private addresses"
    );
    let server = EgressPolicy::parse("0.0.0.0/0").unwrap();
    assert!(
        server.check_url("http://127.0.0.1:9/").is_ok(),
        "the server's policy is its own"
    );
    let named = EgressPolicy::for_sandboxes("127.0.0.1").unwrap();
    assert!(named.check_url("http://127.0.0.1:9/").is_ok());
    assert!(named.check_url("http://127.0.0.2:9/").is_err());
    let message = EgressPolicy::sandboxes_closed()
        .check_url("http://10.0.0.1/")
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("BERTH_SANDBOX_ALLOW_PRIVATE_EGRESS"),
        "{message}"
    );
    if let Some(own) = crate::host_addresses()
        .into_iter()
        .find(|a| !a.is_loopback())
    {
        let url = match own {
            IpAddr::V4(v4) => format!("http://{v4}/"),
            IpAddr::V6(v6) => format!("http://[{v6}]/"),
        };
        assert!(matches!(
            wide.check_url(&url),
            Err(EgressError::HostAddress { .. })
        ));
    }
}
