//! The sandbox from the outside: real bubblewrap, real namespaces, real processes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;

use std::sync::Arc;
use std::time::Duration;

use berth_sandbox::{
    Ended, ExecRequest, HostRules, Isolation, NetworkAccess, SANDBOX_UIDS, Sandbox,
    SandboxSettings, Sandboxes, find_bubblewrap,
};
use tokio_util::sync::CancellationToken;

struct Fixture {
    sandboxes: Sandboxes,
    _root: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let root = tempfile::tempdir().unwrap();
    let bwrap = find_bubblewrap().expect("bubblewrap is installed (apt-get install bubblewrap)");
    let mut settings =
        SandboxSettings::new(root.path().join("sandboxes"), Isolation::Bubblewrap(bwrap));
    settings.hidden = vec![root.path().to_owned()];
    settings.limits.cpu_seconds = 20;
    settings.limits.processes = 64;
    Fixture {
        sandboxes: Sandboxes::new(settings),
        _root: root,
    }
}

/// A sandbox user of its own for each sandbox a test opens: test processes run side by side,
/// so the start depends on the process.
fn fresh_uid() -> u32 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let span = SANDBOX_UIDS.end - SANDBOX_UIDS.start;
    let offset = std::process::id().wrapping_mul(7919) % (span / 2);
    SANDBOX_UIDS.start + offset + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn open(f: &Fixture, session: &str, hosts: HostRules) -> Arc<Sandbox> {
    f.sandboxes
        .open(session, fresh_uid(), NetworkAccess::Proxied(hosts))
        .unwrap()
}

async fn run(sandbox: &Sandbox, command: &str, timeout_secs: u64) -> (i32, String, Ended) {
    let request = ExecRequest {
        command: command.to_owned(),
        timeout: Duration::from_secs(timeout_secs),
        env: Vec::new(),
        disk: None,
    };
    let result = sandbox
        .exec(&request, &CancellationToken::new())
        .await
        .unwrap();
    (result.exit_code, result.output_text(), result.ended)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_run_in_the_workspace_and_files_persist() {
    let f = fixture();
    let sandbox = open(&f, "sesn_a", HostRules::Only(vec![]));
    let (code, out, _) = run(
        &sandbox,
        "pwd; echo hello > note.txt; echo err >&2; exit 3",
        10,
    )
    .await;
    assert_eq!(code, 3);
    assert_eq!(out, "/workspace\nerr\n");
    assert_eq!(
        std::fs::read_to_string(sandbox.dirs().workspace.join("note.txt")).unwrap(),
        "hello\n"
    );
    let (code, out, _) = run(
        &sandbox,
        "cat note.txt; echo x > /tmp/t; echo y > /mnt/session/outputs/o",
        10,
    )
    .await;
    assert_eq!((code, out.as_str()), (0, "hello\n"));
    let (_, out, _) = run(&sandbox, "cat /tmp/t", 10).await;
    assert_eq!(out, "x\n", "/tmp persists between commands of a session");
    let (code, _, _) = run(&sandbox, "touch /usr/evil", 10).await;
    assert_ne!(code, 0, "system directories are read-only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_sees_nothing_of_the_host_or_other_sessions() {
    let f = fixture();
    let one = open(&f, "sesn_one", HostRules::Only(vec![]));
    let two = open(&f, "sesn_two", HostRules::Only(vec![]));
    run(&one, "echo private > mine.txt", 10).await;
    let other = one.dirs().workspace.join("mine.txt");
    let data_dir = f._root.path().display().to_string();
    for probe in [
        format!("cat {}", other.display()),
        format!("ls {data_dir}"),
        "ls /root".to_owned(),
        "ls /home".to_owned(),
        "cat /etc/shadow".to_owned(),
    ] {
        let (code, out, _) = run(&two, &probe, 10).await;
        assert_ne!(code, 0, "{probe} must fail: {out}");
        assert!(!out.contains("private"), "{probe}: {out}");
    }
    // The server's environment is not inherited.
    let (_, out, _) = run(&two, "env", 10).await;
    assert!(!out.contains("CARGO") && !out.contains("BERTH_"), "{out}");
    let (_, out, _) = run(&two, "ps -e -o pid= | wc -l; id -u", 10).await;
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].trim().parse::<u32>().unwrap() <= 4,
        "its own PID namespace: {out}"
    );
    assert_ne!(lines[1].trim(), "0", "not root");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runaway_commands_are_stopped_and_the_sandbox_stays_usable() {
    let f = fixture();
    let sandbox = open(&f, "sesn_runaway", HostRules::Only(vec![]));
    let (code, _, ended) = run(&sandbox, "sleep infinity", 1).await;
    assert_eq!(ended, Ended::TimedOut);
    assert_eq!(code, 137);

    // Background children die with the command.
    let (_, _, _) = run(
        &sandbox,
        "(sleep 1000 &) ; nohup sleep 1000 >/dev/null 2>&1 & echo started",
        5,
    )
    .await;
    let (_, out, _) = run(&sandbox, "ps -e -o comm= | grep -c sleep", 5).await;
    assert_eq!(out.trim(), "0", "nothing survives its command");

    let (_, out, ended) = run(&sandbox, "yes", 30).await;
    assert_eq!(ended, Ended::OutputLimit);
    assert!(out.contains("bytes of output omitted"));

    let (_, out, _) = run(&sandbox, ":(){ :|:& };: ; sleep 2; echo survived", 8).await;
    let _ = out;
    let (code, out, _) = run(&sandbox, "echo still here", 10).await;
    assert_eq!((code, out.as_str()), (0, "still here\n"));

    let cancel = CancellationToken::new();
    let request = ExecRequest {
        command: "sleep 30".into(),
        timeout: Duration::from_secs(60),
        env: vec![],
        disk: None,
    };
    let stopper = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stopper.cancel();
    });
    let result = sandbox.exec(&request, &cancel).await.unwrap();
    assert_eq!(result.ended, Ended::Interrupted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sandboxes_are_reaped_and_removal_deletes_files() {
    let root = tempfile::tempdir().unwrap();
    let mut settings = SandboxSettings::new(
        root.path().join("s"),
        Isolation::Bubblewrap(find_bubblewrap().unwrap()),
    );
    // Any sandbox not running a command counts as idle.
    settings.idle_ttl = Duration::ZERO;
    let sandboxes = Sandboxes::new(settings);
    let sandbox = sandboxes
        .open(
            "sesn_r",
            fresh_uid(),
            NetworkAccess::Proxied(HostRules::Any),
        )
        .unwrap();
    run(&sandbox, "echo x > f", 10).await;
    drop(sandbox);
    assert_eq!(sandboxes.reap_idle(), 1);
    assert_eq!(sandboxes.live_count(), 0);
    assert!(
        sandboxes.dirs("sesn_r").workspace.join("f").exists(),
        "files outlive the namespace"
    );
    sandboxes.remove("sesn_r");
    assert!(!sandboxes.dirs("sesn_r").root.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_bubblewrap_commands_fail_clearly() {
    let root = tempfile::tempdir().unwrap();
    let sandboxes = Sandboxes::new(SandboxSettings::new(
        root.path().into(),
        Isolation::Bubblewrap("/nonexistent/bwrap".into()),
    ));
    let err = sandboxes
        .open("s", fresh_uid(), NetworkAccess::Proxied(HostRules::Any))
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("bubblewrap is not installed"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_and_memory_limits_stop_greedy_commands() {
    let root = tempfile::tempdir().unwrap();
    let mut settings = SandboxSettings::new(
        root.path().join("s"),
        Isolation::Bubblewrap(find_bubblewrap().unwrap()),
    );
    settings.limits.cpu_seconds = 1;
    settings.limits.memory_bytes = 256 << 20;
    let sandboxes = Sandboxes::new(settings);
    let sandbox = sandboxes
        .open(
            "sesn_greedy",
            fresh_uid(),
            NetworkAccess::Proxied(HostRules::Any),
        )
        .unwrap();
    let (code, _, ended) = run(&sandbox, "while :; do :; done", 20).await;
    assert_eq!(
        ended,
        Ended::Exited,
        "stopped by the CPU limit, not the timeout"
    );
    assert_ne!(code, 0);
    let (code, out, _) = run(
        &sandbox,
        "awk 'BEGIN{s=sprintf(\"%*s\", 600000000, \"\"); print length(s)}'",
        20,
    )
    .await;
    assert_ne!(code, 0, "{out}");
    assert!(!out.contains("600000000"), "{out}");
}

mod session_limits {
    //! Limits on everything a session runs together (control groups), and its disk quota.

    use std::time::Duration;

    use berth_sandbox::{
        DiskAllowance, ExecRequest, HostRules, Isolation, LimitHit, NetworkAccess, SandboxSettings,
        Sandboxes, SessionResources, find_bubblewrap,
    };
    use tokio_util::sync::CancellationToken;

    const MEMORY: u64 = 96 << 20;

    fn limited() -> (tempfile::TempDir, Sandboxes) {
        let root = tempfile::tempdir().unwrap();
        let mut settings = SandboxSettings::new(
            root.path().join("sandboxes"),
            Isolation::Bubblewrap(find_bubblewrap().unwrap()),
        );
        settings.limits.session = SessionResources {
            memory_bytes: MEMORY,
            cpu_millis: 500,
            processes: 40,
        };
        (root, Sandboxes::new(settings))
    }

    async fn exec(
        sandbox: &berth_sandbox::Sandbox,
        command: &str,
        disk: Option<DiskAllowance>,
    ) -> berth_sandbox::ExecResult {
        let request = ExecRequest {
            command: command.into(),
            timeout: Duration::from_secs(30),
            env: Vec::new(),
            disk,
        };
        sandbox
            .exec(&request, &CancellationToken::new())
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_cpu_and_processes_are_limited_per_session() {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("SKIPPED: control groups need root");
            return;
        }
        let (_root, sandboxes) = limited();
        let sandbox = sandboxes
            .open(
                "sesn_limits",
                super::fresh_uid(),
                NetworkAccess::Proxied(HostRules::Only(vec![])),
            )
            .unwrap();
        let groups = sandbox.control_groups();
        assert!(!groups.is_empty(), "this host has control groups");

        // Four processes of 40 MiB each: every one is far under the per-process limit, but
        // together they pass the session's 96 MiB.
        let result = exec(
            &sandbox,
            "for i in 1 2 3 4; do python3 -c 'import time; a = b\"x\" * (40 << 20); time.sleep(2)' & done; wait; echo finished",
            None,
        )
        .await;
        assert!(
            result.limits_hit.contains(&LimitHit::Memory {
                limit_bytes: MEMORY
            }),
            "{:?} {}",
            result.limits_hit,
            result.output_text()
        );

        let result = exec(
            &sandbox,
            "for i in $(seq 60); do sleep 1 & done; wait",
            None,
        )
        .await;
        assert!(
            result
                .limits_hit
                .contains(&LimitHit::Processes { limit: 40 }),
            "{:?} {}",
            result.limits_hit,
            result.output_text()
        );

        // The CPU quota is half a core, and commands run inside the group.
        let cpu = groups
            .iter()
            .find(|g| g.join("cpu.cfs_quota_us").exists() || g.join("cpu.max").exists())
            .unwrap();
        let quota = std::fs::read_to_string(cpu.join("cpu.cfs_quota_us"))
            .or_else(|_| std::fs::read_to_string(cpu.join("cpu.max")))
            .unwrap();
        assert!(quota.starts_with("50000"), "{quota}");
        let running = {
            let sandbox = std::sync::Arc::clone(&sandbox);
            tokio::spawn(async move { exec(&sandbox, "sleep 2", None).await })
        };
        let procs = cpu.join("cgroup.procs");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(&procs).unwrap().trim().is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the command never joined its group"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        running.await.unwrap();
        drop(sandbox);
        sandboxes.remove("sesn_limits");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_command_is_stopped_at_the_disk_quota() {
        let (_root, sandboxes) = limited();
        let sandbox = sandboxes
            .open(
                "sesn_disk",
                super::fresh_uid(),
                NetworkAccess::Proxied(HostRules::Only(vec![])),
            )
            .unwrap();
        let used = sandbox.disk_usage().await.unwrap();
        let allowance = DiskAllowance {
            limit_bytes: used + (4 << 20),
            used_bytes: used,
        };
        // One file cannot pass the room left.
        let result = exec(
            &sandbox,
            "head -c 8M /dev/zero > big; echo wrote=$?",
            Some(allowance),
        )
        .await;
        assert!(
            result.limits_hit.contains(&LimitHit::Disk {
                limit_bytes: allowance.limit_bytes
            }),
            "{:?} {}",
            result.limits_hit,
            result.output_text()
        );
        assert!(sandbox.disk_usage().await.unwrap() <= allowance.limit_bytes + (64 << 10));
        // Many files under the size limit each are stopped by the watch.
        let result = exec(
            &sandbox,
            "rm -f big; i=0; while true; do head -c 1M /dev/zero > f$i; i=$((i+1)); done",
            Some(allowance),
        )
        .await;
        assert_eq!(
            result.ended,
            berth_sandbox::Ended::DiskQuota,
            "{}",
            result.output_text()
        );
        // Deleting still works when over the quota.
        let over = DiskAllowance {
            limit_bytes: allowance.limit_bytes,
            used_bytes: sandbox.disk_usage().await.unwrap(),
        };
        let result = exec(&sandbox, "rm -f f*; echo cleaned", Some(over)).await;
        assert_eq!(result.output_text(), "cleaned\n");
        assert!(sandbox.disk_usage().await.unwrap() < used + (1 << 20));
    }
}
