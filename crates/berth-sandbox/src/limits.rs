//! Resource limits applied to every sandboxed command (as rlimits, set in the child before it
//! starts bubblewrap, so everything it runs inherits them).

use nix::sys::resource::{Resource, setrlimit};

use crate::cgroups::SessionResources;

/// What one command may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// CPU seconds per process.
    pub cpu_seconds: u64,
    /// Address space per process, in bytes.
    pub memory_bytes: u64,
    /// Processes (and threads) of the sandbox's user at once.
    pub processes: u64,
    /// Largest file a process may write, in bytes.
    pub file_size_bytes: u64,
    /// Open files per process.
    pub open_files: u64,
    /// What all of a session's processes together may use (control groups, where the host
    /// has them).
    pub session: SessionResources,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            cpu_seconds: 600,
            memory_bytes: 4 << 30,
            processes: 256,
            file_size_bytes: 1 << 30,
            open_files: 1024,
            session: SessionResources::default(),
        }
    }
}

impl Limits {
    /// Applies the limits to the calling process. Only system calls: safe after `fork`.
    pub(crate) fn apply(&self, count_processes: bool) -> nix::Result<()> {
        setrlimit(Resource::RLIMIT_CPU, self.cpu_seconds, self.cpu_seconds)?;
        setrlimit(Resource::RLIMIT_AS, self.memory_bytes, self.memory_bytes)?;
        setrlimit(
            Resource::RLIMIT_FSIZE,
            self.file_size_bytes,
            self.file_size_bytes,
        )?;
        setrlimit(Resource::RLIMIT_NOFILE, self.open_files, self.open_files)?;
        setrlimit(Resource::RLIMIT_CORE, 0, 0)?;
        if count_processes {
            setrlimit(Resource::RLIMIT_NPROC, self.processes, self.processes)?;
        }
        Ok(())
    }
}
