//! The one output layer: data on stdout, everything else on stderr, progress lines
//! that never interleave with logs, `NO_COLOR` honoured, and every known secret
//! value masked before anything is printed.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

pub struct Printer {
    quiet: bool,
    color: bool,
    /// Every secret value known so far (and its encoded forms), masked in all output.
    secrets: Mutex<(Vec<String>, vpai_vault::Redactor)>,
    bars: MultiProgress,
    services: Mutex<BTreeMap<String, ProgressBar>>,
}

impl Printer {
    pub fn new(quiet: bool) -> Self {
        let tty = std::io::stderr().is_terminal();
        let bars = MultiProgress::with_draw_target(if tty && !quiet {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        Printer {
            quiet,
            color: tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            secrets: Mutex::new((Vec::new(), vpai_vault::Redactor::new(std::iter::empty()))),
            bars,
            services: Mutex::new(BTreeMap::new()),
        }
    }

    /// Values to mask from now on (the redactor ignores values too short to be secrets).
    pub fn add_secrets<'a>(&self, values: impl IntoIterator<Item = &'a str>) {
        let mut guard = self.secrets.lock().expect("not poisoned");
        let (known, redactor) = &mut *guard;
        for v in values {
            if !known.iter().any(|x| x == v) {
                known.push(v.to_string());
            }
        }
        *redactor = vpai_vault::Redactor::new(known.iter().map(String::as_str));
    }

    pub fn redact(&self, text: &str) -> String {
        let guard = self.secrets.lock().expect("not poisoned");
        guard.1.redact(text).into_owned()
    }

    /// Whether stderr gets colours (a terminal, and NO_COLOR unset).
    pub fn color(&self) -> bool {
        self.color
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Data for scripts and people: stdout.
    pub fn out(&self, text: &str) {
        let text = self.redact(text);
        self.bars.suspend(|| {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`vpai status | head`) is not an error.
            let _ = writeln!(stdout, "{text}");
        });
    }

    /// Progress and information: stderr.
    pub fn info(&self, text: &str) {
        if self.quiet {
            return;
        }
        let text = self.redact(text);
        self.bars.suspend(|| eprintln!("{text}"));
    }

    pub fn step(&self, text: &str) {
        let arrow = self.paint("1;36", "==>");
        self.info(&format!("{arrow} {text}"));
    }

    pub fn success(&self, text: &str) {
        let mark = self.paint("1;32", "ok");
        self.info(&format!("{mark} {text}"));
    }

    pub fn warn(&self, text: &str) {
        let w = self.paint("1;33", "warning:");
        let text = self.redact(text);
        self.bars.suspend(|| eprintln!("{w} {text}"));
    }

    pub fn error_text(&self, text: &str) {
        let e = self.paint("1;31", "error:");
        let text = self.redact(text);
        self.bars.suspend(|| eprintln!("{e} {text}"));
    }

    pub fn error(&self, err: &anyhow::Error) {
        // Spec errors carry a span: print them like rustc with miette.
        for cause in err.chain() {
            if let Some(spec) = cause.downcast_ref::<vpai_spec::SpecError>() {
                let report = miette::Report::new(clone_spec_error(spec));
                let text = self.redact(&format!("{report:?}"));
                self.bars.suspend(|| eprintln!("{text}"));
                return;
            }
        }
        self.error_text(&format!("{err:#}"));
    }

    /// One live line per service while waiting for health.
    pub fn service_state(&self, service: &str, state: &str) {
        if self.quiet {
            return;
        }
        let mut map = self.services.lock().expect("not poisoned");
        let bar = map.entry(service.to_string()).or_insert_with(|| {
            let bar = self.bars.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("  {spinner} {prefix:<12} {msg}")
                    .expect("valid template"),
            );
            bar.set_prefix(service.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        bar.set_message(state.to_string());
        if self.bars.is_hidden() {
            eprintln!("  {service:<12} {state}");
        }
        if state.contains("healthy") && !state.contains("unhealthy") || state == "running" {
            bar.finish_with_message(self.paint("32", state));
        }
    }

    pub fn clear_services(&self) {
        let mut map = self.services.lock().expect("not poisoned");
        for (_, bar) in map.iter() {
            bar.finish_and_clear();
        }
        map.clear();
    }
}

/// miette::Report wants ownership; SpecError is cheap to rebuild from its parts.
fn clone_spec_error(e: &vpai_spec::SpecError) -> vpai_spec::SpecError {
    match e {
        vpai_spec::SpecError::Io { path, message } => vpai_spec::SpecError::Io {
            path: path.clone(),
            message: message.clone(),
        },
        vpai_spec::SpecError::Invalid {
            message,
            src,
            span,
            help,
            location,
        } => vpai_spec::SpecError::Invalid {
            message: message.clone(),
            src: miette::NamedSource::new(src.name(), src.inner().clone()),
            span: *span,
            help: help.clone(),
            location: location.clone(),
        },
    }
}

impl vpai_deploy::Progress for Printer {
    fn step(&self, message: &str) {
        Printer::step(self, message);
    }
    fn service(&self, service: &str, state: &str) {
        self.service_state(service, state);
    }
}

/// A plain text table: columns padded to the widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(headers.iter().map(|h| h.to_uppercase()).collect())];
    out.extend(rows.iter().map(|r| line(r.clone())));
    out.join("\n")
}
