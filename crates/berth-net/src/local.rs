//! The host's own addresses (every address on one of its interfaces), which sandboxes must not
//! reach: a service of the host listening on all interfaces is reachable through any of them,
//! public ones included. Interfaces change (DHCP, VPNs), so the list is read again when it is
//! a few seconds old.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a reading of the interfaces is trusted.
const FRESH_FOR: Duration = Duration::from_secs(5);

static CACHE: Mutex<Option<(Instant, Vec<IpAddr>)>> = Mutex::new(None);

/// The addresses of this host's interfaces.
pub fn host_addresses() -> Vec<IpAddr> {
    let mut cache = match CACHE.lock() {
        Ok(c) => c,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some((read_at, addresses)) = cache.as_ref()
        && read_at.elapsed() < FRESH_FOR
    {
        return addresses.clone();
    }
    let addresses = read_interfaces();
    *cache = Some((Instant::now(), addresses.clone()));
    addresses
}

/// Whether `addr` belongs to this host (loopback and the unspecified address included).
pub fn is_host_address(addr: IpAddr) -> bool {
    let addr = addr.to_canonical();
    addr.is_loopback() || addr.is_unspecified() || host_addresses().contains(&addr)
}

fn read_interfaces() -> Vec<IpAddr> {
    let Ok(interfaces) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut out: Vec<IpAddr> = interfaces
        .filter_map(|i| i.address)
        .filter_map(|a| {
            if let Some(v4) = a.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                a.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}
