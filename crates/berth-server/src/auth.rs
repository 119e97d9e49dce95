//! API-key authentication: `x-api-key: K` or `Authorization: Bearer K`.
//!
//! Keys are 256 random bits, stored only as SHA-256 hashes. A verified key is cached briefly
//! (keyed by its hash) so most requests never touch the database; revoking a key evicts it here
//! at once, and other replicas notice within [`CACHE_TTL`].

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use berth_runtime::tasks::Tasks;
use berth_store::{ApiKeyRow, Store};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// How long a verified key is trusted without asking the database again.
const CACHE_TTL: Duration = Duration::from_secs(30);
/// `last_used_at` is written at most this often per key, to keep reads read-only.
const TOUCH_INTERVAL: Duration = Duration::from_secs(60);
/// Cache size beyond which the cache is cleared rather than grown.
const CACHE_CAPACITY: usize = 10_000;

/// Every raw key starts with this, so leaked keys are easy to recognise and scan for.
pub const KEY_PREFIX: &str = "berth_sk_";
/// How many leading characters of a key are kept (and shown) to tell keys apart.
const SHOWN_PREFIX_CHARS: usize = 13;

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant_id: String,
    pub key_id: String,
    pub is_admin: bool,
}

struct CachedKey {
    caller: Caller,
    hash: [u8; 32],
    fetched: Instant,
    touched: Instant,
}

pub struct KeyCache {
    entries: RwLock<HashMap<[u8; 32], CachedKey>>,
    /// Where key-use timestamps are written, in the background.
    tasks: Tasks,
}

/// A freshly generated key: the raw value (shown once), the part shown afterwards, its hash.
pub struct GeneratedKey {
    pub raw: String,
    pub prefix: String,
    pub hash: Vec<u8>,
}

pub fn generate_key() -> GeneratedKey {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    key_from_raw(format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// The stored form of a raw key (used for generated keys and operator-provided ones).
pub fn key_from_raw(raw: String) -> GeneratedKey {
    let prefix = raw.chars().take(SHOWN_PREFIX_CHARS).collect();
    let hash = hash_key(&raw).to_vec();
    GeneratedKey { raw, prefix, hash }
}

pub fn hash_key(raw: &str) -> [u8; 32] {
    Sha256::digest(raw.as_bytes()).into()
}

pub(crate) fn presented_key(headers: &HeaderMap) -> Result<&str, ApiError> {
    if let Some(value) = headers.get("x-api-key") {
        return value
            .to_str()
            .map(str::trim)
            .map_err(|_| ApiError::unauthorized("the x-api-key header is not valid text"));
    }
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
        let text = value
            .to_str()
            .map_err(|_| ApiError::unauthorized("the Authorization header is not valid text"))?;
        let (scheme, token) = text.split_once(' ').unwrap_or((text, ""));
        if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() {
            return Ok(token.trim());
        }
        return Err(ApiError::unauthorized(
            "the Authorization header must be `Bearer <api key>`",
        ));
    }
    Err(ApiError::unauthorized(
        "missing API key: send `x-api-key: <key>` or `Authorization: Bearer <key>`",
    ))
}

impl KeyCache {
    /// Records that a key was used (at most once a minute per key), in the background.
    fn touch(&self, store: &Arc<dyn Store>, key_id: &str) {
        let store = Arc::clone(store);
        let key_id = key_id.to_owned();
        self.tasks.spawn("key use", async move {
            let now = berth_protocol::time::micros(berth_protocol::time::now());
            if let Err(e) = store.touch_api_key(&key_id, now).await {
                tracing::debug!(error = %e, "could not record key use");
            }
        });
    }

    pub fn new(tasks: Tasks) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            tasks,
        }
    }

    pub async fn authenticate(
        &self,
        store: &Arc<dyn Store>,
        raw: &str,
    ) -> Result<Caller, ApiError> {
        let hash = hash_key(raw);
        let now = Instant::now();
        if let Some((caller, needs_touch)) = self.cached(&hash, now) {
            if needs_touch {
                self.touch(store, &caller.key_id);
            }
            return Ok(caller);
        }
        let row = store
            .find_api_key(&hash)
            .await?
            .ok_or_else(|| ApiError::unauthorized("invalid API key"))?;
        let caller = self.remember(row, hash, now)?;
        self.touch(store, &caller.key_id);
        Ok(caller)
    }

    /// A fresh cache entry for `hash`, and whether its last-used time is due for a write.
    fn cached(&self, hash: &[u8; 32], now: Instant) -> Option<(Caller, bool)> {
        {
            let entries = self.entries.read().ok()?;
            let entry = entries.get(hash)?;
            if now.duration_since(entry.fetched) >= CACHE_TTL || !bool::from(entry.hash.ct_eq(hash))
            {
                return None;
            }
            if now.duration_since(entry.touched) < TOUCH_INTERVAL {
                return Some((entry.caller.clone(), false));
            }
        }
        let mut entries = self.entries.write().ok()?;
        let entry = entries.get_mut(hash)?;
        entry.touched = now;
        Some((entry.caller.clone(), true))
    }

    fn remember(&self, row: ApiKeyRow, hash: [u8; 32], now: Instant) -> Result<Caller, ApiError> {
        if !bool::from(row.hash.as_slice().ct_eq(&hash)) {
            return Err(ApiError::unauthorized("invalid API key"));
        }
        let caller = Caller {
            tenant_id: row.tenant_id,
            key_id: row.id,
            is_admin: row.is_admin,
        };
        let mut entries = self
            .entries
            .write()
            .map_err(|_| ApiError::internal("key cache poisoned"))?;
        if entries.len() >= CACHE_CAPACITY {
            entries.clear();
        }
        entries.insert(
            hash,
            CachedKey {
                caller: caller.clone(),
                hash,
                fetched: now,
                touched: now,
            },
        );
        Ok(caller)
    }

    /// Forgets a revoked key so the next request with it is refused.
    pub fn evict_key_id(&self, key_id: &str) {
        if let Ok(mut entries) = self.entries.write() {
            entries.retain(|_, e| e.caller.key_id != key_id);
        }
    }

    /// Forgets every cached key (after bulk revocations).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
        }
    }
}
