//! The default embedder: no model and no network. Each text becomes counts of hashed features
//! (its stemmed words, pairs of neighbouring words, and the character trigrams of each word),
//! weighted `1 + ln(count)`, folded into a fixed number of signed dimensions and scaled to
//! unit length. Texts sharing words, word forms or word fragments come out similar, which
//! finds a memory from a differently phrased query as long as some of its vocabulary is
//! there; it knows no synonyms (an embeddings endpoint does).

use std::collections::HashMap;

use async_trait::async_trait;

use crate::embed::{EmbedError, Embedder};
use crate::text::{is_stop_word, stem, words};
use crate::vector::normalize;

const DIMENSIONS: usize = 1024;
const WORD_WEIGHT: f32 = 1.0;
const PAIR_WEIGHT: f32 = 0.5;
/// Shared by all of a word's trigrams.
const TRIGRAM_WEIGHT: f32 = 0.6;

#[derive(Debug, Default, Clone, Copy)]
pub struct HashingEmbedder;

impl HashingEmbedder {
    pub fn embed_one(&self, text: &str) -> Vec<f32> {
        let mut features: HashMap<u64, f32> = HashMap::new();
        let mut add = |key: &[u8], weight: f32| {
            *features.entry(fnv1a(key)).or_default() += weight;
        };
        let stems: Vec<String> = words(text)
            .map(|(_, w)| stem(w))
            .filter(|s| !is_stop_word(s))
            .collect();
        for (i, word) in stems.iter().enumerate() {
            add(format!("w:{word}").as_bytes(), WORD_WEIGHT);
            if let Some(next) = stems.get(i + 1) {
                add(format!("p:{word} {next}").as_bytes(), PAIR_WEIGHT);
            }
            let padded: Vec<char> = format!("^{word}$").chars().collect();
            let trigrams = padded.len().saturating_sub(2).max(1);
            for gram in padded.windows(3) {
                let gram: String = gram.iter().collect();
                add(
                    format!("t:{gram}").as_bytes(),
                    TRIGRAM_WEIGHT / trigrams as f32,
                );
            }
        }
        let mut vector = vec![0.0f32; DIMENSIONS];
        for (hash, weight) in features {
            let index = (hash % DIMENSIONS as u64) as usize;
            let sign = if hash >> 63 == 0 { 1.0 } else { -1.0 };
            vector[index] += sign * (1.0 + weight.ln_1p());
        }
        normalize(&mut vector);
        vector
    }
}

/// 64-bit FNV-1a: stable across platforms and releases, which stored vectors depend on.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[async_trait]
impl Embedder for HashingEmbedder {
    fn model_id(&self) -> &str {
        "hashing-v1-1024"
    }

    fn min_similarity(&self) -> f32 {
        // Above the chance overlap of unrelated texts in 1,024 hashed dimensions (~0.11 on
        // the test corpus), below most related ones.
        0.12
    }

    async fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts.iter().map(|t| self.embed_one(t)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosine(a: &str, b: &str) -> f32 {
        let e = HashingEmbedder;
        let (a, b) = (e.embed_one(a), e.embed_one(b));
        a.iter().zip(&b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn vectors_are_deterministic_and_unit_length() {
        let e = HashingEmbedder;
        let v = e.embed_one("Deploy the service with blue-green releases");
        assert_eq!(v.len(), DIMENSIONS);
        assert_eq!(
            v,
            e.embed_one("Deploy the service with blue-green releases")
        );
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
        assert!(e.embed_one("the of and").iter().all(|x| *x == 0.0));
        // Pinned: stored vectors must not change between releases without a new model id.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn related_texts_are_closer_than_unrelated_ones() {
        let note = "Deployments go out with blue-green releases every Tuesday";
        let related = cosine(note, "when do we deploy a release");
        let unrelated = cosine(note, "the cat prefers salmon for dinner");
        assert!(related > 0.2, "{related}");
        assert!(unrelated < 0.1, "{unrelated}");
    }
}
