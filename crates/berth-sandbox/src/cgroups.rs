//! Per-session limits with control groups: memory, CPU and processes for everything a
//! session's sandbox runs together, not per process (rlimits are per process, so four
//! processes under a 4 GiB address-space limit could still use 16 GiB).
//!
//! Each sandbox gets a group of its own under a group of this installation (`berth-<tag>`,
//! the tag naming the sandbox directory, so two servers on one host never touch each other's
//! groups), which sits under the server's own group, so limits placed on the server by its
//! supervisor still hold for its sandboxes. Version 2 is used where the host mounts it with
//! the `memory`, `pids` and `cpu` controllers; otherwise version 1's separate `memory`,
//! `pids` and `cpu` hierarchies, each where it is mounted and writable. With neither (no root,
//! no writable hierarchy) there are only the per-process limits, and the server says so at
//! start.
//!
//! A command joins its sandbox's group between fork and exec (writing `0` to `cgroup.procs`
//! through a handle opened beforehand), so bubblewrap and everything it starts are counted.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The CPU scheduling period the quota is a share of (the kernel's default).
const CPU_PERIOD_MICROS: u64 = 100_000;

/// What a session's group allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionResources {
    /// Memory of all the session's processes together, in bytes.
    pub memory_bytes: u64,
    /// CPU time per second of wall time, in thousandths of a core (1000 = one core).
    pub cpu_millis: u64,
    /// Processes and threads of the session at once.
    pub processes: u64,
}

impl Default for SessionResources {
    fn default() -> Self {
        Self {
            memory_bytes: 4 << 30,
            cpu_millis: 2_000,
            processes: 512,
        }
    }
}

/// Which cgroup interface the host has.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Layout {
    /// One unified hierarchy: the installation's group.
    V2 { parent: PathBuf },
    /// Separate hierarchies: the installation's group in each that is usable.
    V1 {
        memory: Option<PathBuf>,
        pids: Option<PathBuf>,
        cpu: Option<PathBuf>,
    },
}

/// The installation's control groups, found once at start.
#[derive(Debug, Clone)]
pub(crate) struct Cgroups {
    layout: Layout,
}

/// Counters of limits a session's processes ran into.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LimitCounters {
    pub oom_kills: u64,
    pub process_limit_hits: u64,
}

/// A limit a command ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitHit {
    /// A process was killed because the session's processes used all its memory.
    Memory { limit_bytes: u64 },
    /// A process could not be started because the session ran its maximum.
    Processes { limit: u64 },
    /// The command was stopped because the session's files reached their quota.
    Disk { limit_bytes: u64 },
}

impl std::fmt::Display for LimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitHit::Memory { limit_bytes } => write!(
                f,
                "a process was killed: the session's processes together reached their memory \
                 limit of {} MiB",
                limit_bytes >> 20
            ),
            LimitHit::Processes { limit } => write!(
                f,
                "a process could not start: the session reached its limit of {limit} \
                 processes and threads"
            ),
            LimitHit::Disk { limit_bytes } => write!(
                f,
                "stopped: the session's files reached their disk quota of {} MiB; delete \
                 files to make room",
                limit_bytes >> 20
            ),
        }
    }
}

impl Cgroups {
    /// Finds (and prepares) the installation's groups under `mount` (normally
    /// `/sys/fs/cgroup`), for the server whose `/proc/self/cgroup` is `own`. `None`, with the
    /// reason, when the host offers nothing usable.
    pub(crate) fn detect(mount: &Path, own: &str, tag: &str) -> Result<Self, String> {
        let name = format!("berth-{tag}");
        let v2_controllers = std::fs::read_to_string(mount.join("cgroup.controllers"));
        if let Ok(controllers) = v2_controllers {
            let needed = ["memory", "pids", "cpu"];
            let has: Vec<&str> = controllers.split_whitespace().collect();
            if needed.iter().all(|c| has.contains(c)) {
                let own_path = own
                    .lines()
                    .find_map(|l| l.strip_prefix("0::"))
                    .unwrap_or("/");
                return v2_parent(mount, own_path, &name)
                    .map(|parent| Self {
                        layout: Layout::V2 { parent },
                    })
                    .map_err(|e| format!("cgroup v2: {e}"));
            }
        }
        let v1 = |controller: &str, probe: &str| -> Option<PathBuf> {
            let hierarchy = mount.join(controller);
            if !hierarchy.join(probe).exists() {
                return None;
            }
            let own_path = own.lines().find_map(|line| {
                let mut parts = line.splitn(3, ':');
                let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
                controllers
                    .split(',')
                    .any(|c| c == controller)
                    .then_some(path)
            })?;
            let parent = hierarchy.join(own_path.trim_start_matches('/')).join(&name);
            std::fs::create_dir_all(&parent).ok()?;
            remove_stale(&parent);
            Some(parent)
        };
        let layout = Layout::V1 {
            memory: v1("memory", "memory.limit_in_bytes"),
            pids: v1("pids", "pids.max").or_else(|| v1("pids", "cgroup.procs")),
            cpu: v1("cpu", "cpu.cfs_quota_us"),
        };
        match &layout {
            Layout::V1 {
                memory: None,
                pids: None,
                cpu: None,
            } => Err("no writable memory, pids or cpu control group hierarchy".into()),
            _ => Ok(Self { layout }),
        }
    }

    /// Which controllers limit sessions, for the start-up log.
    pub(crate) fn describe(&self) -> String {
        match &self.layout {
            Layout::V2 { parent } => format!("cgroup v2 at {}", parent.display()),
            Layout::V1 { memory, pids, cpu } => {
                let present: Vec<&str> = [("memory", memory), ("pids", pids), ("cpu", cpu)]
                    .into_iter()
                    .filter(|(_, p)| p.is_some())
                    .map(|(n, _)| n)
                    .collect();
                format!("cgroup v1 ({})", present.join(", "))
            }
        }
    }

    /// Creates the group of the sandbox `name` with `resources` (a group left under that name
    /// by an earlier run is replaced).
    pub(crate) fn create(
        &self,
        name: &str,
        resources: &SessionResources,
    ) -> io::Result<SessionCgroup> {
        let group = SessionCgroup {
            layout: self.layout.clone(),
            name: name.to_owned(),
            resources: *resources,
        };
        for dir in group.dirs() {
            if dir.exists() {
                remove_group(&dir);
            }
        }
        group.ensure()?;
        Ok(group)
    }
}

fn cpu_quota(resources: &SessionResources) -> u64 {
    // A quota under 1 ms per period is refused by the kernel.
    (resources.cpu_millis * CPU_PERIOD_MICROS / 1000).max(1000)
}

/// The installation's group in a unified hierarchy, with the three controllers handed down to
/// it. The server's own group may not both hold processes and hand controllers to children,
/// so (unless it is the root) the server first moves into a leaf of its own.
fn v2_parent(mount: &Path, own_path: &str, name: &str) -> io::Result<PathBuf> {
    let own = mount.join(own_path.trim_start_matches('/'));
    let controllers = "+memory +pids +cpu";
    if own != mount {
        let enabled = std::fs::read_to_string(own.join("cgroup.subtree_control"))?;
        let all_enabled = ["memory", "pids", "cpu"]
            .iter()
            .all(|c| enabled.split_whitespace().any(|e| e == *c));
        if !all_enabled {
            let leaf = own.join("berth-server");
            std::fs::create_dir_all(&leaf)?;
            write_text(&leaf.join("cgroup.procs"), &std::process::id().to_string())?;
            write_text(&own.join("cgroup.subtree_control"), controllers)?;
        }
    }
    let parent = own.join(name);
    std::fs::create_dir_all(&parent)?;
    write_text(&parent.join("cgroup.subtree_control"), controllers)?;
    remove_stale(&parent);
    Ok(parent)
}

/// Removes the empty groups a previous run left (their processes died with it). A group
/// still holding processes is left alone: it is not ours to judge.
fn remove_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = std::fs::remove_dir(entry.path());
        }
    }
}

/// Kills what is left in a group and removes it (a group is removed with `rmdir`, never by
/// deleting its files).
fn remove_group(dir: &Path) {
    for pid in std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse::<i32>().ok())
    {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    for _ in 0..50 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return,
            // Killed processes leave the group a moment after the signal.
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
    tracing::warn!(group = %dir.display(), "cannot remove a sandbox's control group");
}

fn write_value(path: &Path, value: u64) -> io::Result<()> {
    write_text(path, &value.to_string())
}

fn write_text(path: &Path, text: &str) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).open(path)?;
    file.write_all(text.as_bytes())
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// One sandbox's group (a directory per hierarchy on version 1).
#[derive(Debug)]
pub(crate) struct SessionCgroup {
    layout: Layout,
    name: String,
    resources: SessionResources,
}

impl SessionCgroup {
    /// The group's directories (one per hierarchy).
    pub(crate) fn dirs(&self) -> Vec<PathBuf> {
        match &self.layout {
            Layout::V2 { parent } => vec![parent.join(&self.name)],
            Layout::V1 { memory, pids, cpu } => [memory, pids, cpu]
                .into_iter()
                .flatten()
                .map(|parent| parent.join(&self.name))
                .collect(),
        }
    }

    fn memory_dir(&self) -> Option<PathBuf> {
        match &self.layout {
            Layout::V2 { parent } => Some(parent.join(&self.name)),
            Layout::V1 { memory, .. } => memory.as_ref().map(|p| p.join(&self.name)),
        }
    }

    fn pids_dir(&self) -> Option<PathBuf> {
        match &self.layout {
            Layout::V2 { parent } => Some(parent.join(&self.name)),
            Layout::V1 { pids, .. } => pids.as_ref().map(|p| p.join(&self.name)),
        }
    }

    /// Makes the group's directories that are missing, with their limits (a group is empty
    /// between commands, and an empty group may have been removed as a leftover).
    fn ensure(&self) -> io::Result<()> {
        let r = &self.resources;
        let made = |dir: &Path| -> io::Result<bool> {
            match std::fs::create_dir(dir) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(e),
            }
        };
        match &self.layout {
            Layout::V2 { parent } => {
                let dir = parent.join(&self.name);
                if made(&dir)? {
                    write_value(&dir.join("memory.max"), r.memory_bytes)?;
                    let _ = write_value(&dir.join("memory.swap.max"), 0);
                    write_value(&dir.join("pids.max"), r.processes)?;
                    write_text(
                        &dir.join("cpu.max"),
                        &format!("{} {CPU_PERIOD_MICROS}", cpu_quota(r)),
                    )?;
                }
            }
            Layout::V1 { memory, pids, cpu } => {
                if let Some(dir) = memory.as_ref().map(|p| p.join(&self.name))
                    && made(&dir)?
                {
                    write_value(&dir.join("memory.limit_in_bytes"), r.memory_bytes)?;
                    // Without swap accounting the file is absent: memory alone is limited.
                    let _ = write_value(&dir.join("memory.memsw.limit_in_bytes"), r.memory_bytes);
                }
                if let Some(dir) = pids.as_ref().map(|p| p.join(&self.name))
                    && made(&dir)?
                {
                    write_value(&dir.join("pids.max"), r.processes)?;
                }
                if let Some(dir) = cpu.as_ref().map(|p| p.join(&self.name))
                    && made(&dir)?
                {
                    write_value(&dir.join("cpu.cfs_period_us"), CPU_PERIOD_MICROS)?;
                    write_value(&dir.join("cpu.cfs_quota_us"), cpu_quota(r))?;
                }
            }
        }
        Ok(())
    }

    /// Handles to write to, between fork and exec, to join the group.
    pub(crate) fn join_handles(&self) -> io::Result<Vec<File>> {
        self.ensure()?;
        self.dirs()
            .iter()
            .map(|d| OpenOptions::new().write(true).open(d.join("cgroup.procs")))
            .collect()
    }

    pub(crate) fn counters(&self) -> LimitCounters {
        let field = |file: Option<PathBuf>, key: &str| -> u64 {
            file.and_then(|f| std::fs::read_to_string(f).ok())
                .and_then(|text| {
                    text.lines().find_map(|l| {
                        let (k, v) = l.split_once(' ')?;
                        (k == key).then(|| v.trim().parse().ok()).flatten()
                    })
                })
                .unwrap_or(0)
        };
        let memory_events = match self.layout {
            Layout::V2 { .. } => "memory.events",
            Layout::V1 { .. } => "memory.oom_control",
        };
        LimitCounters {
            oom_kills: field(self.memory_dir().map(|d| d.join(memory_events)), "oom_kill"),
            process_limit_hits: field(self.pids_dir().map(|d| d.join("pids.events")), "max"),
        }
    }

    /// The limits hit between two readings of the counters.
    pub(crate) fn hits(&self, before: LimitCounters, after: LimitCounters) -> Vec<LimitHit> {
        let mut hits = Vec::new();
        if after.oom_kills > before.oom_kills {
            hits.push(LimitHit::Memory {
                limit_bytes: self.resources.memory_bytes,
            });
        }
        if after.process_limit_hits > before.process_limit_hits {
            hits.push(LimitHit::Processes {
                limit: self.resources.processes,
            });
        }
        hits
    }
}

impl Drop for SessionCgroup {
    fn drop(&mut self) {
        let dirs = self.dirs();
        // Removal may wait for killed processes to leave: not on the async runtime.
        std::thread::spawn(move || {
            for dir in dirs {
                remove_group(&dir);
            }
        });
    }
}

#[cfg(test)]
mod tests;
