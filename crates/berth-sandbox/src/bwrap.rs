//! The bubblewrap command line of a sandboxed command.
//!
//! The sandbox sees the host's system directories read-only, its own `/workspace`,
//! `/mnt/session/outputs` and `/tmp` (bound from open directory handles, so the server's data
//! directory need not be reachable by the sandbox's user), fresh `/proc` and `/dev`, and
//! nothing else: no home directories, no data directory, no other session.

use std::ffi::OsString;
use std::os::fd::RawFd;
use std::path::Path;

use crate::paths::{ExtraMount, OUTPUTS, SYSTEM_DIRS, TMP, WORKSPACE};
use berth_egress::{SANDBOX_CA_BUNDLE, SANDBOX_CA_CERT, SYSTEM_CA_BUNDLE};

/// Drops to the sandbox's user inside the sandbox (util-linux, on every Debian-like system).
pub(crate) const SETPRIV: &str = "/usr/bin/setpriv";

/// The open directory handles bound into the sandbox.
pub(crate) struct MountFds {
    pub workspace: RawFd,
    pub outputs: RawFd,
    pub tmp: RawFd,
}

/// The host files of the CA a sandbox trusts.
pub(crate) struct TrustFiles<'a> {
    /// The system bundle with the CA appended.
    pub bundle: &'a Path,
    pub ca_cert: &'a Path,
}

pub(crate) struct Plan<'a> {
    pub mounts: MountFds,
    /// Host paths inside the system directories to hide (the data directory, if it is there).
    pub hidden: &'a [std::path::PathBuf],
    pub extra: &'a [ExtraMount],
    /// Whether the command joins a namespace of ours; otherwise bubblewrap makes an empty one.
    pub own_network: bool,
    /// The interception CA, when the sandbox's proxy may intercept.
    pub trust: Option<TrustFiles<'a>>,
    /// When the server runs as root: bubblewrap sets up as root, then `setpriv` becomes this
    /// user (uid, gid) with no capabilities before the command starts. Otherwise bubblewrap
    /// runs unprivileged in a user namespace of its own.
    pub run_as: Option<(u32, u32)>,
    /// Where bubblewrap writes `{"child-pid": …}` once the sandbox's process exists.
    pub info_fd: Option<RawFd>,
    /// Where bubblewrap reads the system-call filter it installs before the command starts.
    pub seccomp_fd: RawFd,
    pub command: &'a str,
}

pub(crate) fn arguments(plan: &Plan<'_>) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::with_capacity(64);
    if plan.run_as.is_none() {
        push(&mut args, &["--unshare-user", "--disable-userns"]);
    }
    push(
        &mut args,
        &[
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--die-with-parent",
            "--new-session",
            "--hostname",
            "sandbox",
        ],
    );
    if !plan.own_network {
        push(&mut args, &["--unshare-net"]);
    }
    for dir in SYSTEM_DIRS {
        let Ok(meta) = std::fs::symlink_metadata(dir) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            if let Ok(target) = std::fs::read_link(dir) {
                args.extend([
                    OsString::from("--symlink"),
                    target.into_os_string(),
                    OsString::from(dir),
                ]);
            }
        } else if meta.is_dir() {
            push(&mut args, &["--ro-bind", dir, dir]);
        }
    }
    for hidden in plan.hidden {
        if SYSTEM_DIRS.iter().any(|d| hidden.starts_with(Path::new(d))) && hidden.exists() {
            args.extend([OsString::from("--tmpfs"), hidden.clone().into_os_string()]);
        }
    }
    push(&mut args, &["--proc", "/proc", "--dev", "/dev"]);
    if let Some(trust) = &plan.trust {
        trust_arguments(&mut args, trust);
    }
    // Parents of the mount points, readable by the sandbox's user.
    push(
        &mut args,
        &[
            "--perms",
            "0755",
            "--dir",
            "/mnt",
            "--perms",
            "0755",
            "--dir",
            "/mnt/session",
        ],
    );
    for (fd, dest) in [
        (plan.mounts.workspace, WORKSPACE),
        (plan.mounts.outputs, OUTPUTS),
        (plan.mounts.tmp, TMP),
    ] {
        args.extend([
            OsString::from("--bind-fd"),
            OsString::from(fd.to_string()),
            OsString::from(dest),
        ]);
    }
    for mount in plan.extra.iter().rev().filter(|m| m.host.exists()) {
        // Parents of the mount point, readable by the sandbox's user.
        let mut parent = String::new();
        let parts: Vec<&str> = mount.sandbox.split('/').filter(|p| !p.is_empty()).collect();
        for part in parts.iter().take(parts.len().saturating_sub(1)) {
            parent.push('/');
            parent.push_str(part);
            push(&mut args, &["--perms", "0755", "--dir", &parent]);
        }
        args.extend([
            OsString::from(if mount.writable {
                "--bind"
            } else {
                "--ro-bind"
            }),
            mount.host.clone().into_os_string(),
            OsString::from(&mount.sandbox),
        ]);
    }
    args.extend([
        OsString::from("--add-seccomp-fd"),
        OsString::from(plan.seccomp_fd.to_string()),
    ]);
    if let Some(fd) = plan.info_fd {
        args.extend([OsString::from("--info-fd"), OsString::from(fd.to_string())]);
    }
    push(&mut args, &["--chdir", WORKSPACE, "--"]);
    if let Some((uid, gid)) = plan.run_as {
        let (uid, gid) = (uid.to_string(), gid.to_string());
        push(
            &mut args,
            &[
                SETPRIV,
                "--reuid",
                &uid,
                "--regid",
                &gid,
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--no-new-privs",
                "--",
            ],
        );
    }
    push(&mut args, &["/bin/sh", "-c", plan.command]);
    args
}

/// Binds the CA files under `/run/berth` (outside the read-only system directories, so the
/// mount points are made in the sandbox's own root) and over the system bundle, which exists
/// already, so nothing on the host changes.
fn trust_arguments(args: &mut Vec<OsString>, trust: &TrustFiles<'_>) {
    let dir = Path::new(SANDBOX_CA_BUNDLE)
        .parent()
        .and_then(Path::to_str)
        .unwrap_or("/run/berth");
    push(
        args,
        &[
            "--perms", "0755", "--dir", "/run", "--perms", "0755", "--dir", dir,
        ],
    );
    let mut bind = |host: &Path, sandbox: &str| {
        args.extend([
            OsString::from("--ro-bind"),
            host.as_os_str().to_owned(),
            OsString::from(sandbox),
        ]);
    };
    bind(trust.bundle, SANDBOX_CA_BUNDLE);
    bind(trust.ca_cert, SANDBOX_CA_CERT);
    let system_bundle_is_file =
        std::fs::symlink_metadata(SYSTEM_CA_BUNDLE).is_ok_and(|m| m.file_type().is_file());
    if system_bundle_is_file {
        bind(trust.bundle, SYSTEM_CA_BUNDLE);
    }
}

fn push(args: &mut Vec<OsString>, items: &[&str]) {
    args.extend(items.iter().map(OsString::from));
}
