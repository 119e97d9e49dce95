//! A sandbox's network: the host's loopback is out of reach whatever the environment allows,
//! and limited networking refuses other hosts with a message that says why.

use berth_sandbox::HostRules;

use crate::{fixture, open, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_loopback_is_unreachable_in_every_mode() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            use tokio::io::AsyncWriteExt;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nSECRET")
                .await;
        }
    });
    let f = fixture();
    for (session, rules) in [
        ("sesn_closed", HostRules::Only(vec![])),
        ("sesn_open", HostRules::Any),
        (
            "sesn_local",
            HostRules::Only(vec!["127.0.0.1".into(), "localhost".into()]),
        ),
    ] {
        let sandbox = open(&f, session, rules);
        for url in [
            format!("http://127.0.0.1:{port}/"),
            format!("http://localhost:{port}/"),
        ] {
            let (_, direct, _) = run(
                &sandbox,
                &format!("curl -s -m 3 --noproxy '*' {url}; echo rc=$?"),
                15,
            )
            .await;
            assert!(
                !direct.contains("SECRET"),
                "{session} direct {url}: {direct}"
            );
            let (_, proxied, _) = run(
                &sandbox,
                &format!("curl -s -m 3 --noproxy '' {url}; echo rc=$?"),
                15,
            )
            .await;
            assert!(
                !proxied.contains("SECRET"),
                "{session} via proxy {url}: {proxied}"
            );
            if sandbox.has_network() {
                assert!(
                    proxied.contains("Berth egress proxy"),
                    "{session}: {proxied}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limited_networking_refuses_other_hosts_with_a_message() {
    let f = fixture();
    let sandbox = open(&f, "sesn_lim", HostRules::Only(vec!["example.com".into()]));
    if !sandbox.has_network() {
        return;
    }
    let (_, out, _) = run(&sandbox, "curl -s -m 5 http://not-allowed.invalid/", 15).await;
    assert!(
        out.contains("not-allowed.invalid is not allowed by this environment's networking"),
        "{out}"
    );
    assert!(out.contains("example.com"), "{out}");
    let (_, out, _) = run(
        &sandbox,
        "curl -s -m 5 -o /dev/null -w '%{http_connect}' https://evil.invalid/",
        15,
    )
    .await;
    assert!(out.contains("403"), "CONNECT is refused too: {out}");
}
