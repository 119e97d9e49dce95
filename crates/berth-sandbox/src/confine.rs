//! The file tools' view of a sandbox: exactly what its commands see, with its user's
//! permissions.
//!
//! File tools (`read`, `write`, `edit`, `glob`, `grep`) run in the server, not as commands, so
//! that they are fast and their output is shaped by the server. Run as the server's user, they
//! would see what the sandbox's user cannot (root-only files in the system directories). So
//! when the server is root, each sandbox keeps a *holder*: a process started exactly like a
//! command (same bubblewrap mounts, same user) that only waits. Every file operation runs on a
//! thread of its own that enters the holder's mount namespace and root, then drops to the
//! sandbox's user (per thread, with raw system calls: the C library's `setresuid` would change
//! every thread of the server) before it touches a path. The kernel then resolves every path
//! in the sandbox's view and checks every access as the sandbox's user. The thread ends after
//! the one operation: it can never become root again, and it is never reused.
//!
//! A holder is replaced when what its view was built from changes: the extra mounts, or a
//! directory swapped on disk (a restored snapshot). It ends with its sandbox.
//!
//! Without root (or without bubblewrap) there is no separate user to become: the operation
//! runs on the server's directories with paths mapped as the sandbox sees them.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use tokio::io::AsyncBufReadExt;

use crate::paths::{Access, ExtraMount, OUTPUTS, PathError, Resolved, SandboxDirs, TMP, WORKSPACE};
use crate::{Isolation, Sandbox, SandboxError};

/// The holder prints a line once it runs (its mounts are then complete) and waits for its
/// standard input to close.
const HOLDER_SCRIPT: &str = "echo ready && read line";
/// A holder that is not ready after this long is given up (a bubblewrap start takes
/// milliseconds; this only bounds a stuck one).
const HOLDER_START_TIMEOUT: Duration = Duration::from_secs(10);
/// Files the tools make are readable by others (as under a usual umask): the sandbox's user
/// owns them anyway.
const FILE_TOOL_UMASK: u32 = 0o022;

/// Paths as a file operation sees them.
pub struct FileView {
    dirs: SandboxDirs,
    owner: Option<(u32, u32)>,
}

impl FileView {
    /// Resolves `path` (absolute, or relative to `/workspace`) as the sandbox would, to the
    /// path this operation opens.
    pub fn resolve(&self, path: &str, access: Access) -> Result<Resolved, PathError> {
        self.dirs.resolve(path, access)
    }

    /// How the sandbox names a path this operation found.
    pub fn shown(&self, path: &Path) -> String {
        self.dirs
            .to_sandbox(path)
            .unwrap_or_else(|| path.display().to_string())
    }

    /// The user new files must be given to (uid, gid), when the operation does not already
    /// run as the sandbox's user.
    pub fn owner(&self) -> Option<(u32, u32)> {
        self.owner
    }
}

impl SandboxDirs {
    /// The same directories as named inside the sandbox's own view.
    fn inside(&self) -> SandboxDirs {
        SandboxDirs {
            root: PathBuf::from("/"),
            workspace: PathBuf::from(WORKSPACE),
            outputs: PathBuf::from(OUTPUTS),
            tmp: PathBuf::from(TMP),
            hidden: self.hidden.clone(),
            extra: self
                .extra
                .iter()
                .map(|m| ExtraMount {
                    sandbox: m.sandbox.clone(),
                    host: PathBuf::from(&m.sandbox),
                    writable: m.writable,
                })
                .collect(),
        }
    }
}

/// What a holder's view was built from.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ViewKey {
    extra: Vec<ExtraMount>,
    /// (device, inode) of every bound directory, so a directory replaced on disk is noticed.
    inodes: Vec<Option<(u64, u64)>>,
}

impl ViewKey {
    fn of(dirs: &SandboxDirs) -> Self {
        let inode = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
        let mut inodes: Vec<Option<(u64, u64)>> =
            dirs.mounts().iter().map(|(_, host)| inode(host)).collect();
        inodes.extend(dirs.extra.iter().map(|m| inode(&m.host)));
        Self {
            extra: dirs.extra.clone(),
            inodes,
        }
    }
}

/// A process holding a sandbox's mount namespace open for file operations.
pub(crate) struct Holder {
    child: tokio::process::Child,
    /// Closing it ends the holder (as does dropping `child`, which kills it).
    _stdin: tokio::process::ChildStdin,
    namespace: File,
    root: File,
    key: ViewKey,
}

impl Holder {
    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn handles(&self) -> Result<(File, File), SandboxError> {
        let copy = |f: &File| {
            f.try_clone()
                .map_err(|e| SandboxError::Setup(format!("the sandbox's view: {e}")))
        };
        Ok((copy(&self.namespace)?, copy(&self.root)?))
    }
}

impl Sandbox {
    /// Runs `work` on the sandbox's files: in its view and as its user when the server is
    /// root (see the module's documentation), otherwise on its directories as mapped by
    /// [`SandboxDirs::resolve`]. Blocking file work is welcome in `work`: it never runs on the
    /// async runtime.
    pub async fn with_files<T, F>(&self, work: F) -> Result<T, SandboxError>
    where
        F: FnOnce(&FileView) -> T + Send + 'static,
        T: Send + 'static,
    {
        let _busy = self.busy_guard();
        let dirs = self.dirs();
        match (&self.isolation, self.identity) {
            (Isolation::Bubblewrap(bwrap), Some((uid, gid))) => {
                let (namespace, root) = self.view_handles(bwrap, &dirs).await?;
                let view = FileView {
                    dirs: dirs.inside(),
                    owner: None,
                };
                run_inside(namespace, root, uid.as_raw(), gid.as_raw(), move || {
                    work(&view)
                })
                .await
            }
            _ => {
                let view = FileView {
                    dirs,
                    owner: self.owner(),
                };
                tokio::task::spawn_blocking(move || work(&view))
                    .await
                    .map_err(|e| SandboxError::Setup(format!("the file operation failed: {e}")))
            }
        }
    }

    /// Handles to the namespace and root of a holder whose view matches `dirs`, starting one
    /// if needed.
    async fn view_handles(
        &self,
        bwrap: &Path,
        dirs: &SandboxDirs,
    ) -> Result<(File, File), SandboxError> {
        let key = ViewKey::of(dirs);
        let mut holder = self.holder.lock().await;
        if let Some(current) = holder.as_mut()
            && current.key == key
            && current.alive()
        {
            return current.handles();
        }
        // The old holder (if any) is killed as it drops.
        *holder = None;
        let fresh = self.start_holder(bwrap, dirs, key).await?;
        let handles = fresh.handles()?;
        *holder = Some(fresh);
        Ok(handles)
    }

    async fn start_holder(
        &self,
        bwrap: &Path,
        dirs: &SandboxDirs,
        key: ViewKey,
    ) -> Result<Holder, SandboxError> {
        let setup = |what: &str, e: &dyn std::fmt::Display| {
            SandboxError::Setup(format!("the sandbox's file view: {what}: {e}"))
        };
        let (info_read, info_write) = std::io::pipe().map_err(|e| setup("pipe", &e))?;
        let mut child = {
            let mut command = self.sandboxed_command(
                bwrap,
                dirs,
                HOLDER_SCRIPT,
                Some(File::from(OwnedFd::from(info_write))),
                self.limits,
            )?;
            command
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0)
                .kill_on_drop(true);
            command.spawn().map_err(|e| setup("start", &e))?
            // The command (holding our copy of the info pipe's write end) drops here, so the
            // read below ends when bubblewrap has written its report.
        };
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(setup("start", &"no standard streams"));
        };
        let started = async {
            let info = tokio::task::spawn_blocking(move || {
                let mut text = String::new();
                (&info_read).read_to_string(&mut text).map(|_| text)
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
            let pid = child_pid(&info).ok_or_else(|| format!("no process id in {info:?}"))?;
            let mut ready = String::new();
            tokio::io::BufReader::new(stdout)
                .read_line(&mut ready)
                .await
                .map_err(|e| e.to_string())?;
            if ready.trim() != "ready" {
                return Err("the holder did not start".to_owned());
            }
            Ok(pid)
        };
        let pid = match tokio::time::timeout(HOLDER_START_TIMEOUT, started).await {
            Ok(Ok(pid)) => pid,
            failed => {
                let _ = child.start_kill();
                let mut said = String::new();
                let _ = tokio::time::timeout(
                    Duration::from_secs(1),
                    tokio::io::AsyncReadExt::read_to_string(
                        &mut tokio::io::BufReader::new(stderr),
                        &mut said,
                    ),
                )
                .await;
                let reason = match failed {
                    Ok(Err(reason)) => reason,
                    _ => "timed out".to_owned(),
                };
                return Err(setup("start", &format!("{reason} {}", said.trim())));
            }
        };
        let open =
            |what: &str| File::open(format!("/proc/{pid}/{what}")).map_err(|e| setup(what, &e));
        Ok(Holder {
            namespace: open("ns/mnt")?,
            root: open("root")?,
            child,
            _stdin: stdin,
            key,
        })
    }
}

/// The process id in bubblewrap's `--info-fd` report (`{"child-pid": 1234}`).
fn child_pid(info: &str) -> Option<u32> {
    let after = info.split_once("\"child-pid\"")?.1;
    let digits: String = after
        .trim_start_matches(|c: char| c == ':' || c.is_whitespace())
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok().filter(|pid| *pid > 0)
}

/// Runs `work` on a fresh thread that has entered the view and become the sandbox's user.
async fn run_inside<T: Send + 'static>(
    namespace: File,
    root: File,
    uid: u32,
    gid: u32,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, SandboxError> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("berth-sandbox-files".into())
        .spawn(move || {
            let result = enter(&namespace, &root, uid, gid).map(|()| work());
            let _ = sender.send(result);
            // The thread ends here: it is the sandbox's user now and must never be reused.
        })
        .map_err(|e| SandboxError::Setup(format!("cannot start a file operation: {e}")))?;
    receiver
        .await
        .map_err(|_| SandboxError::Setup("the file operation ended without a result".into()))?
        .map_err(|e| SandboxError::Setup(format!("cannot enter the sandbox's view: {e}")))
}

/// Moves the calling thread (only) into the view and makes it the sandbox's user.
#[allow(unsafe_code)]
fn enter(namespace: &File, root: &File, uid: u32, gid: u32) -> std::io::Result<()> {
    // The thread's root and working directory are shared with the whole process until it
    // takes its own copy; only then may it change namespace.
    nix::sched::unshare(CloneFlags::CLONE_FS)?;
    nix::sched::setns(namespace, CloneFlags::CLONE_NEWNS)?;
    nix::unistd::fchdir(root.as_raw_fd())?;
    nix::unistd::chroot(".")?;
    nix::unistd::chdir("/")?;
    nix::sys::stat::umask(Mode::from_bits_truncate(FILE_TOOL_UMASK));
    let check = |rc: libc::c_long| {
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    // SAFETY: raw system calls with integer arguments (and a null list for no groups); the
    // raw calls change the calling thread's credentials only, unlike the C library's
    // wrappers, which change every thread of the process.
    unsafe {
        check(libc::syscall(
            libc::SYS_setgroups,
            0 as libc::c_long,
            std::ptr::null::<libc::gid_t>(),
        ))?;
        check(libc::syscall(
            libc::SYS_setresgid,
            libc::c_long::from(gid),
            libc::c_long::from(gid),
            libc::c_long::from(gid),
        ))?;
        check(libc::syscall(
            libc::SYS_setresuid,
            libc::c_long::from(uid),
            libc::c_long::from(uid),
            libc::c_long::from(uid),
        ))?;
    }
    // Belt and braces: never touch a file unless the switch really happened.
    let (real, effective) = (nix::unistd::getuid(), nix::unistd::geteuid());
    if real.as_raw() != uid || effective.as_raw() != uid {
        return Err(std::io::Error::other(
            "the thread did not become the sandbox's user",
        ));
    }
    Ok(())
}

/// Whether `e` means the path is on a read-only mount of the sandbox.
pub fn is_read_only(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::EROFS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bubblewrap_reports_are_read_for_the_child_pid() {
        assert_eq!(child_pid("{\n    \"child-pid\": 4242\n}\n"), Some(4242));
        assert_eq!(child_pid("{\"child-pid\":7}"), Some(7));
        assert_eq!(child_pid("{}"), None);
        assert_eq!(child_pid("{\"child-pid\": 0}"), None);
    }

    #[test]
    fn inside_names_are_the_sandbox_paths() {
        let mut dirs = SandboxDirs::new(PathBuf::from("/data/sandboxes/s"), Vec::new());
        dirs.extra = vec![ExtraMount {
            sandbox: "/mnt/session/uploads".into(),
            host: PathBuf::from("/data/sandboxes/s/uploads"),
            writable: false,
        }];
        let inside = dirs.inside();
        let shown = |p: &str| inside.to_sandbox(Path::new(p));
        assert_eq!(
            shown("/workspace/a.txt").as_deref(),
            Some("/workspace/a.txt")
        );
        assert_eq!(
            shown("/mnt/session/uploads/f").as_deref(),
            Some("/mnt/session/uploads/f")
        );
        assert_eq!(inside.extra[0].host, PathBuf::from("/mnt/session/uploads"));
    }
}
