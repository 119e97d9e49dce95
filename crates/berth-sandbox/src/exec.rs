//! Running one command and collecting what it printed: stdout and stderr share one pipe (so
//! they interleave as on a terminal), the head and tail are kept, and the command is stopped by
//! its timeout, by too much output, or by the caller.

use std::collections::VecDeque;
use std::os::fd::OwnedFd;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use crate::SandboxError;
use crate::cgroups::LimitHit;
use crate::disk::DiskAllowance;

/// Bytes of output kept from the start and from the end.
pub const KEPT_HEAD_BYTES: usize = 64 * 1024;
pub const KEPT_TAIL_BYTES: usize = 64 * 1024;
/// A command printing more than this is stopped.
pub const MAX_OUTPUT_BYTES: u64 = 64 * 1024 * 1024;
/// How long output is still read after the command exits.
const DRAIN_GRACE: Duration = Duration::from_millis(500);

/// One command to run.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    pub command: String,
    pub timeout: Duration,
    /// Variables besides the sandbox's own (`PATH`, `HOME`, proxies…).
    pub env: Vec<(String, String)>,
    /// The disk the sandbox's files may take while the command runs; `None` for no quota.
    pub disk: Option<DiskAllowance>,
}

/// Why the command stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Exited,
    TimedOut,
    OutputLimit,
    Interrupted,
    /// The sandbox's files passed the disk quota while the command ran.
    DiskQuota,
}

#[derive(Debug, Clone)]
pub struct ExecResult {
    /// The exit status, `128 + signal` when killed by one.
    pub exit_code: i32,
    pub ended: Ended,
    /// The start of the output.
    pub head: Vec<u8>,
    /// The end of the output when it did not fit in `head`.
    pub tail: Vec<u8>,
    /// Bytes printed in all.
    pub total_bytes: u64,
    /// Limits of the session that the command ran into (memory, processes, disk).
    pub limits_hit: Vec<LimitHit>,
}

impl ExecResult {
    /// The output as text; when some was dropped, a marker says how much, cut on UTF-8
    /// character boundaries.
    pub fn output_text(&self) -> String {
        let head = utf8_prefix(&self.head);
        if self.tail.is_empty() {
            return head.to_owned();
        }
        let tail = utf8_suffix(&self.tail);
        let omitted = self.total_bytes - (head.len() + tail.len()) as u64;
        format!("{head}\n... ({omitted} bytes of output omitted) ...\n{tail}")
    }
}

/// The longest valid UTF-8 prefix (invalid bytes inside are replaced).
fn utf8_prefix(bytes: &[u8]) -> &str {
    match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(bytes.get(..e.valid_up_to()).unwrap_or_default())
            .unwrap_or_default(),
    }
}

/// The suffix after the first character boundary.
fn utf8_suffix(bytes: &[u8]) -> &str {
    for skip in 0..4.min(bytes.len()) {
        if let Ok(s) = std::str::from_utf8(bytes.get(skip..).unwrap_or_default()) {
            return s;
        }
    }
    utf8_prefix(bytes.get(4.min(bytes.len())..).unwrap_or_default())
}

/// Collects output into a head and a rolling tail.
struct Collector {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    total: u64,
}

impl Collector {
    fn push(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        let room = KEPT_HEAD_BYTES.saturating_sub(self.head.len());
        if room > 0 {
            let (now, later) = data.split_at(room.min(data.len()));
            self.head.extend_from_slice(now);
            data = later;
        }
        self.tail.extend(data);
        let excess = self.tail.len().saturating_sub(KEPT_TAIL_BYTES);
        self.tail.drain(..excess);
    }
}

/// Waits for `child`, reading `output`, and kills its process group when it must stop.
pub(crate) async fn supervise(
    mut child: tokio::process::Child,
    output: OwnedFd,
    timeout: Duration,
    cancel: &CancellationToken,
    over_quota: impl std::future::Future<Output = ()>,
) -> Result<ExecResult, SandboxError> {
    tokio::pin!(over_quota);
    let pgid = child.id().map(|id| Pid::from_raw(id as i32));
    let kill = || {
        if let Some(pgid) = pgid {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    };
    let mut reader = tokio::net::unix::pipe::Receiver::from_owned_fd(output)
        .map_err(|e| SandboxError::Spawn(format!("cannot read the command's output: {e}")))?;
    let mut collected = Collector {
        head: Vec::new(),
        tail: VecDeque::new(),
        total: 0,
    };
    let mut buffer = vec![0u8; 64 * 1024];
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut ended = Ended::Exited;
    let mut status = None;
    let mut open = true;
    while status.is_none() {
        tokio::select! {
            read = reader.read(&mut buffer), if open => match read {
                Ok(0) | Err(_) => open = false,
                Ok(n) => {
                    collected.push(buffer.get(..n).unwrap_or_default());
                    if collected.total > MAX_OUTPUT_BYTES {
                        ended = Ended::OutputLimit;
                        kill();
                    }
                }
            },
            exited = child.wait() => {
                status = Some(exited.map_err(|e| SandboxError::Spawn(e.to_string()))?);
            }
            () = &mut deadline, if ended == Ended::Exited => {
                ended = Ended::TimedOut;
                kill();
            }
            () = cancel.cancelled(), if ended == Ended::Exited => {
                ended = Ended::Interrupted;
                kill();
            }
            () = &mut over_quota, if ended == Ended::Exited => {
                ended = Ended::DiskQuota;
                kill();
            }
        }
    }
    // The sandbox's processes die with it; read what they left in the pipe.
    let drain = async {
        while open {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => open = false,
                Ok(n) => collected.push(buffer.get(..n).unwrap_or_default()),
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_GRACE, drain).await;
    let exit_code = status.map_or(-1, |s| {
        use std::os::unix::process::ExitStatusExt;
        s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
    });
    Ok(ExecResult {
        exit_code,
        ended,
        head: collected.head,
        tail: collected.tail.into_iter().collect(),
        total_bytes: collected.total,
        limits_hit: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_output_keeps_head_and_tail_on_char_boundaries() {
        let mut c = Collector {
            head: Vec::new(),
            tail: VecDeque::new(),
            total: 0,
        };
        let line = "é".repeat(50_000);
        c.push(line.as_bytes());
        c.push(line.as_bytes());
        let result = ExecResult {
            exit_code: 0,
            ended: Ended::Exited,
            head: c.head,
            tail: c.tail.into_iter().collect(),
            total_bytes: c.total,
            limits_hit: Vec::new(),
        };
        let text = result.output_text();
        assert!(text.contains("bytes of output omitted"));
        assert!(text.starts_with('é') && text.ends_with('é'));
        assert!(!text.contains('\u{fffd}'));
    }
}
