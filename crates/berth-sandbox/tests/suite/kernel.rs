//! The kernel's attack surface from inside a sandbox: no nested user namespaces, no mounts,
//! and every system call of the filter's deny list failing with `EPERM`.

use berth_sandbox::HostRules;

use crate::{fixture, open, run};

/// A Python probe calling each system call with zero arguments (harmless whatever happens:
/// null pointers and zero flags), printing `name errno`.
fn probe_script(calls: &[(&str, i64)]) -> String {
    let list = calls
        .iter()
        .map(|(name, nr)| format!("(\"{name}\", {nr})"))
        .collect::<Vec<_>>()
        .join(", ");
    [
        "python3 - <<'EOF'",
        "import ctypes",
        "libc = ctypes.CDLL(None, use_errno=True)",
        "libc.syscall.restype = ctypes.c_long",
        &format!("for name, nr in [{list}]:"),
        "    ctypes.set_errno(0)",
        "    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(0)] * 6)",
        "    print(name, ctypes.get_errno() if r == -1 else 'ok')",
        "EOF",
    ]
    .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_mounts_and_kernel_interfaces_are_refused() {
    let f = fixture();
    let sandbox = open(&f, "sesn_kernel", HostRules::Only(vec![]));
    let (_, out, _) = run(&sandbox, "grep '^Seccomp:' /proc/self/status", 10).await;
    assert_eq!(out.trim(), "Seccomp:\t2", "a filter is installed");
    for attempt in [
        "unshare -Ur true",
        "unshare -U true",
        "unshare -m true",
        "unshare -n true",
        "mkdir -p /tmp/m && mount -t tmpfs none /tmp/m",
    ] {
        let (code, out, _) = run(&sandbox, attempt, 10).await;
        assert_ne!(code, 0, "{attempt} must fail: {out}");
    }
    let denied = berth_sandbox::seccomp::denied_calls();
    let (code, out, _) = run(&sandbox, &probe_script(&denied), 30).await;
    assert_eq!(code, 0, "{out}");
    let eperm = libc::EPERM.to_string();
    for (name, _) in &denied {
        let line = out
            .lines()
            .find(|l| l.split(' ').next() == Some(*name))
            .unwrap_or_else(|| panic!("no result for {name}: {out}"));
        assert_eq!(line, format!("{name} {eperm}"), "{name} is denied");
    }
    // Ordinary processes and threads still work.
    let (code, out, _) = run(
        &sandbox,
        "python3 -c 'import threading, os; t = threading.Thread(target=print, args=(\"thread\",)); t.start(); t.join(); pid = os.fork()\nif pid == 0: os._exit(7)\nprint(os.waitpid(pid, 0)[1] >> 8)'",
        10,
    )
    .await;
    assert_eq!((code, out.as_str()), (0, "thread\n7\n"));
}

#[cfg(target_arch = "x86_64")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_abis_are_refused() {
    let f = fixture();
    let sandbox = open(&f, "sesn_x32", HostRules::Only(vec![]));
    let getpid_x32 = 0x4000_0000_i64 | libc::SYS_getpid;
    let (code, out, _) = run(&sandbox, &probe_script(&[("getpid_x32", getpid_x32)]), 10).await;
    assert_eq!(
        (code, out.trim()),
        (0, format!("getpid_x32 {}", libc::ENOSYS).as_str())
    );
}
