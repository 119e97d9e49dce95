//! Property tests: the decoder reads the same frames however the bytes are split, and reads
//! back any frames written in any mix of line endings. `PROPTEST_CASES` raises the number of
//! cases (CI runs the default 256).

#![allow(clippy::unwrap_used)]

use berth_sse::{Decoder, Frame};
use proptest::prelude::*;

/// Bytes that look like an event stream often enough to reach every branch.
fn stream_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"data:".to_vec()),
        Just(b"data: ".to_vec()),
        Just(b"event: ".to_vec()),
        Just(b"id: ".to_vec()),
        Just(b"retry: ".to_vec()),
        Just(b":".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\r\n".to_vec()),
        Just("\u{feff}".as_bytes().to_vec()),
        Just(vec![0]),
        "[a-z0-9 {}\":]{0,12}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

/// Splits `bytes` at the given fractions of its length.
fn chunks(bytes: &[u8], cuts: &[f64]) -> Vec<Vec<u8>> {
    let mut at: Vec<usize> = cuts
        .iter()
        .map(|f| (f * bytes.len() as f64) as usize)
        .collect();
    at.sort_unstable();
    let mut out = Vec::new();
    let mut start = 0;
    for cut in at {
        out.push(bytes[start..cut].to_vec());
        start = cut;
    }
    out.push(bytes[start..].to_vec());
    out
}

fn decode_in(chunks: &[Vec<u8>]) -> Vec<Frame> {
    let mut decoder = Decoder::new();
    chunks
        .iter()
        .flat_map(|chunk| decoder.feed(chunk).unwrap())
        .collect()
}

fn line_text() -> impl Strategy<Value = String> {
    "[^\r\n]{0,20}"
}

fn frame() -> impl Strategy<Value = Frame> {
    (
        proptest::option::of(line_text()),
        proptest::collection::vec(line_text(), 1..4),
        proptest::option::of("[^\r\n\u{0}]{0,12}"),
        proptest::option::of(0u64..100_000),
    )
        .prop_map(|(event, data, id, retry)| Frame {
            event,
            data: Some(data.join("\n")),
            id,
            retry,
        })
}

fn encode(frames: &[Frame], endings: &[&str]) -> Vec<u8> {
    let mut out = String::new();
    let mut ending = endings.iter().cycle();
    let mut line = |out: &mut String, text: &str| {
        let mut end = *ending.next().unwrap();
        // `\r` then an empty line ended by `\n` would read as one `\r\n`.
        if text.is_empty() && end == "\n" && out.ends_with('\r') {
            end = "\r\n";
        }
        out.push_str(text);
        out.push_str(end);
    };
    for frame in frames {
        if let Some(event) = &frame.event {
            line(&mut out, &format!("event: {event}"));
        }
        for data in frame.data_str().split('\n') {
            line(&mut out, &format!("data: {data}"));
        }
        if let Some(id) = &frame.id {
            line(&mut out, &format!("id: {id}"));
        }
        if let Some(retry) = frame.retry {
            line(&mut out, &format!("retry: {retry}"));
        }
        line(&mut out, ": a comment");
        line(&mut out, "");
    }
    out.into_bytes()
}

proptest! {
    #[test]
    fn how_bytes_are_split_does_not_matter(
        bytes in stream_bytes(),
        cuts in proptest::collection::vec(0.0f64..1.0, 0..6),
    ) {
        let whole = decode_in(std::slice::from_ref(&bytes));
        let bytewise: Vec<Vec<u8>> = bytes.iter().map(|b| vec![*b]).collect();
        prop_assert_eq!(&decode_in(&bytewise), &whole);
        prop_assert_eq!(decode_in(&chunks(&bytes, &cuts)), whole);
    }

    #[test]
    fn written_frames_read_back(
        frames in proptest::collection::vec(frame(), 0..6),
        endings in proptest::collection::vec(prop_oneof![Just("\n"), Just("\r"), Just("\r\n")], 1..4),
        cuts in proptest::collection::vec(0.0f64..1.0, 0..6),
        bom in any::<bool>(),
    ) {
        let mut bytes = if bom { "\u{feff}".as_bytes().to_vec() } else { Vec::new() };
        bytes.extend(encode(&frames, &endings));
        prop_assert_eq!(decode_in(&chunks(&bytes, &cuts)), frames);
    }
}
