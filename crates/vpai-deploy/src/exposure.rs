//! What a host shows the network: from the deploying machine, try every port a
//! service of the catalog listens on and the well-known ones that must stay private
//! (`Catalog::exposure_ports`), on the host's address. Anything that answers besides
//! SSH, the web ports and `[hardening] allow_ports` fails the probe, named with what
//! usually listens there: a database published on every interface, Docker's published
//! ports past a firewall that filters only INPUT, a forgotten admin UI.
//!
//! A TCP connect per port, all at once, each given [`CONNECT_TIMEOUT`]: a filtered port
//! costs that long, an open or refused one a round trip. It proves what answers from
//! where vpai runs; a host behind the same NAT or VPN as the operator may still be
//! open to the Internet on ports this machine reaches another way.

use crate::probes::{ProbeOutcome, ProbeStatus};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(1500);

/// The probe's name in reports (`host/exposure`).
pub const SERVICE: &str = "host";
pub const PROBE: &str = "exposure";

/// The address this machine reaches `address` at, or why it is not scanned.
pub fn resolve(address: &str) -> Result<IpAddr, String> {
    let ip = match address.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => (address, 0)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .map(|a| a.ip())
            .ok_or_else(|| {
                format!(
                    "`{address}` does not resolve here (an alias of ~/.ssh/config?): not scanned"
                )
            })?,
    };
    if ip.is_loopback() || ip.is_unspecified() {
        return Err(format!(
            "`{address}` is this machine: a scan from here says nothing about the network"
        ));
    }
    Ok(ip)
}

/// The ports of `candidates` that accept a TCP connection on `ip`, in order.
pub fn open_ports(ip: IpAddr, candidates: &[u16]) -> Vec<u16> {
    let mut open: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = candidates
            .iter()
            .map(|&port| {
                scope.spawn(move || {
                    TcpStream::connect_timeout(&SocketAddr::new(ip, port), CONNECT_TIMEOUT)
                        .is_ok()
                        .then_some(port)
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok().flatten())
            .collect()
    });
    open.sort_unstable();
    open
}

/// The exposure probe of the host at `address`: `known` are the ports to try with what
/// listens there, `allowed` those that may answer (SSH, web, `allow_ports`).
pub fn probe(address: &str, known: &[(u16, String)], allowed: &[u16]) -> ProbeOutcome {
    let started = Instant::now();
    let mut allowed: Vec<u16> = allowed.to_vec();
    allowed.sort_unstable();
    allowed.dedup();
    let shown = allowed
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let description = format!("from here, no port but {shown} answers on the host");
    let outcome = |status, output: String| ProbeOutcome {
        service: SERVICE.into(),
        probe: PROBE.into(),
        description: description.clone(),
        status,
        attempts: 1,
        seconds: started.elapsed().as_secs_f64(),
        output,
    };
    let ip = match resolve(address) {
        Ok(ip) => ip,
        Err(why) => return outcome(ProbeStatus::NotRun, why),
    };
    let candidates: Vec<u16> = known
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| !allowed.contains(p))
        .collect();
    let open = open_ports(ip, &candidates);
    if open.is_empty() {
        return outcome(ProbeStatus::Passed, String::new());
    }
    let lines: Vec<String> = open
        .iter()
        .map(|p| {
            let what = known
                .iter()
                .find(|(q, _)| q == p)
                .map(|(_, w)| w.as_str())
                .unwrap_or("?");
            format!("{ip}:{p} answers from here ({what})")
        })
        .collect();
    outcome(
        ProbeStatus::Failed,
        format!(
            "{}\nhelp: stop publishing it (a `ports:` of another compose project, a service on the host), or close it with `vpai harden`'s firewall; a port you mean to open goes in `[hardening] allow_ports`",
            lines.join("\n")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn loopback_and_unknown_names_are_not_scanned() {
        assert!(resolve("127.0.0.1").unwrap_err().contains("this machine"));
        assert!(resolve("::1").is_err());
        assert!(
            resolve("no-such-host.invalid")
                .unwrap_err()
                .contains("does not resolve")
        );
        assert_eq!(
            resolve("192.0.2.7").unwrap(),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
        let p = probe("127.0.0.1", &[(5432, "PostgreSQL".into())], &[22]);
        assert_eq!(p.status, ProbeStatus::NotRun);
    }

    #[test]
    fn open_ports_finds_a_listener_and_not_a_closed_port() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let open = listener.local_addr().unwrap().port();
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let closed_port = closed.local_addr().unwrap().port();
        drop(closed);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(open_ports(ip, &[closed_port, open]), vec![open]);
    }
}
