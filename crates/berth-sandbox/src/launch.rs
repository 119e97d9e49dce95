//! Starting one process in a sandbox: its environment (placeholders, proxy, CA bundle), the
//! bubblewrap command line, and what the child does between fork and exec (enter the
//! namespace, take on the limits). Commands ([`Sandbox::exec`]) and the file view's holder
//! ([`crate::confine`]) start the same way, so both see exactly the same sandbox.

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::process::Stdio;

use tokio_util::sync::CancellationToken;

use crate::cgroups::LimitHit;
use crate::netns::PROXY_PORT;
use crate::{
    ExecRequest, ExecResult, Isolation, Limits, SANDBOX_CA_BUNDLE, SANDBOX_CA_CERT, Sandbox,
    SandboxDirs, SandboxError, bwrap, disk, exec, paths,
};

/// Descriptors a sandboxed process is started with besides its standard streams.
pub(crate) struct Inherited {
    mounts: MountHandles,
    /// Where bubblewrap reports the sandbox's process id (`--info-fd`).
    pub info: Option<File>,
    /// The system-call filter (see [`crate::seccomp`]).
    seccomp: File,
    /// `cgroup.procs` of the sandbox's control groups, written to join them.
    cgroups: Vec<File>,
}

impl Inherited {
    fn raw(&self) -> Vec<RawFd> {
        let mut fds = self.mounts.raw_all();
        fds.extend(self.info.as_ref().map(AsRawFd::as_raw_fd));
        fds.push(self.seccomp.as_raw_fd());
        fds
    }
}

impl Sandbox {
    /// The environment every command starts with: the secrets' placeholders first, so none
    /// can replace a variable of the sandbox's own.
    fn base_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .secrets
            .current()
            .iter()
            .map(|s| (s.env_name.clone(), s.placeholder.clone()))
            .collect();
        env.extend([
            (
                "PATH".to_owned(),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
            ),
            ("HOME".to_owned(), paths::WORKSPACE.to_owned()),
            ("LANG".to_owned(), "C.UTF-8".to_owned()),
            ("TERM".to_owned(), "dumb".to_owned()),
            ("TMPDIR".to_owned(), paths::TMP.to_owned()),
        ]);
        if self.trust.is_some() {
            for name in ["SSL_CERT_FILE", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE"] {
                env.push((name.to_owned(), SANDBOX_CA_BUNDLE.to_owned()));
            }
            // Node adds these to its own built-in roots.
            env.push(("NODE_EXTRA_CA_CERTS".to_owned(), SANDBOX_CA_CERT.to_owned()));
        }
        if self.network.is_some() {
            let proxy = format!("http://127.0.0.1:{PROXY_PORT}");
            for name in [
                "HTTP_PROXY",
                "HTTPS_PROXY",
                "http_proxy",
                "https_proxy",
                "ALL_PROXY",
                "all_proxy",
            ] {
                env.push((name.to_owned(), proxy.clone()));
            }
            env.push(("NO_PROXY".to_owned(), "localhost,127.0.0.1".to_owned()));
            env.push(("no_proxy".to_owned(), "localhost,127.0.0.1".to_owned()));
        }
        env
    }

    /// Runs one command; returns when it has ended one way or another.
    pub async fn exec(
        &self,
        request: &ExecRequest,
        cancel: &CancellationToken,
    ) -> Result<ExecResult, SandboxError> {
        let _busy = self.busy_guard();
        self.exec_inner(request, cancel).await
    }

    async fn exec_inner(
        &self,
        request: &ExecRequest,
        cancel: &CancellationToken,
    ) -> Result<ExecResult, SandboxError> {
        let spawn_error = |e: std::io::Error| SandboxError::Spawn(e.to_string());
        let dirs = self.dirs();
        let mut limits = self.limits;
        if let Some(disk) = request.disk {
            // No single file may take more than the room left.
            limits.file_size_bytes = limits.file_size_bytes.min(disk.remaining());
        }
        let counters = self.cgroup.as_ref().map(|c| c.counters());
        let (reader, writer) = std::io::pipe().map_err(spawn_error)?;
        let writer_err = writer.try_clone().map_err(spawn_error)?;
        let child = {
            let mut command = match &self.isolation {
                Isolation::Unsafe => {
                    let mut c = tokio::process::Command::new("/bin/sh");
                    c.arg("-c")
                        .arg(&request.command)
                        .current_dir(&dirs.workspace);
                    c
                }
                Isolation::Bubblewrap(bwrap) => {
                    self.sandboxed_command(bwrap, &dirs, &request.command, None, limits)?
                }
            };
            command
                .env_clear()
                .envs(self.base_env())
                .envs(request.env.iter().cloned())
                .stdin(Stdio::null())
                .stdout(Stdio::from(writer))
                .stderr(Stdio::from(writer_err))
                .process_group(0)
                .kill_on_drop(true);
            command.spawn().map_err(spawn_error)?
            // `command` (holding the pipe's write ends and the mount handles) drops here, so
            // the output reaches end-of-file when the sandbox's processes are gone.
        };
        let over_quota = watch_disk(dirs.clone(), request.disk.map(|d| d.limit_bytes));
        let mut result = exec::supervise(
            child,
            OwnedFd::from(reader),
            request.timeout,
            cancel,
            over_quota,
        )
        .await?;
        if let (Some(cgroup), Some(before)) = (&self.cgroup, counters) {
            result.limits_hit = cgroup.hits(before, cgroup.counters());
        }
        if let Some(disk) = request.disk {
            let stopped = result.ended == exec::Ended::DiskQuota;
            // A write past the file-size limit kills the writer with SIGXFSZ.
            let file_limit_hit = disk.remaining() < self.limits.file_size_bytes
                && result.output_text().contains("File size limit exceeded");
            if stopped || file_limit_hit {
                result.limits_hit.push(LimitHit::Disk {
                    limit_bytes: disk.limit_bytes,
                });
            }
        }
        Ok(result)
    }

    /// The bytes the sandbox's own files take on disk (see [`crate::disk`]).
    pub async fn disk_usage(&self) -> Result<u64, SandboxError> {
        let dirs = self.dirs();
        tokio::task::spawn_blocking(move || disk::usage(&dirs))
            .await
            .map_err(|e| SandboxError::Setup(format!("measuring the sandbox's files: {e}")))
    }

    /// A bubblewrap command running `script` in the sandbox, as its user, with its mounts,
    /// network and limits. `info` receives bubblewrap's report of the sandbox's process id.
    pub(crate) fn sandboxed_command(
        &self,
        bwrap: &Path,
        dirs: &SandboxDirs,
        script: &str,
        info: Option<File>,
        limits: Limits,
    ) -> Result<tokio::process::Command, SandboxError> {
        let inherited = Inherited {
            mounts: MountHandles::open(dirs)?,
            info,
            seccomp: crate::seccomp::filter_pipe(&self.seccomp)
                .map_err(|e| SandboxError::Setup(format!("the system-call filter: {e}")))?,
            cgroups: match &self.cgroup {
                Some(group) => group
                    .join_handles()
                    .map_err(|e| SandboxError::Setup(format!("the control group: {e}")))?,
                None => Vec::new(),
            },
        };
        let plan = bwrap::Plan {
            mounts: inherited.mounts.raw(),
            hidden: &dirs.hidden,
            extra: &dirs.extra,
            own_network: self.network.is_some(),
            trust: self.trust.as_ref().map(|t| bwrap::TrustFiles {
                bundle: &t.bundle,
                ca_cert: &t.ca_cert,
            }),
            run_as: self.identity.map(|(u, g)| (u.as_raw(), g.as_raw())),
            info_fd: inherited.info.as_ref().map(AsRawFd::as_raw_fd),
            seccomp_fd: inherited.seccomp.as_raw_fd(),
            command: script,
        };
        let mut command = tokio::process::Command::new(bwrap);
        command.args(bwrap::arguments(&plan));
        command.env_clear().envs(self.base_env());
        self.prepare_child(&mut command, inherited, limits);
        Ok(command)
    }

    /// What the child does between fork and exec: make the inherited handles inheritable,
    /// enter the namespace, take on the limits (bubblewrap and `setpriv` do the rest).
    #[allow(unsafe_code)]
    fn prepare_child(
        &self,
        command: &mut tokio::process::Command,
        inherited: Inherited,
        limits: Limits,
    ) {
        let namespace = self
            .network
            .as_ref()
            .and_then(|n| n.handle().try_clone().ok());
        let per_session_user = self.identity.is_some();
        let fds = inherited.raw();
        let setup = move || -> std::io::Result<()> {
            // The closure owns the handles, so they stay open until the child has started.
            let _held = &inherited;
            for fd in &fds {
                nix::fcntl::fcntl(
                    *fd,
                    nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
                )?;
            }
            // Joining a group is writing `0` (this process) to its `cgroup.procs`.
            for group in &inherited.cgroups {
                std::io::Write::write_all(&mut &*group, b"0")?;
            }
            if let Some(ns) = &namespace {
                nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)?;
            }
            // The process limit counts per user: it binds once `setpriv` has switched to the
            // session's own user (root is exempt).
            limits.apply(per_session_user)?;
            Ok(())
        };
        // SAFETY: the closure runs in the forked child before exec and makes only system calls
        // (fcntl, write, setns, setrlimit) on values prepared beforehand (the descriptor list
        // is built before the fork); it allocates nothing and takes no locks.
        unsafe {
            command.pre_exec(setup);
        }
    }
}

/// Open handles to a sandbox's directories, bound into it by bubblewrap.
struct MountHandles {
    workspace: File,
    outputs: File,
    tmp: File,
}

impl MountHandles {
    fn open(dirs: &SandboxDirs) -> Result<Self, SandboxError> {
        let open = |p: &Path| {
            File::open(p).map_err(|e| SandboxError::Setup(format!("{}: {e}", p.display())))
        };
        Ok(Self {
            workspace: open(&dirs.workspace)?,
            outputs: open(&dirs.outputs)?,
            tmp: open(&dirs.tmp)?,
        })
    }

    fn raw(&self) -> bwrap::MountFds {
        bwrap::MountFds {
            workspace: self.workspace.as_raw_fd(),
            outputs: self.outputs.as_raw_fd(),
            tmp: self.tmp.as_raw_fd(),
        }
    }

    fn raw_all(&self) -> Vec<RawFd> {
        vec![
            self.workspace.as_raw_fd(),
            self.outputs.as_raw_fd(),
            self.tmp.as_raw_fd(),
        ]
    }
}

/// Resolves once the sandbox's files take more than `limit` (never without a limit),
/// measuring as often as their size allows.
async fn watch_disk(dirs: SandboxDirs, limit: Option<u64>) {
    let Some(limit) = limit else {
        return std::future::pending().await;
    };
    let mut interval = disk::MIN_POLL_INTERVAL;
    loop {
        tokio::time::sleep(interval).await;
        let dirs = dirs.clone();
        let measured = tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            (disk::usage(&dirs), started.elapsed())
        })
        .await;
        let Ok((used, took)) = measured else {
            return std::future::pending().await;
        };
        if used > limit {
            return;
        }
        interval = disk::poll_interval(took);
    }
}
