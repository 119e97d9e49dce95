//! Server-sent events decoding: an incremental byte decoder that yields frames.
//!
//! It follows the WHATWG event-stream rules: lines end in `\n`, `\r\n` or `\r` (a `\r\n` split
//! across two reads is still one line end); a leading byte-order mark is dropped; a line
//! starting with `:` is a comment; a line without `:` is a field with an empty value; one space
//! after the colon is dropped; `data` lines join with `\n`; `id` values holding NUL are ignored;
//! `retry` takes only ASCII digits. A blank line ends a frame, and a frame is dispatched when
//! any field was set in it (so a frame carrying only an `id` still reaches the client). Lines
//! longer than [`MAX_LINE_BYTES`] are refused rather than buffered without end.

/// One dispatched frame.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frame {
    pub event: Option<String>,
    /// The `data` lines joined with `\n`; `None` when the frame had none.
    pub data: Option<String>,
    pub id: Option<String>,
    /// The reconnection time the server asked for, in milliseconds.
    pub retry: Option<u64>,
}

impl Frame {
    /// The data, or `""` when the frame had none.
    pub fn data_str(&self) -> &str {
        self.data.as_deref().unwrap_or_default()
    }
}

/// Lines longer than this mean the peer is not speaking SSE.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Why a stream cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("an SSE line is longer than {MAX_LINE_BYTES} bytes")]
    LineTooLong,
}

/// Incremental decoder: feed bytes as they arrive, take the frames they complete.
#[derive(Debug, Default)]
pub struct Decoder {
    /// The unfinished line.
    line: Vec<u8>,
    current: Frame,
    /// Whether any field was set in `current`.
    started: bool,
    /// A `\r` ended the previous read; a `\n` starting the next one belongs to it.
    pending_cr: bool,
    /// Whether the first bytes of the stream (where a byte-order mark may be) were seen.
    past_bom: bool,
}

const BOM: &[u8] = "\u{feff}".as_bytes();

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes and returns the frames they complete.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<Vec<Frame>, DecodeError> {
        let frames = Vec::new();
        if !self.past_bom {
            // The mark may arrive split across reads: wait until its length is buffered.
            if self.line.len() + bytes.len() < BOM.len()
                && BOM.starts_with(&[&self.line[..], bytes].concat())
            {
                self.line.extend_from_slice(bytes);
                return Ok(frames);
            }
            self.past_bom = true;
            let mut head = std::mem::take(&mut self.line);
            head.extend_from_slice(bytes);
            let head = head.strip_prefix(BOM).map(<[u8]>::to_vec).unwrap_or(head);
            return self.feed_lines(&head, frames);
        }
        if bytes.is_empty() {
            return Ok(frames);
        }
        if self.pending_cr {
            self.pending_cr = false;
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
        }
        self.feed_lines(bytes, frames)
    }

    fn feed_lines(
        &mut self,
        bytes: &[u8],
        mut frames: Vec<Frame>,
    ) -> Result<Vec<Frame>, DecodeError> {
        let mut rest = bytes;
        while let Some(end) = rest.iter().position(|b| *b == b'\n' || *b == b'\r') {
            let (content, tail) = rest.split_at(end);
            self.line.extend_from_slice(content);
            let line = std::mem::take(&mut self.line);
            if let Some(frame) = self.take_line(&line) {
                frames.push(frame);
            }
            rest = match tail {
                [b'\r', b'\n', after @ ..] => after,
                [b'\r'] => {
                    self.pending_cr = true;
                    &[]
                }
                [_, after @ ..] => after,
                [] => &[],
            };
        }
        self.line.extend_from_slice(rest);
        if self.line.len() > MAX_LINE_BYTES {
            return Err(DecodeError::LineTooLong);
        }
        Ok(frames)
    }

    fn take_line(&mut self, line: &[u8]) -> Option<Frame> {
        if line.is_empty() {
            if !std::mem::take(&mut self.started) {
                return None;
            }
            return Some(std::mem::take(&mut self.current));
        }
        if line.first() == Some(&b':') {
            return None;
        }
        let (field, value) = match line.iter().position(|b| *b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        let text = || String::from_utf8_lossy(value).into_owned();
        match field {
            b"event" => self.current.event = Some(text()),
            b"data" => match &mut self.current.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(&String::from_utf8_lossy(value));
                }
                None => self.current.data = Some(text()),
            },
            b"id" if !value.contains(&0) => self.current.id = Some(text()),
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                self.current.retry = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
            }
            _ => return None,
        }
        self.started = true;
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn frame(event: Option<&str>, data: Option<&str>, id: Option<&str>) -> Frame {
        Frame {
            event: event.map(str::to_owned),
            data: data.map(str::to_owned),
            id: id.map(str::to_owned),
            retry: None,
        }
    }

    #[test]
    fn frames_split_across_reads_and_line_endings() {
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
                frame(Some("a"), Some("{\"x\":1}"), None),
                frame(Some("b"), Some("one\ntwo"), Some("7")),
            ]
        );
    }

    #[test]
    fn id_only_frames_dispatch_and_odd_fields_are_ignored() {
        let mut d = Decoder::new();
        let frames = d
            .feed(b"id: 3\n\nfoo: bar\n\nretry: 1500\ndata\n\nretry: 1x\nid: a\0b\n\n")
            .unwrap();
        assert_eq!(
            frames,
            vec![
                frame(None, None, Some("3")),
                Frame {
                    data: Some(String::new()),
                    retry: Some(1500),
                    ..Frame::default()
                },
            ]
        );
    }

    #[test]
    fn a_byte_order_mark_is_dropped_even_when_split() {
        let mut d = Decoder::new();
        let mut frames = d.feed(&BOM[..1]).unwrap();
        frames.extend(d.feed(&BOM[1..]).unwrap());
        frames.extend(d.feed(b"data: x\n\n").unwrap());
        assert_eq!(frames, vec![frame(None, Some("x"), None)]);
        let mut d = Decoder::new();
        assert_eq!(d.feed(b"d").unwrap(), vec![]);
        assert_eq!(
            d.feed(b"ata: y\n\n").unwrap(),
            vec![frame(None, Some("y"), None)]
        );
    }

    #[test]
    fn endless_lines_are_refused() {
        let mut d = Decoder::new();
        let chunk = vec![b'x'; 1 << 20];
        let mut result = Ok(Vec::new());
        for _ in 0..=16 {
            result = d.feed(&chunk);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(DecodeError::LineTooLong));
    }
}
