//! How the proxy serves HTTP/1.1 to a sandbox, the same for a plain connection and inside an
//! intercepted tunnel: one request per connection, a bounded head that must arrive in time, and
//! header names written back as they came.

use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioTimer;

/// The most a request head (and the read buffer) may hold; larger heads are answered `431`.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Longest wait for a request head: a client that stalls longer is gone.
const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The server side of one sandbox connection.
pub(crate) fn one_request_server() -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(REQUEST_READ_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(false)
        .preserve_header_case(true);
    builder
}
