//! Just enough HTTP/1.1 for the egress proxy: reading a message head, its header fields, and a
//! request body framed by `Content-Length` or chunked (de-chunked so placeholders split across
//! chunks are still found). Anything unusual is refused rather than guessed at.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Longest message head accepted.
pub(crate) const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Longest wait for the next bytes of a request: a client that stalls longer is gone.
pub(crate) const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest body read whole to substitute secrets in; larger ones are refused with `413`
/// (proxy memory is shared by every sandbox).
pub(crate) const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    #[error("malformed HTTP message: {0}")]
    Malformed(String),
    #[error("the message head is larger than {MAX_HEAD_BYTES} bytes")]
    HeadTooLarge,
    #[error(
        "the request body is larger than {MAX_BODY_BYTES} bytes, the most that can carry secrets"
    )]
    BodyTooLarge,
    #[error("the connection closed mid-message")]
    Closed,
    #[error("nothing arrived for {} s", .0.as_secs())]
    Timeout(Duration),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// A stream with the bytes read past the last message part kept for the next one.
pub(crate) struct Reader<S> {
    stream: S,
    buffered: Vec<u8>,
    /// Longest wait for more bytes of a head or body.
    timeout: Duration,
}

impl<S: AsyncRead + Unpin> Reader<S> {
    /// A reader of requests (see [`REQUEST_READ_TIMEOUT`]).
    pub fn new(stream: S) -> Self {
        Self::with_timeout(stream, REQUEST_READ_TIMEOUT)
    }

    pub fn with_timeout(stream: S, timeout: Duration) -> Self {
        Self {
            stream,
            buffered: Vec::new(),
            timeout,
        }
    }

    /// The stream, for writing (reads must go through the reader).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The stream and the bytes read from it but not consumed.
    pub fn into_parts(self) -> (S, Vec<u8>) {
        (self.stream, self.buffered)
    }

    /// Reads more bytes into the buffer; `Closed` at end of stream.
    async fn fill(&mut self) -> Result<(), HttpError> {
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout(self.timeout, self.stream.read(&mut chunk))
            .await
            .map_err(|_| HttpError::Timeout(self.timeout))??;
        if n == 0 {
            return Err(HttpError::Closed);
        }
        self.buffered
            .extend_from_slice(chunk.get(..n).unwrap_or_default());
        Ok(())
    }

    /// The next head, through its empty line.
    pub async fn read_head(&mut self) -> Result<Vec<u8>, HttpError> {
        loop {
            if let Some(end) = self.buffered.windows(4).position(|w| w == b"\r\n\r\n") {
                let rest = self.buffered.split_off(end + 4);
                return Ok(std::mem::replace(&mut self.buffered, rest));
            }
            if self.buffered.len() > MAX_HEAD_BYTES {
                return Err(HttpError::HeadTooLarge);
            }
            self.fill().await?;
        }
    }

    /// Up to `max` bytes (at least one); `Closed` at the end of the stream.
    pub async fn read_up_to(&mut self, max: usize) -> Result<Vec<u8>, HttpError> {
        if self.buffered.is_empty() {
            self.fill().await?;
        }
        let n = self.buffered.len().min(max.max(1));
        let rest = self.buffered.split_off(n);
        Ok(std::mem::replace(&mut self.buffered, rest))
    }

    /// The next line, without its CRLF.
    pub async fn read_line(&mut self) -> Result<Vec<u8>, HttpError> {
        loop {
            if let Some(end) = self.buffered.windows(2).position(|w| w == b"\r\n") {
                let rest = self.buffered.split_off(end + 2);
                let mut line = std::mem::replace(&mut self.buffered, rest);
                line.truncate(end);
                return Ok(line);
            }
            if self.buffered.len() > MAX_HEAD_BYTES {
                return Err(HttpError::HeadTooLarge);
            }
            self.fill().await?;
        }
    }

    /// Exactly `n` bytes.
    async fn read_exact(&mut self, n: usize, out: &mut Vec<u8>) -> Result<(), HttpError> {
        while self.buffered.len() < n {
            self.fill().await?;
        }
        let rest = self.buffered.split_off(n);
        out.extend_from_slice(&self.buffered);
        self.buffered = rest;
        Ok(())
    }

    /// A whole body, de-chunked, of at most [`MAX_BODY_BYTES`].
    pub async fn read_body(&mut self, framing: Framing) -> Result<Vec<u8>, HttpError> {
        let mut body = Vec::new();
        match framing {
            Framing::Empty => {}
            Framing::UntilClose => loop {
                match self.read_up_to(MAX_BODY_BYTES).await {
                    Ok(piece) => {
                        if body.len().saturating_add(piece.len()) > MAX_BODY_BYTES {
                            return Err(HttpError::BodyTooLarge);
                        }
                        body.extend_from_slice(&piece);
                    }
                    Err(HttpError::Closed) => break,
                    Err(e) => return Err(e),
                }
            },
            Framing::Length(n) => {
                let n = usize::try_from(n)
                    .ok()
                    .filter(|n| *n <= MAX_BODY_BYTES)
                    .ok_or(HttpError::BodyTooLarge)?;
                self.read_exact(n, &mut body).await?;
            }
            Framing::Chunked => loop {
                let line = self.read_line().await?;
                let size = parse_chunk_size(&line)?;
                if size == 0 {
                    // Trailer fields, up to the empty line, are dropped.
                    while !self.read_line().await?.is_empty() {}
                    break;
                }
                if body.len().saturating_add(size) > MAX_BODY_BYTES {
                    return Err(HttpError::BodyTooLarge);
                }
                self.read_exact(size, &mut body).await?;
                if !self.read_line().await?.is_empty() {
                    return Err(HttpError::Malformed("a chunk overruns its size".into()));
                }
            },
        }
        Ok(body)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Reader<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        if !self.buffered.is_empty() {
            let n = self.buffered.len().min(buf.remaining());
            let rest = self.buffered.split_off(n);
            buf.put_slice(&self.buffered);
            self.buffered = rest;
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

pub(crate) fn parse_chunk_size(line: &[u8]) -> Result<usize, HttpError> {
    let bad = || HttpError::Malformed("invalid chunk size".into());
    let text = std::str::from_utf8(line).map_err(|_| bad())?;
    let digits = text.split(';').next().unwrap_or("").trim();
    if digits.is_empty() || digits.len() > 15 {
        return Err(bad());
    }
    usize::from_str_radix(digits, 16).map_err(|_| bad())
}

/// Whether `name` is an HTTP token (RFC 9110 §5.6.2), as a field name must be.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// How a body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    Empty,
    Length(u64),
    Chunked,
    /// A response without length or chunks: the body ends when the connection does.
    UntilClose,
}

/// A message head: its start line and header fields, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub start_line: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// Parses a head as read by [`Reader::read_head`].
    pub fn parse(bytes: &[u8]) -> Result<Self, HttpError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| HttpError::Malformed("the head is not UTF-8".into()))?;
        let mut lines = text.split("\r\n");
        let start_line = lines.next().unwrap_or("").to_owned();
        if start_line.is_empty() {
            return Err(HttpError::Malformed("no start line".into()));
        }
        // A bare CR or LF, or any other control character, would be read differently by the
        // server the head is forwarded to (a header or a request smuggled past the proxy).
        if start_line.bytes().any(|b| b.is_ascii_control()) {
            return Err(HttpError::Malformed(
                "control characters in the start line".into(),
            ));
        }
        let mut headers = Vec::new();
        for line in lines.filter(|l| !l.is_empty()) {
            if line.starts_with([' ', '\t']) {
                return Err(HttpError::Malformed("folded header lines".into()));
            }
            let (name, value) = line.split_once(':').ok_or_else(|| {
                HttpError::Malformed(format!("header line without a colon: {line:?}"))
            })?;
            if !is_token(name) {
                return Err(HttpError::Malformed(format!(
                    "invalid header name: {name:?}"
                )));
            }
            if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
                return Err(HttpError::Malformed(format!(
                    "control characters in the value of {name}"
                )));
            }
            headers.push((name.to_owned(), value.trim_matches([' ', '\t']).to_owned()));
        }
        Ok(Self {
            start_line,
            headers,
        })
    }

    /// A request line's method, target and version.
    pub fn request_line(&self) -> (&str, &str, &str) {
        let mut parts = self.start_line.split(' ');
        (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or("HTTP/1.1"),
        )
    }

    /// A response's status code.
    pub fn status(&self) -> Option<u16> {
        self.start_line.split(' ').nth(1)?.parse().ok()
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn remove(&mut self, names: &[&str]) {
        self.headers
            .retain(|(n, _)| !names.iter().any(|name| n.eq_ignore_ascii_case(name)));
    }

    /// How the body of this request is delimited (RFC 9112 §6.3: chunked wins).
    pub fn request_framing(&self) -> Result<Framing, HttpError> {
        let encodings: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"))
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        if let Some(last) = encodings.last() {
            if last.eq_ignore_ascii_case("chunked") && encodings.len() == 1 {
                return Ok(Framing::Chunked);
            }
            return Err(HttpError::Malformed(format!(
                "unsupported transfer encoding: {}",
                encodings.join(", ")
            )));
        }
        let lengths: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.as_str())
            .collect();
        match lengths.as_slice() {
            [] => Ok(Framing::Empty),
            [one] => one
                .parse()
                .map(Framing::Length)
                .map_err(|_| HttpError::Malformed(format!("invalid Content-Length: {one}"))),
            _ => Err(HttpError::Malformed(
                "several Content-Length headers".into(),
            )),
        }
    }

    /// How the body of this response is delimited (RFC 9112 §6.3), for a request that was
    /// `HEAD` or not.
    pub fn response_framing(&self, head_request: bool) -> Result<Framing, HttpError> {
        let status = self.status().unwrap_or(0);
        if head_request || (100..200).contains(&status) || status == 204 || status == 304 {
            return Ok(Framing::Empty);
        }
        let chunked_or_length = self.request_framing()?;
        if chunked_or_length == Framing::Empty
            && !self
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        {
            return Ok(Framing::UntilClose);
        }
        Ok(chunked_or_length)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(self.start_line.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(raw: &[u8]) -> Result<(Head, Vec<u8>, Vec<u8>), HttpError> {
        let mut reader = Reader::new(raw);
        let head = Head::parse(&reader.read_head().await?)?;
        let body = reader.read_body(head.request_framing()?).await?;
        let (_, rest) = reader.into_parts();
        Ok((head, body, rest))
    }

    #[tokio::test]
    async fn heads_and_length_bodies_are_read() {
        let (head, body, rest) =
            body_of(b"POST /x HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhelloNEXT")
                .await
                .unwrap();
        assert_eq!(head.request_line(), ("POST", "/x", "HTTP/1.1"));
        assert_eq!(head.header("host"), Some("a.test"));
        assert_eq!(body, b"hello");
        assert_eq!(rest, b"NEXT");
    }

    #[tokio::test]
    async fn chunked_bodies_are_dechunked() {
        let raw = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
                    5;ext=1\r\nberth\r\n3\r\n-se\r\n0\r\nTrailer: x\r\n\r\n";
        let (_, body, rest) = body_of(raw).await.unwrap();
        assert_eq!(body, b"berth-se");
        assert!(rest.is_empty());
    }

    #[tokio::test]
    async fn bad_framing_is_refused() {
        for raw in [
            &b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort",
            b"GET / HTTP/1.1\r\n folded: x\r\n\r\n",
        ] {
            assert!(
                body_of(raw).await.is_err(),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn heads_serialise_back() {
        let head = Head::parse(b"HTTP/1.1 200 OK\r\nA: 1\r\nB:2\r\n\r\n").unwrap();
        assert_eq!(head.status(), Some(200));
        assert_eq!(head.to_bytes(), b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n");
    }

    #[test]
    fn bare_line_breaks_and_bad_names_are_refused() {
        for raw in [
            &b"GET / HTTP/1.1\r\nX-A: b\nContent-Length: 5\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nX-A: b\rTransfer-Encoding: chunked\r\n\r\n",
            b"GET / HTTP/1.1\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nX-A: \0\r\n\r\n",
        ] {
            assert!(
                matches!(Head::parse(raw), Err(HttpError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }
}
