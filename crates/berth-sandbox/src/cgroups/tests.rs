use super::*;

const V1_SELF: &str =
    "9:name=systemd:/\n8:pids:/\n4:memory:/supervisor/job\n1:cpu,cpuacct:/\n0::/\n";

fn v1_mount() -> tempfile::TempDir {
    let mount = tempfile::tempdir().unwrap();
    for (controller, probe) in [
        ("memory", "memory.limit_in_bytes"),
        ("pids", "pids.max"),
        ("cpu", "cpu.cfs_quota_us"),
    ] {
        std::fs::create_dir_all(mount.path().join(controller)).unwrap();
        std::fs::write(mount.path().join(controller).join(probe), "").unwrap();
    }
    mount
}

#[test]
fn version_1_groups_nest_under_the_servers_own() {
    let mount = v1_mount();
    let cgroups = Cgroups::detect(mount.path(), V1_SELF, "t1").unwrap();
    assert_eq!(
        cgroups.layout,
        Layout::V1 {
            memory: Some(mount.path().join("memory/supervisor/job/berth-t1")),
            pids: Some(mount.path().join("pids/berth-t1")),
            cpu: Some(mount.path().join("cpu/berth-t1")),
        }
    );
    let resources = SessionResources {
        memory_bytes: 64 << 20,
        cpu_millis: 500,
        processes: 32,
    };
    assert_eq!(cpu_quota(&resources), 50_000);
    assert!(cgroups.describe().contains("memory, pids, cpu"));
}

#[test]
fn nothing_usable_is_an_error_with_a_reason() {
    let mount = tempfile::tempdir().unwrap();
    let err = Cgroups::detect(mount.path(), V1_SELF, "t").unwrap_err();
    assert!(err.contains("no writable"), "{err}");
}

#[test]
fn limit_hits_are_read_from_counter_changes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("pids.events"), "max 2\n").unwrap();
    let group = SessionCgroup {
        layout: Layout::V1 {
            memory: Some(dir.path().to_owned()),
            pids: Some(dir.path().to_owned()),
            cpu: None,
        },
        name: String::new(),
        resources: SessionResources::default(),
    };
    let now = group.counters();
    assert_eq!(
        now,
        LimitCounters {
            oom_kills: 3,
            process_limit_hits: 2
        }
    );
    assert!(group.hits(now, now).is_empty());
    let before = LimitCounters {
        oom_kills: 2,
        process_limit_hits: 2,
    };
    assert_eq!(
        group.hits(before, now),
        vec![LimitHit::Memory {
            limit_bytes: 4 << 30
        }]
    );
}
