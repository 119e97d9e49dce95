//! A private network namespace per sandbox: only a loopback interface, on which the server
//! listens for the sandbox's proxy traffic. Commands are started inside it, so the host's
//! loopback services (the server itself, databases) and every other network are simply not
//! there; the only way out is the proxy, which applies the environment's rules.
//!
//! Creating a namespace needs `CAP_SYS_ADMIN`: Berth running as root can; otherwise sandboxes
//! get no network at all (bubblewrap's own empty namespace).

use std::fs::File;
use std::io;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sched::{CloneFlags, unshare};

/// Where the proxy listens inside every sandbox namespace.
pub const PROXY_PORT: u16 = 3128;

/// A network namespace kept alive by an open handle to it.
#[derive(Debug)]
pub struct NetNamespace {
    handle: OwnedFd,
}

impl NetNamespace {
    /// Creates a namespace with loopback up and a TCP listener on `127.0.0.1:PROXY_PORT` in it.
    /// The listener keeps working from any thread: a socket belongs to the namespace it was
    /// created in.
    pub fn create() -> io::Result<(Self, TcpListener)> {
        // `unshare` moves only the calling thread; do it on a thread of its own, which ends
        // right after, so no thread of the server stays in the namespace.
        std::thread::spawn(|| -> io::Result<(Self, TcpListener)> {
            unshare(CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
            loopback_up()?;
            let handle = File::open("/proc/thread-self/ns/net")?;
            let listener = TcpListener::bind(("127.0.0.1", PROXY_PORT))?;
            listener.set_nonblocking(true)?;
            Ok((
                Self {
                    handle: OwnedFd::from(handle),
                },
                listener,
            ))
        })
        .join()
        .map_err(|_| io::Error::other("the namespace thread panicked"))?
    }

    pub fn handle(&self) -> &OwnedFd {
        &self.handle
    }
}

/// Brings `lo` up in the calling thread's network namespace.
#[allow(unsafe_code)]
fn loopback_up() -> io::Result<()> {
    let socket = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Inet,
        nix::sys::socket::SockType::Datagram,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(io::Error::from)?;
    // SAFETY: `ifreq` is a plain C struct for which all-zero bytes are a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the flags of the interface named in `request` into it; the
    // socket is open and `request` is a valid, writable `ifreq` for the duration of the call.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: after SIOCGIFFLAGS the `ifru_flags` member of the union is the initialised one.
    unsafe {
        request.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    }
    // SAFETY: SIOCSIFFLAGS only reads `request`, a valid `ifreq` naming `lo` with its flags.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
