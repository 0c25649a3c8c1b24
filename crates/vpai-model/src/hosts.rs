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
}
