//! The one output layer: data on stdout, everything else on stderr, progress lines
//! that never interleave with logs, one color decision (`--color`, `NO_COLOR`,
//! `CLICOLOR_FORCE`), `-v` lines saying what runs where, and every known secret value
//! masked before anything is printed.

use crate::cli::{ColorWhen, GlobalArgs};
use anstyle::{AnsiColor, Style};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const STEP: Style = AnsiColor::Cyan.on_default().bold();
const OK: Style = AnsiColor::Green.on_default().bold();
const DONE: Style = AnsiColor::Green.on_default();
const WARN: Style = AnsiColor::Yellow.on_default().bold();
const ERROR: Style = AnsiColor::Red.on_default().bold();
const TRACE: Style = Style::new().dimmed();

pub struct Printer {
    quiet: bool,
    /// `-v`: 1 says what runs on which host, 2 adds timings.
    verbose: u8,
    /// Colors on stderr (progress, errors).
    color: bool,
    /// Colors on stdout (`vpai check`'s findings): the same setting, asked of stdout.
    color_stdout: bool,
    /// Every secret value known so far (and its encoded forms), masked in all output.
    secrets: Mutex<(Vec<String>, vpai_vault::Redactor)>,
    bars: MultiProgress,
    services: Mutex<BTreeMap<String, ProgressBar>>,
}

/// Whether to color a stream: `--color always|never` decides; `auto` colors a
/// terminal unless `NO_COLOR` is set (any non-empty value), and `CLICOLOR_FORCE`
/// (non-empty, not `0`) colors even a pipe. <https://no-color.org>, <https://bixense.com/clicolors/>
pub fn use_color(
    when: ColorWhen,
    no_color: Option<&OsStr>,
    clicolor_force: Option<&OsStr>,
    terminal: bool,
) -> bool {
    match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => {
            if no_color.is_some_and(|v| !v.is_empty()) {
                false
            } else if clicolor_force.is_some_and(|v| !v.is_empty() && v != "0") {
                true
            } else {
                terminal
            }
        }
    }
}

/// [`use_color`] with this process's environment.
pub fn color_for(when: ColorWhen, terminal: bool) -> bool {
    use_color(
        when,
        std::env::var_os("NO_COLOR").as_deref(),
        std::env::var_os("CLICOLOR_FORCE").as_deref(),
        terminal,
    )
}

impl Printer {
    pub fn new(global: &GlobalArgs) -> Self {
        let tty = std::io::stderr().is_terminal();
        let quiet = global.quiet;
        let bars = MultiProgress::with_draw_target(if tty && !quiet {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        Printer {
            quiet,
            verbose: global.verbose,
            color: color_for(global.color, tty),
            color_stdout: color_for(global.color, std::io::stdout().is_terminal()),
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

    /// Whether `text` holds a known secret value: any value of at least the redactor's
    /// length in any of its encoded forms, or a shorter one verbatim.
    pub fn contains_secret(&self, text: &str) -> bool {
        let guard = self.secrets.lock().expect("not poisoned");
        let (known, redactor) = &*guard;
        redactor.contains_secret(text) || known.iter().any(|v| !v.is_empty() && text.contains(v))
    }

    /// Whether stderr gets colors (`--color`, `NO_COLOR`, `CLICOLOR_FORCE`, a terminal).
    pub fn color(&self) -> bool {
        self.color
    }

    /// Whether stdout gets colors: the same setting, for data on stdout.
    pub fn color_stdout(&self) -> bool {
        self.color_stdout
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }

    /// `-v`: a line on stderr about what runs where (never suppressed by a progress bar).
    fn trace(&self, level: u8, text: &str) {
        if self.verbose < level {
            return;
        }
        let text = self.paint(TRACE, &self.redact(text));
        self.bars.suspend(|| eprintln!("{text}"));
    }

    /// `host`, telling with `-v` what runs on it (and with `-vv` how long it took).
    pub fn traced<'a>(&'a self, host: &'a dyn vpai_host::Host) -> Traced<'a> {
        Traced {
            inner: host,
            printer: self,
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
        let arrow = self.paint(STEP, "==>");
        self.info(&format!("{arrow} {text}"));
    }

    pub fn success(&self, text: &str) {
        let mark = self.paint(OK, "ok");
        self.info(&format!("{mark} {text}"));
    }

    pub fn warn(&self, text: &str) {
        let w = self.paint(WARN, "warning:");
        let text = self.redact(text);
        self.bars.suspend(|| eprintln!("{w} {text}"));
    }

    pub fn error_text(&self, text: &str) {
        let e = self.paint(ERROR, "error:");
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
            bar.finish_with_message(self.paint(DONE, state));
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

/// A host whose every command is announced with `-v`: the program, or a script by its
/// `$0` name, and the files read or written; never the arguments (a script's
/// arguments may be anything) nor stdin (where secrets travel).
pub struct Traced<'a> {
    inner: &'a dyn vpai_host::Host,
    printer: &'a Printer,
}

/// What a command line is, for `-v`: `docker compose`, `bash script vpai-read`.
pub fn describe(args: &[&str]) -> String {
    // `flock -s FILE CMD...` (the deploy lock guard) wraps the real command.
    let (guard, args) = match args {
        ["flock", "-s", _, rest @ ..] => (" (guarded by the deploy lock)", rest),
        _ => ("", args),
    };
    let what = match args {
        [shell @ ("bash" | "sh"), "-c", _, name, ..] => format!("{shell} script {name}"),
        [shell @ ("bash" | "sh"), "-c", ..] => format!("{shell} script"),
        [program, rest @ ..] => {
            // The program and its subcommand words (`docker compose up`), up to the
            // first option or value: a word with anything but lowercase letters.
            let words: Vec<&str> = rest
                .iter()
                .take_while(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
                .take(2)
                .copied()
                .collect();
            std::iter::once(*program)
                .chain(words)
                .collect::<Vec<_>>()
                .join(" ")
        }
        [] => "(nothing)".to_string(),
    };
    format!("{what}{guard}")
}

impl Traced<'_> {
    fn timed<T>(&self, what: &str, run: impl FnOnce() -> T) -> T {
        let name = self.inner.name();
        self.printer.trace(1, &format!("[{name}] {what}"));
        let started = Instant::now();
        let result = run();
        self.printer.trace(
            2,
            &format!("[{name}] {what}: {:.3} s", started.elapsed().as_secs_f64()),
        );
        result
    }
}

impl vpai_host::Host for Traced<'_> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn run(
        &self,
        args: &[&str],
        stdin: Option<&[u8]>,
    ) -> Result<vpai_host::CmdOutput, vpai_host::HostError> {
        let what = format!("run {}", describe(args));
        self.timed(&what, || self.inner.run(args, stdin))
    }

    fn read_file(&self, path: &Path) -> Result<Option<vpai_host::FileState>, vpai_host::HostError> {
        let what = format!("read {}", path.display());
        self.timed(&what, || self.inner.read_file(path))
    }

    fn write_file(
        &self,
        root: &Path,
        path: &Path,
        bytes: &[u8],
        mode: u32,
        owner: (u32, u32),
        backup: Option<&Path>,
    ) -> Result<vpai_host::WriteOutcome, vpai_host::HostError> {
        let what = format!("write {}", root.join(path).display());
        self.timed(&what, || {
            self.inner
                .write_file(root, path, bytes, mode, owner, backup)
        })
    }

    fn ensure_dir(
        &self,
        root: &Path,
        path: &Path,
        mode: u32,
        owner: (u32, u32),
    ) -> Result<vpai_host::WriteOutcome, vpai_host::HostError> {
        let what = format!("mkdir {}", root.join(path).display());
        self.timed(&what, || self.inner.ensure_dir(root, path, mode, owner))
    }

    fn spawn(&self, args: &[&str]) -> Result<std::process::Child, vpai_host::HostError> {
        self.printer.trace(
            1,
            &format!("[{}] start {}", self.inner.name(), describe(args)),
        );
        self.inner.spawn(args)
    }

    fn run_interactive(&self, args: &[&str], tty: bool) -> Result<i32, vpai_host::HostError> {
        let what = format!("run {}", describe(args));
        self.timed(&what, || self.inner.run_interactive(args, tty))
    }

    fn is_remote(&self) -> bool {
        self.inner.is_remote()
    }

    fn transport_failure(&self, stderr: &str) -> Option<vpai_host::HostError> {
        self.inner.transport_failure(stderr)
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

/// The last `--color WHEN` (or `--color=WHEN`) of a command line, before `--`: what
/// clap must know before it parses (its help and usage errors are printed then).
pub fn color_flag(args: &[std::ffi::OsString]) -> Option<ColorWhen> {
    use clap::ValueEnum;
    let mut found = None;
    let mut args = args.iter().map(|a| a.to_string_lossy());
    while let Some(arg) = args.next() {
        let value = match arg.as_ref() {
            "--" => break,
            "--color" => args.next().map(|v| v.into_owned()),
            other => other.strip_prefix("--color=").map(str::to_string),
        };
        if let Some(v) = value
            && let Ok(when) = ColorWhen::from_str(&v, true)
        {
            found = Some(when);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::{OsStr, OsString};

    #[test]
    fn color_follows_the_flag_then_no_color_then_clicolor_force_then_the_terminal() {
        let on = Some(OsStr::new("1"));
        let empty = Some(OsStr::new(""));
        assert!(use_color(ColorWhen::Always, on, None, false));
        assert!(!use_color(ColorWhen::Never, None, on, true));
        assert!(!use_color(ColorWhen::Auto, on, None, true), "NO_COLOR=1");
        assert!(
            use_color(ColorWhen::Auto, empty, None, true),
            "empty NO_COLOR counts as unset"
        );
        assert!(
            use_color(ColorWhen::Auto, None, on, false),
            "CLICOLOR_FORCE=1"
        );
        assert!(!use_color(
            ColorWhen::Auto,
            None,
            Some(OsStr::new("0")),
            false
        ));
        assert!(
            !use_color(ColorWhen::Auto, on, on, true),
            "NO_COLOR wins over CLICOLOR_FORCE"
        );
        assert!(use_color(ColorWhen::Auto, None, None, true));
        assert!(!use_color(ColorWhen::Auto, None, None, false));
    }

    #[test]
    fn the_color_flag_is_found_before_clap_parses() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            color_flag(&args(&["vpai", "--color", "never", "up"])),
            Some(ColorWhen::Never)
        );
        assert_eq!(
            color_flag(&args(&["vpai", "plan", "--color=always"])),
            Some(ColorWhen::Always)
        );
        assert_eq!(
            color_flag(&args(&["vpai", "check", "--", "--color=always"])),
            None
        );
        assert_eq!(color_flag(&args(&["vpai", "--color", "sometimes"])), None);
    }

    #[test]
    fn verbose_lines_name_programs_and_scripts_never_arguments() {
        assert_eq!(
            describe(&[
                "bash",
                "-c",
                "echo $1",
                "vpai-read",
                "/opt/demo",
                "s3cr3t-value"
            ]),
            "bash script vpai-read"
        );
        assert_eq!(
            describe(&["docker", "compose", "-f", "x.yml", "up", "-d"]),
            "docker compose"
        );
        assert_eq!(
            describe(&[
                "flock",
                "-s",
                "/opt/demo/.vpai/lock",
                "docker",
                "inspect",
                "demo-n8n"
            ]),
            "docker inspect (guarded by the deploy lock)"
        );
        assert_eq!(
            describe(&[
                "docker",
                "exec",
                "-i",
                "pg",
                "psql",
                "password=hunter2hunter2"
            ]),
            "docker exec"
        );
    }

    #[test]
    fn contains_secret_sees_short_values_too() {
        let printer = Printer::new(&GlobalArgs {
            quiet: true,
            verbose: 0,
            color: ColorWhen::Never,
        });
        printer.add_secrets(["a-long-secret-value", "short"]);
        assert!(printer.contains_secret("X='a-long-secret-value'"));
        assert!(printer.contains_secret("X=short"));
        assert!(!printer.contains_secret("TZ=UTC"));
        assert_eq!(printer.redact("k=a-long-secret-value"), "k=********");
    }
}
