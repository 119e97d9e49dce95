//! A small JSON-over-HTTP client for tests.

use reqwest::{Method, StatusCode};
use serde_json::Value;

#[derive(Clone)]
pub struct Api {
    base_url: String,
    key: String,
    client: reqwest::Client,
}

/// A response: status, headers and the body parsed as JSON (`Value::Null` if it is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// Asserts the status and returns the body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        self.body
    }

    /// The envelope's `error.type`.
    pub fn error_type(&self) -> &str {
        self.body["error"]["type"].as_str().unwrap_or("")
    }

    pub fn error_message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
}

impl Api {
    pub fn new(base_url: &str, key: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
            client: reqwest::Client::new(),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }

    /// POST with a raw body, for malformed-input tests.
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Reply {
        let request = self
            .client
            .post(format!("{}{path}", self.base_url))
            .header("x-api-key", &self.key)
            .header("content-type", "application/json")
            .body(body);
        Self::reply(request.send().await.expect("request is sent")).await
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base_url))
            .header("x-api-key", &self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::reply(request.send().await.expect("request is sent")).await
    }

    /// A multipart POST: each part is (field name, filename, content type, bytes).
    pub async fn multipart(&self, path: &str, parts: Vec<Part>) -> Reply {
        let mut form = reqwest::multipart::Form::new();
        for part in parts {
            let mut p = reqwest::multipart::Part::bytes(part.bytes);
            if let Some(name) = part.filename {
                p = p.file_name(name);
            }
            if let Some(mime) = part.content_type {
                p = p.mime_str(&mime).expect("valid content type");
            }
            form = form.part(part.name, p);
        }
        let request = self
            .client
            .post(format!("{}{path}", self.base_url))
            .header("x-api-key", &self.key)
            .multipart(form);
        Self::reply(request.send().await.expect("request is sent")).await
    }

    /// A GET returning raw bytes, with an `Accept` header.
    pub async fn get_bytes(
        &self,
        path: &str,
        accept: &str,
    ) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
        let response = self
            .client
            .get(format!("{}{path}", self.base_url))
            .header("x-api-key", &self.key)
            .header("accept", accept)
            .send()
            .await
            .expect("request is sent");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap_or_default().to_vec();
        (status, headers, bytes)
    }

    /// A request built by the caller (custom headers, no auth, …).
    pub fn raw(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base_url))
    }

    pub async fn reply(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }
}

/// One part of a multipart request.
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

impl Part {
    /// A file part.
    pub fn file(name: &str, filename: &str, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.to_owned(),
            filename: Some(filename.to_owned()),
            content_type: None,
            bytes: bytes.into(),
        }
    }

    /// A text field.
    pub fn text(name: &str, value: &str) -> Self {
        Self {
            name: name.to_owned(),
            filename: None,
            content_type: None,
            bytes: value.as_bytes().to_vec(),
        }
    }

    pub fn with_type(mut self, content_type: &str) -> Self {
        self.content_type = Some(content_type.to_owned());
        self
    }
}
