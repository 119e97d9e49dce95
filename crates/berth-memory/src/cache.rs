//! Stores' vectors kept in memory between searches. A search first reads the store's
//! [`MemoryVectorSignature`] (from an index, without the vectors) and reuses the cached vectors
//! while it is unchanged; any write or deletion of a vector on any replica changes it. Entries
//! are flat arrays (one `i8` per dimension, one scale per memory) scored with integer dot
//! products, and the cache drops the least recently used stores beyond its byte budget.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use berth_store::{MemoryVectorRow, MemoryVectorSignature};

/// Bytes of vectors kept across all stores.
const BUDGET_BYTES: usize = 64 << 20;

/// One store's vectors of one embedder.
pub(crate) struct StoreVectors {
    signature: MemoryVectorSignature,
    dimensions: usize,
    ids: Vec<String>,
    scales: Vec<f32>,
    /// `ids.len() × dimensions` values.
    values: Vec<i8>,
}

impl StoreVectors {
    /// Builds from stored rows; rows of another length (blank content's empty vector) are left
    /// out, as they can match nothing.
    pub fn new(signature: MemoryVectorSignature, rows: Vec<MemoryVectorRow>) -> Self {
        let dimensions = rows
            .iter()
            .map(|r| r.vector.len().saturating_sub(4))
            .find(|d| *d > 0)
            .unwrap_or(0);
        let mut vectors = Self {
            signature,
            dimensions,
            ids: Vec::with_capacity(rows.len()),
            scales: Vec::with_capacity(rows.len()),
            values: Vec::with_capacity(rows.len() * dimensions),
        };
        for row in rows {
            let Some((scale, values)) = row.vector.split_first_chunk::<4>() else {
                continue;
            };
            if values.len() != dimensions || dimensions == 0 {
                continue;
            }
            vectors.ids.push(row.id);
            vectors.scales.push(f32::from_le_bytes(*scale));
            vectors
                .values
                .extend(values.iter().map(|v| i8::from_le_bytes([*v])));
        }
        vectors
    }

    fn bytes(&self) -> usize {
        self.values.len() + self.scales.len() * 4 + self.ids.iter().map(String::len).sum::<usize>()
    }

    /// `(id, cosine)` of every memory above `floor`, best first, at most `limit`.
    pub fn rank(&self, query: &[f32], floor: f32, limit: usize) -> Vec<(String, f32)> {
        if query.len() != self.dimensions || self.dimensions == 0 {
            return Vec::new();
        }
        // The query in the same form: i8 values and a scale.
        let largest = query.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        if largest == 0.0 {
            return Vec::new();
        }
        let query_scale = largest / 127.0;
        // i16 × i16 products summed in i32 are what SIMD units multiply-add fastest.
        let q: Vec<i16> = query
            .iter()
            .map(|x| (x / query_scale).round() as i16)
            .collect();
        let mut scored: Vec<(f32, usize)> = self
            .values
            .chunks_exact(self.dimensions)
            .zip(&self.scales)
            .enumerate()
            .filter_map(|(i, (values, scale))| {
                let dot = dot(values, &q);
                let cosine = dot as f32 * scale * query_scale;
                (cosine > floor).then_some((cosine, i))
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.truncate(limit);
        scored
            .into_iter()
            .filter_map(|(cosine, i)| self.ids.get(i).map(|id| (id.clone(), cosine)))
            .collect()
    }
}

/// The integer dot product, in independent lanes so the compiler can vectorise it.
fn dot(values: &[i8], query: &[i16]) -> i32 {
    const LANES: usize = 32;
    let mut lanes = [0i32; LANES];
    let (values_body, values_tail) = values.split_at(values.len() - values.len() % LANES);
    let (query_body, query_tail) = query.split_at(values_body.len().min(query.len()));
    for (v, q) in values_body
        .chunks_exact(LANES)
        .zip(query_body.chunks_exact(LANES))
    {
        for ((lane, v), q) in lanes.iter_mut().zip(v).zip(q) {
            *lane += i32::from(*v) * i32::from(*q);
        }
    }
    let tail: i32 = values_tail
        .iter()
        .zip(query_tail)
        .map(|(v, q)| i32::from(*v) * i32::from(*q))
        .sum();
    lanes.iter().sum::<i32>() + tail
}

struct Entry {
    vectors: Arc<StoreVectors>,
    used: Instant,
}

#[derive(Default)]
pub(crate) struct VectorCache {
    /// By `(store id, embedder)`.
    entries: Mutex<HashMap<(String, String), Entry>>,
}

impl VectorCache {
    /// The cached vectors if they are still those `signature` describes.
    pub fn get(
        &self,
        store_id: &str,
        model: &str,
        signature: MemoryVectorSignature,
    ) -> Option<Arc<StoreVectors>> {
        let mut entries = self.entries.lock().ok()?;
        let entry = entries.get_mut(&(store_id.to_owned(), model.to_owned()))?;
        if entry.vectors.signature != signature {
            return None;
        }
        entry.used = Instant::now();
        Some(Arc::clone(&entry.vectors))
    }

    pub fn put(&self, store_id: &str, model: &str, vectors: Arc<StoreVectors>) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        entries.insert(
            (store_id.to_owned(), model.to_owned()),
            Entry {
                vectors,
                used: Instant::now(),
            },
        );
        let mut total: usize = entries.values().map(|e| e.vectors.bytes()).sum();
        while total > BUDGET_BYTES && entries.len() > 1 {
            let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(gone) = entries.remove(&oldest) {
                total -= gone.vectors.bytes();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::{encode, normalize};

    fn row(id: &str, mut v: Vec<f32>) -> MemoryVectorRow {
        normalize(&mut v);
        MemoryVectorRow {
            id: id.to_owned(),
            vector: encode(&v),
        }
    }

    #[test]
    fn ranks_by_cosine_and_skips_other_lengths() {
        let signature = MemoryVectorSignature::default();
        let vectors = StoreVectors::new(
            signature,
            vec![
                row("a", vec![1.0, 0.0, 0.0]),
                row("b", vec![0.7, 0.7, 0.0]),
                row("c", vec![0.0, 0.0, 1.0]),
                MemoryVectorRow {
                    id: "blank".into(),
                    vector: encode(&[]),
                },
            ],
        );
        let ranked = vectors.rank(&[1.0, 0.0, 0.0], 0.1, 10);
        let ids: Vec<&str> = ranked.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, vec!["a", "b"]);
        assert!((ranked[0].1 - 1.0).abs() < 0.02 && (ranked[1].1 - 0.707).abs() < 0.02);
        assert!(
            vectors.rank(&[1.0, 0.0], 0.0, 10).is_empty(),
            "another length"
        );
        assert_eq!(vectors.rank(&[0.0, 0.0, 1.0], 0.1, 1).len(), 1);
    }

    #[test]
    fn the_lane_dot_product_is_the_plain_one() {
        for len in [0, 1, 31, 32, 33, 100, 1024] {
            let values: Vec<i8> = (0..len).map(|i| ((i * 37) % 255) as u8 as i8).collect();
            let query: Vec<i16> = (0..len).map(|i| ((i * 11) % 255) as i16 - 127).collect();
            let plain: i32 = values
                .iter()
                .zip(&query)
                .map(|(v, q)| i32::from(*v) * i32::from(*q))
                .sum();
            assert_eq!(dot(&values, &query), plain, "length {len}");
        }
    }

    #[test]
    fn entries_live_while_their_signature_holds() {
        let cache = VectorCache::default();
        let one = MemoryVectorSignature {
            count: 1,
            seq_sum: 5,
            seq_max: 5,
        };
        cache.put(
            "s",
            "m",
            Arc::new(StoreVectors::new(one, vec![row("a", vec![1.0])])),
        );
        assert!(cache.get("s", "m", one).is_some());
        assert!(cache.get("s", "other", one).is_none());
        let changed = MemoryVectorSignature { seq_sum: 6, ..one };
        assert!(cache.get("s", "m", changed).is_none());
    }
}
