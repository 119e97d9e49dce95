//! Server-sent events framing: a byte-stream decoder that yields `(event, data)` frames.
//!
//! Lines end in `\n`, `\r\n` or `\r`; a blank line dispatches; `data:` lines join with `\n`;
//! comments (`:`) are ignored. Used for every provider's stream and by tests reading Berth's own.

/// One dispatched frame.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frame {
    pub event: Option<String>,
    pub data: String,
    pub id: Option<String>,
}

/// Incremental decoder: feed bytes, take complete frames.
#[derive(Debug, Default)]
pub struct Decoder {
    buffer: Vec<u8>,
    current: Frame,
    has_data: bool,
    /// A `\r` ended the previous chunk; a leading `\n` in the next one belongs to it.
    pending_cr: bool,
}

/// Lines longer than this mean the peer is not speaking SSE; refuse rather than buffer forever.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes and returns the frames they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<Frame>, String> {
        let mut frames = Vec::new();
        let mut bytes = bytes;
        if self.pending_cr {
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
            self.pending_cr = false;
        }
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'\n' || b == b'\r' {
                self.buffer.extend_from_slice(&bytes[start..i]);
                let line = std::mem::take(&mut self.buffer);
                if let Some(frame) = self.line(&line) {
                    frames.push(frame);
                }
                if b == b'\r' {
                    if i + 1 < bytes.len() {
                        if bytes[i + 1] == b'\n' {
                            i += 1;
                        }
                    } else {
                        self.pending_cr = true;
                    }
                }
                start = i + 1;
            }
            i += 1;
        }
        self.buffer
            .extend_from_slice(&bytes[start.min(bytes.len())..]);
        if self.buffer.len() > MAX_LINE_BYTES {
            return Err("SSE line too long".to_owned());
        }
        Ok(frames)
    }

    fn line(&mut self, line: &[u8]) -> Option<Frame> {
        if line.is_empty() {
            if !self.has_data && self.current.event.is_none() {
                return None;
            }
            self.has_data = false;
            return Some(std::mem::take(&mut self.current));
        }
        if line.first() == Some(&b':') {
            return None;
        }
        let text = String::from_utf8_lossy(line);
        let (field, value) = match text.split_once(':') {
            Some((f, v)) => (f.to_owned(), v.strip_prefix(' ').unwrap_or(v).to_owned()),
            None => (text.into_owned(), String::new()),
        };
        match field.as_str() {
            "event" => self.current.event = Some(value),
            "data" => {
                if self.has_data {
                    self.current.data.push('\n');
                }
                self.current.data.push_str(&value);
                self.has_data = true;
            }
            "id" => self.current.id = Some(value),
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn frames_split_across_chunks_and_line_endings() {
        let mut d = Decoder::new();
        let mut frames = d.feed(b"event: a\r").unwrap();
        frames.extend(d.feed(b"\ndata: {\"x\":1}\r\n\r\n: comment\n").unwrap());
        frames.extend(
            d.feed(b"event: b\ndata: one\ndata: two\nid: 7\n\n")
                .unwrap(),
        );
        assert_eq!(
            frames,
            vec![
                Frame {
                    event: Some("a".into()),
                    data: "{\"x\":1}".into(),
                    id: None
                },
                Frame {
                    event: Some("b".into()),
                    data: "one\ntwo".into(),
                    id: Some("7".into())
                },
            ]
        );
    }
}
