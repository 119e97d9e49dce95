//! Prefixed, time-ordered, opaque identifiers (`agent_…`, `sesn_…`, …).
//!
//! The body is a ULID-style 128-bit value (48 bits of milliseconds, 80 random bits) in lowercase
//! Crockford base32, so ids sort by creation time and lists can page on the id alone. Within one
//! process ids are strictly increasing even inside the same millisecond.

use std::sync::Mutex;

use rand::Rng;

/// Every resource's id prefix, in one place.
pub mod prefix {
    pub const TENANT: &str = "tn";
    pub const API_KEY: &str = "apikey";
    pub const AGENT: &str = "agent";
    pub const ENVIRONMENT: &str = "env";
    pub const SESSION: &str = "sesn";
    pub const EVENT: &str = "sevt";
    pub const REQUEST: &str = "req";
    pub const VAULT: &str = "vlt";
    pub const CREDENTIAL: &str = "vcrd";
    pub const MEMORY_STORE: &str = "memstore";
    pub const MEMORY: &str = "mem";
    pub const MEMORY_VERSION: &str = "memver";
    pub const FILE: &str = "file";
    pub const SKILL: &str = "skill";
    pub const MODEL_CARD: &str = "mdl";
    pub const RESOURCE: &str = "sesrsc";
    pub const OUTCOME: &str = "outc";
}

const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

static LAST: Mutex<u128> = Mutex::new(0);

/// A new id such as `agent_01jd3m0k6w8t5y2x9c4v7b1n0q`.
pub fn new_id(prefix: &str) -> String {
    let value = next_value();
    let mut out = String::with_capacity(prefix.len() + 27);
    out.push_str(prefix);
    out.push('_');
    // 128 bits in 26 base32 digits: the first digit carries the top 3 bits.
    for i in (0..26).rev() {
        let digit = ((value >> (i * 5)) & 0x1f) as usize;
        out.push(CROCKFORD[digit] as char);
    }
    out
}

fn next_value() -> u128 {
    let millis = chrono::Utc::now().timestamp_millis().max(0) as u128;
    let random: u128 = rand::thread_rng().r#gen::<u128>() & ((1u128 << 80) - 1);
    let candidate = (millis << 80) | random;
    let mut last = match LAST.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    let value = if candidate > *last {
        candidate
    } else {
        *last + 1
    };
    *last = value;
    value
}

/// True when `id` has the given prefix and a plausible body; used to answer 404 early for ids
/// that cannot exist instead of querying the database.
pub fn has_prefix(id: &str, prefix: &str) -> bool {
    id.len() > prefix.len() + 1
        && id.starts_with(prefix)
        && id.as_bytes().get(prefix.len()) == Some(&b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_and_increasing() {
        let a = new_id(prefix::AGENT);
        let b = new_id(prefix::AGENT);
        assert!(a.starts_with("agent_"));
        assert_eq!(a.len(), "agent_".len() + 26);
        assert!(b > a, "{b} should sort after {a}");
        assert!(has_prefix(&a, prefix::AGENT));
        assert!(!has_prefix(&a, prefix::ENVIRONMENT));
    }
}
