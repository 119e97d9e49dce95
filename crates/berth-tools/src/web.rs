//! What the web tools need from the server: an HTTP client under the tenant egress policy for
//! `web_fetch`, and a search backend for `web_search` (SearXNG's JSON API today; the trait lets
//! others be added).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use berth_net::{EgressPolicy, PolicedClient};
use serde::{Deserialize, Serialize};

/// One search result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub title: String,
    pub url: String,
    pub description: String,
}

#[async_trait]
pub trait SearchBackend: Send + Sync {
    /// Up to `max` results for `query`; the error is shown to the model.
    async fn search(&self, query: &str, max: usize) -> Result<Vec<SearchHit>, String>;
}

pub struct WebTools {
    /// For `web_fetch`: refuses private addresses unless the operator allowed them, and
    /// follows no redirects on its own (each hop is checked by the tool).
    pub fetch: PolicedClient,
    pub search: Option<Arc<dyn SearchBackend>>,
}

impl WebTools {
    pub fn new(
        egress: EgressPolicy,
        search: Option<Arc<dyn SearchBackend>>,
    ) -> Result<Self, reqwest::Error> {
        let fetch = PolicedClient::new(egress, |b| {
            b.redirect(reqwest::redirect::Policy::none())
                .connect_timeout(Duration::from_secs(10))
                .user_agent(concat!(
                    "Berth-Agent/",
                    env!("CARGO_PKG_VERSION"),
                    " (+web_fetch)"
                ))
        })?;
        Ok(Self { fetch, search })
    }
}

/// A SearXNG instance (`GET {base}/search?q=…&format=json`), configured by the operator.
pub struct Searxng {
    http: reqwest::Client,
    base_url: String,
}

impl Searxng {
    pub fn new(base_url: &str) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
        })
    }
}

#[derive(Deserialize)]
struct SearxngAnswer {
    #[serde(default)]
    results: Vec<SearxngResult>,
}

#[derive(Deserialize)]
struct SearxngResult {
    #[serde(default)]
    title: String,
    url: String,
    #[serde(default)]
    content: String,
}

#[async_trait]
impl SearchBackend for Searxng {
    async fn search(&self, query: &str, max: usize) -> Result<Vec<SearchHit>, String> {
        let response = self
            .http
            .get(format!("{}/search", self.base_url))
            .query(&[("q", query), ("format", "json")])
            .send()
            .await
            .map_err(|e| format!("the search backend did not answer: {e}"))?;
        if !response.status().is_success() {
            return Err(format!(
                "the search backend answered HTTP {}",
                response.status().as_u16()
            ));
        }
        let answer: SearxngAnswer = response
            .json()
            .await
            .map_err(|e| format!("the search backend sent an unreadable answer: {e}"))?;
        Ok(answer
            .results
            .into_iter()
            .take(max)
            .map(|r| SearchHit {
                title: r.title,
                url: r.url,
                description: r.content,
            })
            .collect())
    }
}
