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
            ssh_options: spec.ssh_options.clone(),
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
