//! `vpai dns`: the split-DNS records of the stack, derived from every declared host.
//! On the VPN, a service's name must resolve to the VPN address of the host that
//! serves it, or Caddy's VPN allow-list sees a public address and answers 403 (the
//! seeds' Windows client that kept its ISP's resolver). Printed for the DNS the VPN
//! uses: Headscale's `dns.extra_records` (with `override_local_dns: true`, without
//! which clients keep their own resolver), a JSON file for its `extra_records_path`,
//! /etc/hosts lines, or dnsmasq.

use crate::cli::StackArgs;
use crate::printer::Printer;
use crate::project::Project;
use clap::{Args, ValueEnum};
use std::process::ExitCode;

pub const EXAMPLES: &str = "Examples:
  vpai dns                             # the records, as a table
  vpai dns --format headscale          # the `dns:` block of Headscale's config.yaml
  vpai dns --json > extra-records.json # for Headscale's `dns.extra_records_path`
  vpai dns --format hosts              # lines for /etc/hosts on a client
  vpai dns --format dnsmasq            # address=/NAME/IP lines

stack.toml:
  [hosts.prod]
  address = \"203.0.113.10\"
  vpn_address = \"100.64.0.14\"          # `tailscale ip -4` on the host

Each web service's name points at the VPN address of the host that runs it (a host
without `vpn_address` gives none). Exit status: 0 records printed, 1 none (no host has a
`vpn_address`), 2 usage error.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DnsFormat {
    Table,
    Headscale,
    Hosts,
    Dnsmasq,
}

#[derive(Debug, Args)]
pub struct DnsArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// How to print the records.
    #[arg(long, value_enum, default_value_t = DnsFormat::Table)]
    pub format: DnsFormat,
    /// Print the records as JSON (`[{"name", "type", "value"}]`, Headscale's format).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
}

pub fn run(args: DnsArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let project = Project::load(&args.stack)?;
    let records = project.stack.dns_records();
    if records.is_empty() {
        printer.error_text(
            "no split-DNS record: no host of stack.toml has a `vpn_address`\n  help: set it in [hosts.NAME] (`vpn_address = \"100.64.0.14\"`, what `tailscale ip -4` prints on the host)",
        );
        return Ok(ExitCode::from(1));
    }
    printer.out(&if args.json {
        serde_json::to_string_pretty(&records)?
    } else {
        render(&records, args.format)
    });
    Ok(ExitCode::SUCCESS)
}

fn render(records: &[vpai_model::DnsRecord], format: DnsFormat) -> String {
    match format {
        DnsFormat::Table => crate::printer::table(
            &["name", "type", "address", "host"],
            &records
                .iter()
                .map(|r| {
                    vec![
                        r.name.clone(),
                        r.kind.to_string(),
                        r.value.clone(),
                        r.host.clone(),
                    ]
                })
                .collect::<Vec<_>>(),
        ),
        DnsFormat::Headscale => {
            let mut s = String::from(
                "# Headscale config.yaml: clients must use the VPN's DNS, or they resolve\n# these names to public addresses and the VPN-only sites answer 403.\ndns:\n  override_local_dns: true\n  extra_records:\n",
            );
            for r in records {
                s.push_str(&format!(
                    "    - {{ name: \"{}\", type: \"{}\", value: \"{}\" }}\n",
                    r.name, r.kind, r.value
                ));
            }
            s
        }
        DnsFormat::Hosts => {
            // One line per address, its names after it.
            let mut lines: Vec<(String, Vec<String>)> = Vec::new();
            for r in records {
                match lines.iter_mut().find(|(ip, _)| *ip == r.value) {
                    Some((_, names)) => names.push(r.name.clone()),
                    None => lines.push((r.value.clone(), vec![r.name.clone()])),
                }
            }
            lines
                .iter()
                .map(|(ip, names)| format!("{ip}\t{}\n", names.join(" ")))
                .collect()
        }
        DnsFormat::Dnsmasq => records
            .iter()
            .map(|r| format!("address=/{}/{}\n", r.name, r.value))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records() -> Vec<vpai_model::DnsRecord> {
        let text = "[project]\nname = \"x\"\ndomain = \"example.com\"\n\
                    [hosts.app]\naddress = \"203.0.113.10\"\nvpn_address = \"100.64.0.14\"\n";
        crate::commands::test_stack(text).dns_records()
    }

    #[test]
    fn every_format_names_every_record() {
        let records = records();
        assert!(records.iter().any(|r| r.name == "n8n.example.com"));
        let yaml = render(&records, DnsFormat::Headscale);
        assert!(yaml.contains("override_local_dns: true"), "{yaml}");
        assert!(
            yaml.contains("- { name: \"n8n.example.com\", type: \"A\", value: \"100.64.0.14\" }"),
            "{yaml}"
        );
        let hosts = render(&records, DnsFormat::Hosts);
        assert_eq!(hosts.lines().count(), 1, "{hosts}");
        assert!(hosts.starts_with("100.64.0.14\t") && hosts.contains("n8n.example.com"));
        let dnsmasq = render(&records, DnsFormat::Dnsmasq);
        assert!(dnsmasq.contains("address=/n8n.example.com/100.64.0.14\n"));
        let json = serde_json::to_value(&records).unwrap();
        assert_eq!(
            json[0].as_object().unwrap().keys().collect::<Vec<_>>(),
            ["name", "type", "value"]
        );
    }
}
