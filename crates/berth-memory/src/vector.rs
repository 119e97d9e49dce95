//! How vectors are stored: a little-endian `f32` scale followed by one `i8` per dimension
//! (the unit vector times 127 / its largest component). A quarter of the size of `f32`s, so a
//! store's vectors read quickly, and a cosine error far below what ranking can notice. Scoring
//! against them is in `cache.rs`.

/// Scales `v` to unit length in place; a zero vector stays zero.
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

pub fn encode(v: &[f32]) -> Vec<u8> {
    let largest = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let scale = if largest > 0.0 { largest / 127.0 } else { 0.0 };
    let mut out = Vec::with_capacity(4 + v.len());
    out.extend_from_slice(&scale.to_le_bytes());
    for x in v {
        let q = if scale > 0.0 {
            (x / scale).round().clamp(-127.0, 127.0) as i8
        } else {
            0
        };
        out.push(q.to_le_bytes()[0]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dot product of a query (unit length) with a stored vector; `None` when the stored
    /// bytes do not hold a vector of the query's length.
    pub fn dot(query: &[f32], stored: &[u8]) -> Option<f32> {
        let (scale, values) = stored.split_first_chunk::<4>()?;
        if values.len() != query.len() {
            return None;
        }
        let scale = f32::from_le_bytes(*scale);
        let sum: f32 = query
            .iter()
            .zip(values)
            .map(|(q, v)| q * f32::from(i8::from_le_bytes([*v])))
            .sum();
        Some(sum * scale)
    }

    #[test]
    fn stored_vectors_keep_their_cosines() {
        let mut a = vec![0.3, -0.2, 0.9, 0.05, 0.0, -0.7];
        let mut b = vec![0.1, 0.4, 0.8, -0.3, 0.2, -0.1];
        normalize(&mut a);
        normalize(&mut b);
        let exact: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        let stored = dot(&a, &encode(&b)).unwrap();
        assert!((exact - stored).abs() < 0.01, "{exact} vs {stored}");
        assert!((dot(&a, &encode(&a)).unwrap() - 1.0).abs() < 0.01);
        assert_eq!(dot(&a, &encode(&[0.0; 6])), Some(0.0));
        assert_eq!(dot(&a, &encode(&[1.0; 5])), None, "another length");
        assert_eq!(dot(&a, &[1, 2]), None, "too short for a scale");
    }
}
