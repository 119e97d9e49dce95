//! The system-call filter every sandboxed command runs under, modelled on the common container
//! default: what an unprivileged process could otherwise use to attack the kernel, or to
//! escape the sandbox's isolation, fails with `EPERM`.
//!
//! Denied: new namespaces (`unshare` and `clone` with a namespace flag, `setns`), so no nested
//! user namespace can hand the sandbox's user the capabilities to mount or to reach kernel
//! code meant for root; every mount call; `ptrace` and reading or writing other processes'
//! memory; the kernel keyring; `bpf`, `perf_event_open`, `userfaultfd` and `io_uring`; kernel
//! modules, `kexec`, reboot, swap, clocks, accounting, quotas and the like; and
//! `open_by_handle_at`, which resolves file handles past mount boundaries. `clone3` answers
//! `ENOSYS`, because its flags live in memory a filter cannot read: the C library then falls
//! back to `clone`, whose flags are checked. System calls of other ABIs (32-bit, x32) are
//! refused outright.
//!
//! The filter is a classic BPF program handed to bubblewrap (`--add-seccomp-fd`), which
//! installs it right before it starts the command, after its own set-up (which mounts).
//! Blocking user namespaces here rather than with bubblewrap's `--disable-userns` is a choice
//! forced by the root mode: that flag needs `--unshare-user`, which the root mode does not pass
//! (it sets up as root and drops to the session's user with `setpriv`, so the sandbox's user
//! is a real host user whose files snapshots can restore); the filter works in both modes.

/// One BPF instruction, as the kernel reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Instruction {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

const LD_W_ABS: u16 = 0x20;
const JEQ: u16 = 0x15;
const JGE: u16 = 0x35;
const JSET: u16 = 0x45;
const RET: u16 = 0x06;

const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ALLOW: u32 = 0x7fff_0000;
const RET_ERRNO: u32 = 0x0005_0000;

/// Offsets in `struct seccomp_data`.
const NR_OFFSET: u32 = 0;
const ARCH_OFFSET: u32 = 4;
/// The low 32 bits of the first argument (little-endian).
const ARG0_LOW_OFFSET: u32 = 16;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xc000_00b7;
/// x32 system calls are x86-64 numbers with this bit set.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// Namespace flags `clone` may not carry (its low byte is the exit signal, so not
/// `CLONE_NEWTIME`, which only `unshare` and `clone3` take).
const CLONE_NAMESPACES: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u32;
const UNSHARE_NAMESPACES: u32 = CLONE_NAMESPACES | libc::CLONE_NEWTIME as u32;

/// System calls denied whatever their arguments.
fn denied() -> Vec<(&'static str, libc::c_long)> {
    let mut list = vec![
        ("setns", libc::SYS_setns),
        ("mount", libc::SYS_mount),
        ("umount2", libc::SYS_umount2),
        ("pivot_root", libc::SYS_pivot_root),
        ("fsopen", libc::SYS_fsopen),
        ("fsconfig", libc::SYS_fsconfig),
        ("fsmount", libc::SYS_fsmount),
        ("fspick", libc::SYS_fspick),
        ("move_mount", libc::SYS_move_mount),
        ("open_tree", libc::SYS_open_tree),
        ("mount_setattr", libc::SYS_mount_setattr),
        ("ptrace", libc::SYS_ptrace),
        ("process_vm_readv", libc::SYS_process_vm_readv),
        ("process_vm_writev", libc::SYS_process_vm_writev),
        ("kcmp", libc::SYS_kcmp),
        ("keyctl", libc::SYS_keyctl),
        ("add_key", libc::SYS_add_key),
        ("request_key", libc::SYS_request_key),
        ("bpf", libc::SYS_bpf),
        ("perf_event_open", libc::SYS_perf_event_open),
        ("userfaultfd", libc::SYS_userfaultfd),
        ("io_uring_setup", libc::SYS_io_uring_setup),
        ("io_uring_enter", libc::SYS_io_uring_enter),
        ("io_uring_register", libc::SYS_io_uring_register),
        ("init_module", libc::SYS_init_module),
        ("finit_module", libc::SYS_finit_module),
        ("delete_module", libc::SYS_delete_module),
        ("kexec_load", libc::SYS_kexec_load),
        ("kexec_file_load", libc::SYS_kexec_file_load),
        ("reboot", libc::SYS_reboot),
        ("swapon", libc::SYS_swapon),
        ("swapoff", libc::SYS_swapoff),
        ("acct", libc::SYS_acct),
        ("quotactl", libc::SYS_quotactl),
        ("settimeofday", libc::SYS_settimeofday),
        ("clock_settime", libc::SYS_clock_settime),
        ("clock_adjtime", libc::SYS_clock_adjtime),
        ("adjtimex", libc::SYS_adjtimex),
        ("syslog", libc::SYS_syslog),
        ("vhangup", libc::SYS_vhangup),
        ("open_by_handle_at", libc::SYS_open_by_handle_at),
        ("name_to_handle_at", libc::SYS_name_to_handle_at),
        ("lookup_dcookie", libc::SYS_lookup_dcookie),
        ("chroot", libc::SYS_chroot),
    ];
    #[cfg(target_arch = "x86_64")]
    list.extend([
        ("iopl", libc::SYS_iopl),
        ("ioperm", libc::SYS_ioperm),
        ("uselib", libc::SYS_uselib),
        ("ustat", libc::SYS_ustat),
        ("sysfs", libc::SYS_sysfs),
        ("_sysctl", libc::SYS__sysctl),
        ("nfsservctl", libc::SYS_nfsservctl),
    ]);
    list
}

/// The system calls the filter denies outright (name, number), for documentation and tests.
pub fn denied_calls() -> Vec<(&'static str, libc::c_long)> {
    denied()
}

fn load(offset: u32) -> Instruction {
    Instruction {
        code: LD_W_ABS,
        jt: 0,
        jf: 0,
        k: offset,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Instruction {
    Instruction { code, jt, jf, k }
}

fn ret(k: u32) -> Instruction {
    Instruction {
        code: RET,
        jt: 0,
        jf: 0,
        k,
    }
}

fn nr(n: libc::c_long) -> u32 {
    n as u32
}

/// The filter program. Every test is a short forward jump, so the program has no length limit
/// but the kernel's.
fn program() -> Vec<Instruction> {
    let eperm = RET_ERRNO | libc::EPERM as u32;
    let enosys = RET_ERRNO | libc::ENOSYS as u32;
    let mut p = vec![
        load(ARCH_OFFSET),
        jump(JEQ, AUDIT_ARCH, 1, 0),
        ret(RET_KILL_PROCESS),
        load(NR_OFFSET),
    ];
    #[cfg(target_arch = "x86_64")]
    p.extend([jump(JGE, X32_SYSCALL_BIT, 0, 1), ret(enosys)]);
    for (_, call) in denied() {
        p.extend([jump(JEQ, nr(call), 0, 1), ret(eperm)]);
    }
    p.extend([jump(JEQ, nr(libc::SYS_clone3), 0, 1), ret(enosys)]);
    for (call, namespaces) in [
        (libc::SYS_clone, CLONE_NAMESPACES),
        (libc::SYS_unshare, UNSHARE_NAMESPACES),
    ] {
        // The number is gone from the accumulator once the flags are loaded, so a call that
        // passes ends here (allowed) rather than going on down the list.
        p.extend([
            jump(JEQ, nr(call), 0, 4),
            load(ARG0_LOW_OFFSET),
            jump(JSET, namespaces, 0, 1),
            ret(eperm),
            ret(RET_ALLOW),
        ]);
    }
    p.push(ret(RET_ALLOW));
    p
}

/// The filter as bytes, in the layout bubblewrap reads (`struct sock_filter`, native order).
pub(crate) fn filter_bytes() -> Vec<u8> {
    let mut out = Vec::new();
    for i in program() {
        out.extend_from_slice(&i.code.to_ne_bytes());
        out.push(i.jt);
        out.push(i.jf);
        out.extend_from_slice(&i.k.to_ne_bytes());
    }
    out
}

/// A pipe holding the filter, ready for bubblewrap to read to its end.
pub(crate) fn filter_pipe(bytes: &[u8]) -> std::io::Result<std::fs::File> {
    use std::io::Write;
    use std::os::fd::OwnedFd;
    let (reader, mut writer) = std::io::pipe()?;
    // A program of a few hundred instructions fits a pipe's buffer (64 KiB), so this never
    // blocks.
    writer.write_all(bytes)?;
    drop(writer);
    Ok(std::fs::File::from(OwnedFd::from(reader)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the program on one system call, as the kernel would.
    fn verdict(arch: u32, call: u32, arg0: u32) -> u32 {
        let program = program();
        let mut pc = 0usize;
        let mut acc = 0u32;
        loop {
            let i = program[pc];
            match i.code {
                LD_W_ABS => {
                    acc = match i.k {
                        NR_OFFSET => call,
                        ARCH_OFFSET => arch,
                        ARG0_LOW_OFFSET => arg0,
                        other => panic!("unexpected load at {other}"),
                    };
                    pc += 1;
                }
                RET => return i.k,
                code => {
                    let taken = match code {
                        JEQ => acc == i.k,
                        JGE => acc >= i.k,
                        JSET => acc & i.k != 0,
                        other => panic!("unexpected instruction {other:#x}"),
                    };
                    pc += 1 + usize::from(if taken { i.jt } else { i.jf });
                }
            }
        }
    }

    #[test]
    fn denied_calls_fail_and_others_pass() {
        let eperm = RET_ERRNO | libc::EPERM as u32;
        for (name, call) in denied() {
            assert_eq!(verdict(AUDIT_ARCH, nr(call), 0), eperm, "{name}");
        }
        for call in [
            libc::SYS_read,
            libc::SYS_write,
            libc::SYS_execve,
            libc::SYS_getpid,
        ] {
            assert_eq!(verdict(AUDIT_ARCH, nr(call), 0), RET_ALLOW);
        }
        assert_eq!(
            verdict(AUDIT_ARCH, nr(libc::SYS_clone3), 0),
            RET_ERRNO | libc::ENOSYS as u32
        );
        assert_eq!(
            verdict(0x4000_0003, nr(libc::SYS_getpid), 0),
            RET_KILL_PROCESS
        );
    }

    #[test]
    fn namespaces_are_refused_but_threads_and_forks_are_not() {
        let eperm = RET_ERRNO | libc::EPERM as u32;
        let user = libc::CLONE_NEWUSER as u32;
        assert_eq!(verdict(AUDIT_ARCH, nr(libc::SYS_clone), user | 17), eperm);
        assert_eq!(verdict(AUDIT_ARCH, nr(libc::SYS_unshare), user), eperm);
        assert_eq!(
            verdict(AUDIT_ARCH, nr(libc::SYS_unshare), libc::CLONE_NEWNS as u32),
            eperm
        );
        let thread =
            (libc::CLONE_VM | libc::CLONE_FS | libc::CLONE_FILES | libc::CLONE_THREAD) as u32;
        assert_eq!(verdict(AUDIT_ARCH, nr(libc::SYS_clone), thread), RET_ALLOW);
        assert_eq!(verdict(AUDIT_ARCH, nr(libc::SYS_clone), 17), RET_ALLOW);
        assert_eq!(
            verdict(AUDIT_ARCH, nr(libc::SYS_unshare), libc::CLONE_FILES as u32),
            RET_ALLOW
        );
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn x32_calls_are_refused() {
        assert_eq!(
            verdict(AUDIT_ARCH, X32_SYSCALL_BIT | nr(libc::SYS_getpid), 0),
            RET_ERRNO | libc::ENOSYS as u32
        );
    }

    #[test]
    fn bytes_are_eight_per_instruction() {
        assert_eq!(filter_bytes().len(), program().len() * 8);
    }
}
