//! The servers of a stack (`[hosts.NAME]`), resolved: paths made absolute against the
//! directory of stack.toml, and the services each runs checked against the stack.

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use vpai_spec::{SpecError, StackFile};

/// A server the stack is deployed to over SSH.
#[derive(Debug, Clone, Serialize)]
pub struct HostDef {
    pub name: String,
    pub address: String,
    pub user: Option<String>,
    /// The port of the hardened host (None: ssh's default or ~/.ssh/config).
    pub ssh_port: Option<u16>,
    /// Fallback while the host is not hardened yet.
    pub bootstrap_port: Option<u16>,
    pub identity: Option<PathBuf>,
    pub known_hosts: Option<PathBuf>,
    pub become_root: Option<bool>,
    /// Services that run there; empty: all of them.
    pub services: Vec<String>,
    pub ssh_options: BTreeMap<String, String>,
    /// Its address on the VPN (split-DNS records point there).
    pub vpn_address: Option<std::net::IpAddr>,
}

pub(crate) fn build(file: &StackFile, service_names: &[String]) -> Result<Vec<HostDef>, SpecError> {
    let dir = file.dir();
    let abs = |p: &String| {
        let path = PathBuf::from(p);
        if path.is_absolute() {
            path
        } else {
            dir.join(path)
        }
    };
    let mut hosts = Vec::new();
    for (name, spec) in &file.spec.hosts {
        let mut services = Vec::new();
        for s in spec.services.iter().flatten() {
            if !service_names.iter().any(|n| n == s.get_ref()) {
                return Err(file.error_at(
                    s.span(),
                    format!(
                        "host `{}` lists `{}`, which is not in the stack",
                        name.get_ref(),
                        s.get_ref()
                    ),
                    format!("the stack's services: {}", service_names.join(", ")),
                ));
            }
            services.push(s.get_ref().clone());
        }
        hosts.push(HostDef {
            name: name.get_ref().clone(),
            address: spec.address.get_ref().clone(),
            user: spec.user.as_ref().map(|u| u.get_ref().clone()),
            ssh_port: spec.ssh_port,
            bootstrap_port: spec.bootstrap_port,
            identity: spec.identity.as_ref().map(abs),
            known_hosts: spec.known_hosts.as_ref().map(abs),
            become_root: spec.become_root,
            services,
            vpn_address: spec
                .vpn_address
                .as_ref()
                .and_then(|a| a.get_ref().parse().ok()),
            ssh_options: spec
                .ssh_options
                .iter()
                .map(|(k, v)| (k.get_ref().clone(), v.get_ref().clone()))
                .collect(),
        });
    }
    Ok(hosts)
}

impl crate::Stack {
    pub fn host(&self, name: &str) -> Option<&HostDef> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// The part of the stack that runs on `host` (all of it when the host lists none).
    pub fn only_on(&self, host: &HostDef) -> crate::Stack {
        let mut stack = self.clone();
        if !host.services.is_empty() {
            stack.services.retain(|s| host.services.contains(&s.name));
        }
        stack
    }

    /// Split DNS: on the VPN, each web service's name resolves to the VPN address of
    /// the host that serves it (a host without `vpn_address` gives none). Sorted by
    /// name; a service on several hosts gets a record per host.
    pub fn dns_records(&self) -> Vec<DnsRecord> {
        let mut records = Vec::new();
        for host in &self.hosts {
            let Some(ip) = host.vpn_address else { continue };
            for s in &self.only_on(host).services {
                if let Some(name) = &s.fqdn {
                    records.push(DnsRecord {
                        name: name.clone(),
                        kind: if ip.is_ipv4() { "A" } else { "AAAA" },
                        value: ip.to_string(),
                        host: host.name.clone(),
                    });
                }
            }
        }
        records.sort_by(|a, b| (&a.name, &a.value).cmp(&(&b.name, &b.value)));
        records.dedup_by(|a, b| a.name == b.name && a.value == b.value);
        records
    }
}

/// One split-DNS record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsRecord {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: String,
    /// The host it points to (not part of a DNS record: `vpai dns --json` leaves it out).
    #[serde(skip)]
    pub host: String,
}

#[cfg(test)]
mod tests {
    use crate::{BuildOptions, build};
    use std::path::Path;
    use vpai_catalog::Catalog;
    use vpai_spec::StackFile;

    const BASE: &str = "[project]\nname = \"x\"\ndomain = \"example.com\"\n";

    fn parse(hosts: &str) -> Result<crate::Stack, String> {
        let file = StackFile::parse(Path::new("/srv/ops/stack.toml"), format!("{BASE}{hosts}"))
            .map_err(|e| format!("{:?}", miette::Report::new(e)))?;
        build(&file, &Catalog::embedded(), &BuildOptions::default())
            .map_err(|e| format!("{:?}", miette::Report::new(e)))
    }

    #[test]
    fn hosts_resolve_paths_and_narrow_services() {
        let stack = parse(
            "[hosts.prod]\naddress = \"203.0.113.10\"\nuser = \"deploy\"\nssh_port = 804\nbootstrap_port = 22\nidentity = \"keys/id\"\nservices = [\"postgresql\", \"redis\"]\n",
        )
        .unwrap();
        let prod = stack.host("prod").unwrap();
        assert_eq!(
            prod.identity.as_deref(),
            Some(Path::new("/srv/ops/keys/id"))
        );
        assert_eq!((prod.ssh_port, prod.bootstrap_port), (Some(804), Some(22)));
        let names: Vec<String> = stack
            .only_on(prod)
            .services
            .iter()
            .map(|s| s.name.clone())
            .collect();
        assert_eq!(names, ["postgresql", "redis"]);
    }

    #[test]
    fn a_host_names_only_services_of_the_stack() {
        let err = parse("[hosts.prod]\naddress = \"h\"\nservices = [\"postgres\"]\n").unwrap_err();
        assert!(err.contains("not in the stack"), "{err}");
    }

    #[test]
    fn nothing_reaches_ssh_as_an_option() {
        let err = parse("[hosts.prod]\naddress = \"-oProxyCommand=x\"\n").unwrap_err();
        assert!(err.contains("is not a host address"), "{err}");
        let err = parse("[hosts.prod]\naddress = \"h\"\nuser = \"-x\"\n").unwrap_err();
        assert!(err.contains("is not a user name"), "{err}");
        let err = parse("[hosts.prod]\nadress = \"h\"\n").unwrap_err();
        assert!(err.contains("address"), "{err}");
    }

    #[test]
    fn split_dns_points_each_name_at_the_vpn_address_of_its_host() {
        let stack = parse(
            "[hosts.app]\naddress = \"203.0.113.10\"\nvpn_address = \"100.64.0.14\"\nservices = [\"postgresql\", \"redis\", \"caddy\", \"n8n\"]\n\
             [hosts.ai]\naddress = \"203.0.113.11\"\nvpn_address = \"fd7a:115c:a1e0::2\"\nservices = [\"postgresql\", \"redis\", \"caddy\", \"qdrant\", \"litellm\"]\n\
             [hosts.spare]\naddress = \"203.0.113.12\"\nservices = [\"postgresql\", \"redis\", \"caddy\", \"qdrant\"]\n",
        )
        .unwrap();
        let records: Vec<(String, &str, String)> = stack
            .dns_records()
            .into_iter()
            .map(|r| (r.name, r.kind, r.value))
            .collect();
        let n8n = stack.service("n8n").unwrap().fqdn.clone().unwrap();
        assert!(
            records.contains(&(n8n, "A", "100.64.0.14".into())),
            "{records:?}"
        );
        let qd = stack.service("qdrant").unwrap().fqdn.clone().unwrap();
        let qd: Vec<_> = records.iter().filter(|r| r.0 == qd).collect();
        assert_eq!(
            qd.len(),
            1,
            "the host without a VPN address gives none: {qd:?}"
        );
        assert_eq!(qd[0].1, "AAAA");
        let err = parse("[hosts.app]\naddress = \"203.0.113.10\"\nvpn_address = \"tailnet\"\n")
            .unwrap_err();
        assert!(err.contains("is not an IP address"), "{err}");
    }
}
