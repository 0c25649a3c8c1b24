//! The smoke gate: the probes the service folders declare, run on the host after the
//! health gates (and alone by `vpai verify`). A health check says a process answers; a
//! probe says the stack works: a SQL login as an app role, a Redis command refused, a
//! log line that travels from a container through Alloy to Loki.
//!
//! A probe's environment (which may hold secrets) reaches the host on the command's
//! standard input, NUL-separated, and the container through `docker exec -e NAME`
//! (the value comes from the client's environment): never through argv.

use crate::health::Progress;
use serde::Serialize;
use std::time::{Duration, Instant};
use vpai_host::Host;
use vpai_model::Stack;
pub use vpai_render::probes::parse_duration;
use vpai_render::probes::{ProbePlace, RenderedProbe};

/// Reads the probe's environment from stdin, then runs its argv in the container (or
/// on the host, in the project root) under `timeout`.
/// $1 timeout in seconds, $2 container ("" = host), $3 project root, then argv.
const RUN_PROBE: &str = r#"set -u
t=$1; c=$2; root=$3; shift 3
names=()
while IFS= read -r -d '' kv; do
    export "$kv"
    names+=(-e "${kv%%=*}")
done
if [ -n "$c" ]; then
    exec timeout -k 2 "$t" docker exec "${names[@]}" "$c" "$@"
fi
cd "$root" || exit 125
exec timeout -k 2 "$t" "$@"
"#;

/// How a probe ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeStatus {
    Passed,
    Failed,
    /// Not run, with the reason in `output` (the service it runs in is not deployed).
    NotRun,
}

/// One probe's result.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeOutcome {
    pub service: String,
    pub probe: String,
    pub description: String,
    pub status: ProbeStatus,
    pub attempts: u32,
    pub seconds: f64,
    /// What failed: the exit status and the command's output (redacted), or why it
    /// did not run.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub output: String,
}

/// Most bytes of a failing probe's output kept for the report.
const OUTPUT_CAP: usize = 4000;

/// Run the probes in order (those of a listed service only, when `only` is not
/// empty), each until it passes or its attempts are spent.
pub fn run(
    host: &dyn Host,
    stack: &Stack,
    probes: &[RenderedProbe],
    only: &[String],
    progress: &dyn Progress,
    redact: &dyn Fn(&str) -> String,
) -> Vec<ProbeOutcome> {
    let root = stack.root.display().to_string();
    probes
        .iter()
        .filter(|p| only.is_empty() || only.contains(&p.service))
        .map(|p| {
            let label = format!("{}/{}", p.service, p.name);
            let start = Instant::now();
            let outcome = |status, attempts, output: String| ProbeOutcome {
                service: p.service.clone(),
                probe: p.name.clone(),
                description: p.description.clone(),
                status,
                attempts,
                seconds: start.elapsed().as_secs_f64(),
                output,
            };
            let container = match &p.place {
                ProbePlace::NotRun(why) => {
                    progress.service(&label, "not run");
                    return outcome(ProbeStatus::NotRun, 0, why.clone());
                }
                ProbePlace::Host => String::new(),
                ProbePlace::Container(c) => c.clone(),
            };
            progress.service(&label, "probing");
            let mut stdin = Vec::new();
            for (k, v) in &p.env {
                stdin.extend_from_slice(k.as_bytes());
                stdin.push(b'=');
                stdin.extend_from_slice(v.as_bytes());
                stdin.push(0);
            }
            let secs = p.timeout.as_secs().max(1).to_string();
            let mut args: Vec<&str> = vec![
                "bash",
                "-c",
                RUN_PROBE,
                "vpai-probe",
                &secs,
                &container,
                &root,
            ];
            args.extend(p.argv.iter().map(String::as_str));
            let mut last = String::new();
            for attempt in 1..=p.attempts {
                if attempt > 1 {
                    std::thread::sleep(p.interval);
                }
                match host.run(&args, Some(&stdin)) {
                    Ok(out) => {
                        let stdout = out.stdout_text();
                        let expected = p.expect.as_deref().is_none_or(|e| stdout.contains(e));
                        if out.success() && expected {
                            progress.service(&label, "passed");
                            return outcome(ProbeStatus::Passed, attempt, String::new());
                        }
                        let why = if !out.success() {
                            format!("exit status {}", out.status)
                        } else {
                            format!(
                                "its output lacks `{}`",
                                p.expect.as_deref().unwrap_or_default()
                            )
                        };
                        last = format!(
                            "{why}\n{}{}",
                            stdout.trim_end(),
                            prefixed_stderr(&out.stderr_text())
                        );
                    }
                    Err(e) => last = e.to_string(),
                }
            }
            progress.service(&label, "FAILED");
            let mut text = visible(&redact(last.trim()));
            if text.len() > OUTPUT_CAP {
                let mut cut = OUTPUT_CAP;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
                text.push_str("\n[...]");
            }
            outcome(ProbeStatus::Failed, p.attempts, text)
        })
        .collect()
}

/// A container's output made safe for a terminal: control characters other than line
/// breaks and tabs (terminal escapes) are shown escaped.
fn visible(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

fn prefixed_stderr(stderr: &str) -> String {
    let stderr = stderr.trim_end();
    if stderr.is_empty() {
        String::new()
    } else {
        format!("\n{stderr}")
    }
}

/// The failed probes of a run.
pub fn failures(outcomes: &[ProbeOutcome]) -> Vec<&ProbeOutcome> {
    outcomes
        .iter()
        .filter(|o| o.status == ProbeStatus::Failed)
        .collect()
}

/// The longest a run of these probes may take (for progress messages).
pub fn worst_case(probes: &[RenderedProbe]) -> Duration {
    probes
        .iter()
        .map(|p| (p.timeout + p.interval) * p.attempts)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runner_script_is_valid_bash_and_keeps_env_off_argv() {
        let out = std::process::Command::new("bash")
            .args(["-n", "-c", RUN_PROBE])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // On the host: the env arrives through stdin and the command sees it.
        let mut child = std::process::Command::new("bash")
            .args([
                "-c",
                RUN_PROBE,
                "p",
                "5",
                "",
                "/",
                "sh",
                "-c",
                "printf %s \"$PROBE_SECRET\"",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"PROBE_SECRET=s3 cr=t\nline\0")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "s3 cr=t\nline");
    }
}
