//! `[access]` of stack.toml, resolved: who may reach each web service through Caddy.
//! Admin UIs can be kept to the VPN's clients while the paths that outside callers use
//! (n8n's webhooks) stay public (seed 001 §6.2 and §39).

use serde::Serialize;
use vpai_catalog::ServiceDef;
use vpai_spec::values::check_cidr;
use vpai_spec::{Access, ServiceSpec, SpecError, StackFile};

/// The address range a tailnet gives its clients (Tailscale, Headscale).
pub const DEFAULT_VPN: &str = "100.64.0.0/10";

/// The stack's access settings as Caddy will apply them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AccessSettings {
    /// Address ranges of the VPN's clients.
    pub vpn: Vec<String>,
    /// Proxies whose `X-Forwarded-For` Caddy believes (none by default).
    pub trusted_proxies: Vec<String>,
}

pub(crate) fn build(file: &StackFile) -> Result<AccessSettings, SpecError> {
    let Some(spec) = &file.spec.access else {
        return Ok(AccessSettings {
            vpn: vec![DEFAULT_VPN.into()],
            trusted_proxies: Vec::new(),
        });
    };
    let ranges = |list: &[toml::Spanned<String>]| -> Result<Vec<String>, SpecError> {
        list.iter()
            .map(|r| {
                check_cidr(r.get_ref())
                    .map(|()| r.get_ref().clone())
                    .map_err(|why| file.error_at(r.span(), why.message, why.help))
            })
            .collect()
    };
    let vpn = match &spec.vpn {
        None => vec![DEFAULT_VPN.into()],
        Some(list) => ranges(list)?,
    };
    Ok(AccessSettings {
        vpn,
        trusted_proxies: ranges(&spec.trusted_proxies)?,
    })
}

/// Whether a service is VPN-only: its own `access`, else `[access] admin` for an
/// admin UI, else public.
pub(crate) fn vpn_only(
    file: &StackFile,
    settings: &AccessSettings,
    name: &str,
    def: &ServiceDef,
    svc_spec: &ServiceSpec,
) -> Result<bool, SpecError> {
    let admin_default = file
        .spec
        .access
        .as_ref()
        .and_then(|a| a.admin.as_ref())
        .filter(|_| def.web.as_ref().is_some_and(|w| w.admin));
    let Some(chosen) = svc_spec.access.as_ref().or(admin_default) else {
        return Ok(false);
    };
    let vpn = *chosen.get_ref() == Access::Vpn;
    if vpn && def.web.is_none() {
        return Err(file.error_at(
            chosen.span(),
            format!("`{name}` has no web site: Caddy has nothing to keep to the VPN"),
            "remove `access`: the service is reached on the stack's networks only",
        ));
    }
    if vpn && settings.vpn.is_empty() {
        return Err(file.error_at(
            chosen.span(),
            format!(
                "`{name}` is VPN-only, but `[access] vpn` lists no range: nobody could reach it"
            ),
            format!("list the VPN's client addresses: `[access] vpn = [\"{DEFAULT_VPN}\"]`"),
        ));
    }
    Ok(vpn)
}
