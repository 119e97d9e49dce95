//! Builders for rows the cases insert.

use std::sync::atomic::{AtomicU64, Ordering};

use berth_store::{Document, NewApiKey, SessionStatus, TenantRow};

static COUNTER: AtomicU64 = AtomicU64::new(1);

/// A unique, increasing id with the given prefix (sorting like real ids do).
pub fn id(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{n:020}")
}

pub fn tenant(name: &str) -> TenantRow {
    TenantRow {
        id: id("tn"),
        name: name.to_owned(),
        created_at: 1_000,
    }
}

pub fn key(tenant_id: &str, secret: &str) -> NewApiKey {
    NewApiKey {
        id: id("apikey"),
        tenant_id: tenant_id.to_owned(),
        name: format!("key {secret}"),
        prefix: secret.chars().take(4).collect(),
        hash: secret.as_bytes().to_vec(),
        is_admin: false,
        source: "api".to_owned(),
        created_at: 1_000,
    }
}

pub fn doc(tenant_id: &str, created_at: i64) -> Document {
    let id = id("doc");
    Document {
        body: format!(r#"{{"id":"{id}","version":1}}"#),
        id,
        tenant_id: tenant_id.to_owned(),
        version: 1,
        created_at,
        updated_at: created_at,
        archived_at: None,
    }
}

pub fn session(tenant_id: &str, environment_id: &str, created_at: i64) -> berth_store::SessionRow {
    let id = id("sesn");
    berth_store::SessionRow {
        body: format!(r#"{{"id":"{id}"}}"#),
        id,
        tenant_id: tenant_id.to_owned(),
        agent_id: "agent_a".to_owned(),
        agent_version: 1,
        environment_id: environment_id.to_owned(),
        status: SessionStatus::Idle,
        version: 1,
        private: None,
        created_at,
        updated_at: created_at,
        archived_at: None,
        last_seq: 0,
        pending_inputs: 0,
        usage: berth_store::UsageTotals::default(),
        active_micros: 0,
        turn_started_at: None,
    }
}

/// An event of the given type; inputs are queued.
pub fn event(kind: &str) -> berth_store::NewEvent {
    let id = id("sevt");
    let queued = matches!(
        kind,
        "user.message" | "user.tool_confirmation" | "user.custom_tool_result" | "user.tool_result"
    );
    berth_store::NewEvent {
        body: format!(r#"{{"id":"{id}","type":"{kind}"}}"#),
        id,
        kind: berth_store::EventKind::parse(kind),
        private: None,
        queued,
    }
}
