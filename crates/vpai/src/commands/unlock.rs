//! `vpai unlock [--for DURATION]` and `vpai lock [--all]`: keep a passphrase vault open
//! for a while, so that the next commands skip the scrypt key derivation (about a
//! second each), as ssh-agent does for a key. What is held and where (the kernel's user
//! keyring, never the disk) is `vpai_vault::keyring`'s doc.
//!
//! Also [`offer`]: after a command opened the vault with a passphrase typed at the
//! prompt, offer to keep it open (a question on a terminal, a hint line otherwise).

use crate::cli::StackArgs;
use crate::printer::Printer;
use crate::project::Project;
use clap::Args;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;
use vpai_vault::keyring::{self, DEFAULT_HOLD, MAX_HOLD};
use vpai_vault::{PassphraseSource, SecretStore};

pub const UNLOCK_EXAMPLES: &str = "Examples:
  vpai unlock                  # asks the passphrase once; the vault stays open 15 minutes
  vpai unlock --for 8h         # a working day (30s, 15m, 8h, 1d, 1h30m; at most 7d)
  vpai unlock --example        # the embedded example's vault
  VPAI_VAULT_PASSWORD_FILE=~/.vpai-pass vpai unlock   # the key from a file, as everywhere

While it is open, every vpai command of your user opens the vault in milliseconds,
without a passphrase, and a command that saves it keeps it open. The passphrase and
the vault's file key are held in the kernel's user keyring (readable by your user only,
never written to disk) and dropped by the kernel when the time is up; `vpai lock`
drops them at once. An identity vault (VPAI_VAULT_IDENTITY_FILE) is fast already and
is not held.
Exit status: 0 unlocked, 2 a wrong passphrase, no vault yet, or no kernel keyring here
(a container's seccomp profile: then use VPAI_VAULT_PASSWORD_FILE).";

pub const LOCK_EXAMPLES: &str = "Examples:
  vpai lock                    # the vault of ./stack.toml: the next command asks again
  vpai lock -f prod/stack.toml # another stack's vault
  vpai lock --all              # every vault `vpai unlock` holds for your user

Exit status: 0, also when nothing was held.";

#[derive(Debug, Args)]
pub struct UnlockArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// How long the vault stays open: `30s`, `15m`, `8h`, `1d`, `1h30m` (at most 7d).
    #[arg(long = "for", value_name = "DURATION", default_value = "15m", value_parser = parse_hold)]
    pub hold: Duration,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// Lock every vault vpai holds open for your user, whatever the stack.
    #[arg(long, conflicts_with_all = ["file", "example"])]
    pub all: bool,
}

pub fn run_unlock(args: UnlockArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let project = Project::load(&args.stack)?;
    let done = keyring::unlock(
        &project.state_dir,
        &project.stack.project,
        &PassphraseSource::Environment,
        args.hold,
    )?;
    let verb = if done.was_held {
        "still unlocked"
    } else {
        "unlocked"
    };
    printer.success(&format!(
        "{verb} `{}` for {} (until {}): the next commands skip the key derivation; `vpai lock` locks it now",
        done.path.display(),
        span(args.hold),
        clock(done.expires_at)
    ));
    Ok(ExitCode::SUCCESS)
}

pub fn run_lock(args: LockArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    if args.all {
        let removed = keyring::forget_all()?;
        printer.info(&match removed {
            0 => "no vault was unlocked".to_string(),
            1 => "locked 1 vault".to_string(),
            n => format!("locked {n} vaults"),
        });
        return Ok(ExitCode::SUCCESS);
    }
    let project = Project::load(&args.stack)?;
    let path = project.state_dir.join(vpai_vault::VAULT_FILE);
    if keyring::forget(&path)? {
        printer.success(&format!(
            "locked `{}`: the next command asks for its key",
            path.display()
        ));
    } else {
        printer.info(&format!("`{}` was not unlocked", path.display()));
    }
    Ok(ExitCode::SUCCESS)
}

/// After a command opened the vault with a passphrase typed at the prompt: on a
/// terminal, ask whether to keep it open for [`DEFAULT_HOLD`]; otherwise (stdin is a
/// pipe or a file) one hint line. Nothing when the kernel keyring is not usable here,
/// and never a wait for an answer without a terminal.
pub fn offer(store: &mut SecretStore, printer: &Printer) {
    if !store.key_was_typed() || keyring::check_available().is_err() {
        return;
    }
    let minutes = DEFAULT_HOLD.as_secs() / 60;
    if std::io::stdin().is_terminal()
        && let Some(yes) = ask_on_tty(&format!(
            "Keep `{}` unlocked for {minutes} min, so that the next commands skip the key derivation? [y/N] ",
            store.path().display()
        ))
    {
        if yes {
            match store.hold(DEFAULT_HOLD) {
                Ok(until) => printer.info(&format!(
                    "unlocked until {} (`vpai lock` locks it now)",
                    clock(until)
                )),
                Err(e) => printer.warn(&format!("not unlocked: {e}")),
            }
        }
        return;
    }
    printer.info(&format!(
        "hint: `vpai unlock` keeps the vault open for {minutes} min (the next commands skip the key derivation, about a second each)"
    ));
}

/// ` (unlocked until 14:32)` when the store opened through `vpai unlock`'s keyring.
pub fn held_note(store: &SecretStore) -> String {
    store
        .held_until()
        .map(|until| format!(" (unlocked until {}; `vpai lock` locks it)", clock(until)))
        .unwrap_or_default()
}

/// A yes/no question on the controlling terminal; `None` when there is none.
fn ask_on_tty(question: &str) -> Option<bool> {
    let mut tty = fs_err::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    write!(tty, "{question}").ok()?;
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(tty), &mut line).ok()?;
    let answer = line.trim().to_ascii_lowercase();
    Some(answer == "y" || answer == "yes")
}

/// `--for`: a number and a unit (`s`, `m`, `h`, `d`), possibly several (`1h30m`).
fn parse_hold(text: &str) -> Result<Duration, String> {
    let total = parse_duration(text)?;
    if total > MAX_HOLD {
        return Err(format!(
            "at most {} (7d); for longer, keep the passphrase in a private file (VPAI_VAULT_PASSWORD_FILE)",
            span(MAX_HOLD)
        ));
    }
    Ok(total)
}

/// A duration as operators write it (`15m`, `1h30m`, `1d`; never zero).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    vpai_spec::values::parse_duration(text.trim()).map_err(|r| format!("{}: {}", r.message, r.help))
}

/// `15 min`, `8 h`, `1 h 30 min`, `45 s`.
pub(crate) fn span(d: Duration) -> String {
    let secs = d.as_secs();
    let (days, hours, minutes, seconds) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    let parts: Vec<String> = [(days, "d"), (hours, "h"), (minutes, "min"), (seconds, "s")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}"))
        .collect();
    parts.join(" ")
}

/// The local wall-clock time of `unix` (`14:32`, or `Mon 14:32` when not today).
pub(crate) fn clock(unix: u64) -> String {
    let local = |t: u64| {
        let t = t as libc::time_t;
        // SAFETY: localtime_r only writes the `tm` it is given.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
        ok.then_some(tm)
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (Some(at), Some(today)) = (local(unix), local(now)) else {
        return format!("{unix} (Unix time)");
    };
    let time = format!("{:02}:{:02}", at.tm_hour, at.tm_min);
    if (at.tm_year, at.tm_yday) == (today.tm_year, today.tm_yday) {
        time
    } else {
        const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
        format!("{} {time}", DAYS[at.tm_wday.rem_euclid(7) as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_and_compounds_and_refuse_the_rest() {
        for (text, secs) in [
            ("30s", 30),
            ("15m", 900),
            ("8h", 28_800),
            ("1d", 86_400),
            ("1h30m", 5400),
            ("7d", 604_800),
        ] {
            assert_eq!(parse_hold(text), Ok(Duration::from_secs(secs)), "{text}");
        }
        for bad in [
            "",
            "15",
            "m",
            "0s",
            "1x",
            "-5m",
            "1.5h",
            "8d",
            "99999999999999999999s",
        ] {
            assert!(parse_hold(bad).is_err(), "{bad}");
        }
        assert!(
            parse_hold("8d")
                .unwrap_err()
                .contains("VPAI_VAULT_PASSWORD_FILE")
        );
    }

    #[test]
    fn spans_read_like_a_person_writes_them() {
        assert_eq!(span(Duration::from_secs(900)), "15 min");
        assert_eq!(span(Duration::from_secs(5400)), "1 h 30 min");
        assert_eq!(span(Duration::from_secs(1)), "1 s");
        assert_eq!(span(Duration::from_secs(86_400)), "1 d");
    }

    #[test]
    fn the_clock_is_hours_and_minutes() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let text = clock(now);
        assert_eq!(text.len(), 5, "{text}");
        assert_eq!(&text[2..3], ":");
        let later = clock(now + 3 * 86_400);
        assert_eq!(later.len(), 9, "{later}");
    }
}
