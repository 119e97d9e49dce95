//! Bearer tokens: sent on every request, refreshed once on 401.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_mcp::{AuthError, Authorizer, McpError, StaticToken};
use berth_test_support::mcp_fixture::{McpFixture, McpFixtureOptions};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::{args, connect};

const CALL: Duration = Duration::from_secs(10);

/// Holds a current token; `refresh` swaps in the next one, if one was given. Records what was
/// refused, as a credential store would see it.
pub(super) struct Rotating {
    current: Mutex<String>,
    next: Mutex<Option<String>>,
    refused: Mutex<Vec<String>>,
}

impl Rotating {
    pub(super) fn new(current: &str, next: Option<&str>) -> Arc<Self> {
        Arc::new(Self {
            current: Mutex::new(current.to_owned()),
            next: Mutex::new(next.map(str::to_owned)),
            refused: Mutex::new(Vec::new()),
        })
    }

    pub(super) fn refused(&self) -> Vec<String> {
        self.refused.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl Authorizer for Rotating {
    async fn token(&self) -> Result<Option<String>, AuthError> {
        Ok(Some(self.current.lock().unwrap().clone()))
    }

    async fn refresh(&self, refused: &str) -> Result<Option<String>, AuthError> {
        self.refused.lock().unwrap().push(refused.to_owned());
        let next = self.next.lock().unwrap().take();
        if let Some(next) = &next {
            *self.current.lock().unwrap() = next.clone();
        }
        Ok(next)
    }
}

struct Broken;

#[async_trait::async_trait]
impl Authorizer for Broken {
    async fn token(&self) -> Result<Option<String>, AuthError> {
        Err(AuthError::new("vault is sealed"))
    }

    async fn refresh(&self, _refused: &str) -> Result<Option<String>, AuthError> {
        Err(AuthError::new("vault is sealed"))
    }
}

async fn fixture_requiring(token: &str) -> McpFixture {
    McpFixture::start_with(McpFixtureOptions {
        token: Some(token.to_owned()),
        ..McpFixtureOptions::default()
    })
    .await
}

#[tokio::test]
async fn sends_the_bearer_token_on_every_request() {
    let fixture = fixture_requiring("s3cret").await;
    let client = connect(
        &fixture.url,
        Arc::new(StaticToken(Some("s3cret".to_owned()))),
    )
    .await
    .unwrap();
    let result = client
        .call_tool("echo", args(json!({"text": "hi"})), CALL)
        .await
        .unwrap();
    assert_eq!(result.content, [json!({"type": "text", "text": "hi"})]);
    client.close().await;

    let authorizations = fixture.authorizations();
    assert!(authorizations.len() >= 4, "{authorizations:?}");
    assert!(
        authorizations
            .iter()
            .all(|a| a.as_deref() == Some("Bearer s3cret")),
        "{authorizations:?}"
    );
}

#[tokio::test]
async fn a_missing_token_is_an_authentication_error() {
    let fixture = fixture_requiring("s3cret").await;
    let error = connect(&fixture.url, Arc::new(StaticToken(None)))
        .await
        .unwrap_err();
    assert!(matches!(error, McpError::Authentication(_)), "{error:?}");
    assert_eq!(fixture.authorizations(), [None]);
}

#[tokio::test]
async fn a_401_mid_session_is_cured_by_a_refreshed_token() {
    let fixture = fixture_requiring("old").await;
    let auth = Rotating::new("old", Some("new"));
    let client = connect(&fixture.url, auth.clone()).await.unwrap();
    assert_eq!(auth.refused(), Vec::<String>::new());

    // The credential rotates on the server's side mid-session.
    fixture.set_token(Some("new"));
    let before = fixture.request_count();
    let result = client
        .call_tool("echo", args(json!({"text": "after rotation"})), CALL)
        .await
        .unwrap();
    assert_eq!(
        result.content,
        [json!({"type": "text", "text": "after rotation"})]
    );
    assert_eq!(auth.refused(), ["old"]);

    // The refused call was retried once with the fresh token, and that token stays in use.
    let seen: Vec<_> = fixture.requests().into_iter().skip(before).collect();
    let calls: Vec<_> = seen
        .iter()
        .filter(|r| r.rpc_method.as_deref() == Some("tools/call"))
        .map(|r| r.authorization.clone())
        .collect();
    assert_eq!(
        calls,
        [Some("Bearer old".to_owned()), Some("Bearer new".to_owned())]
    );
    client
        .call_tool("echo", args(json!({"text": "again"})), CALL)
        .await
        .unwrap();
    assert_eq!(auth.refused(), ["old"]);
    assert_eq!(
        fixture
            .authorizations()
            .last()
            .cloned()
            .flatten()
            .as_deref(),
        Some("Bearer new")
    );
    client.close().await;
}

#[tokio::test]
async fn a_401_at_startup_is_cured_by_a_refreshed_token() {
    let fixture = fixture_requiring("fresh").await;
    let auth = Rotating::new("expired", Some("fresh"));
    let client = connect(&fixture.url, auth.clone()).await.unwrap();
    assert_eq!(client.tools().len(), 4);
    assert_eq!(auth.refused(), ["expired"]);
    assert_eq!(
        fixture.authorizations().get(..2),
        Some(
            &[
                Some("Bearer expired".to_owned()),
                Some("Bearer fresh".to_owned())
            ][..]
        )
    );
    client.close().await;
}

#[tokio::test]
async fn no_refreshed_token_is_an_authentication_error() {
    let fixture = fixture_requiring("right").await;
    let auth = Rotating::new("wrong", None);
    let error = connect(&fixture.url, auth.clone()).await.unwrap_err();
    assert!(
        matches!(&error, McpError::Authentication(m) if m.contains("401")),
        "{error:?}"
    );
    assert_eq!(auth.refused(), ["wrong"]);
    // Without a fresh token there is nothing to retry with.
    assert_eq!(fixture.request_count(), 1);
}

#[tokio::test]
async fn a_refreshed_token_that_is_refused_too_is_an_authentication_error() {
    let fixture = fixture_requiring("right").await;
    let auth = Rotating::new("wrong", Some("also wrong"));
    let error = connect(&fixture.url, auth.clone()).await.unwrap_err();
    assert!(matches!(error, McpError::Authentication(_)), "{error:?}");
    // Retried once, not more.
    assert_eq!(
        fixture.authorizations(),
        [
            Some("Bearer wrong".to_owned()),
            Some("Bearer also wrong".to_owned())
        ]
    );
}

#[tokio::test]
async fn a_failing_authorizer_is_an_authentication_error() {
    let fixture = McpFixture::start().await;
    let error = connect(&fixture.url, Arc::new(Broken)).await.unwrap_err();
    assert!(
        matches!(&error, McpError::Authentication(m) if m.contains("vault is sealed")),
        "{error:?}"
    );
    assert_eq!(fixture.request_count(), 0);
}
