//! `vpai check` and `vpai doctor` pointed at what is not a configuration file or a
//! log (`/dev/zero`, a FIFO, a huge file, links out of the tree), at files holding
//! secrets, and at text carrying terminal escape sequences: they fail fast with a
//! message, never print a secret value, and never send a control sequence.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;
use vpai_check::input::{self, MAX_CHECKED_FILE};
use vpai_check::{CheckOptions, LoadError, SourceFile, check_files, doctor, load};

/// Run `f` on another thread and fail (rather than hang) if it takes over 20 s.
fn within_seconds<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("did not return within 20 s (blocked on the input?)")
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
}

fn load_err(path: PathBuf) -> LoadError {
    within_seconds(move || load(&[path])).expect_err("refused")
}

#[test]
fn check_refuses_dev_zero() {
    let err = load_err("/dev/zero".into());
    let msg = err.to_string();
    assert!(matches!(err, LoadError::NotRegular { .. }), "{msg}");
    assert!(msg.contains("`/dev/zero`"), "{msg}");
    assert!(
        msg.contains("a character device, not a regular file"),
        "{msg}"
    );
    assert!(
        msg.contains("give `vpai check` configuration files"),
        "{msg}"
    );
}

#[test]
fn check_refuses_a_fifo() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("docker-compose.yml");
    mkfifo(&fifo);
    let err = load_err(fifo.clone());
    let msg = err.to_string();
    assert!(msg.contains(&fifo.display().to_string()), "{msg}");
    assert!(
        msg.contains("a FIFO (named pipe), not a regular file"),
        "{msg}"
    );
}

#[test]
fn check_refuses_a_file_over_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("docker-compose.yml");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(MAX_CHECKED_FILE + 1).unwrap();
    let err = load_err(big.clone());
    let msg = err.to_string();
    assert!(matches!(err, LoadError::TooLarge { .. }), "{msg}");
    assert!(msg.contains(&big.display().to_string()), "{msg}");
    assert!(
        msg.contains("it is 8388609 bytes, over the 8 MiB limit for a checked file"),
        "{msg}"
    );
    // Exactly at the cap is fine.
    file.set_len(MAX_CHECKED_FILE).unwrap();
    let loaded = load(&[big]).unwrap();
    assert_eq!(loaded.files[0].text.len() as u64, MAX_CHECKED_FILE);
}

#[test]
fn a_directory_walk_skips_what_is_not_a_regular_file_with_a_note() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("secret.env"),
        "POSTGRES_PASSWORD=outside-the-tree\n",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("docker-compose.yml"), "services: {}\n").unwrap();
    mkfifo(&root.join("pipe.yml"));
    std::os::unix::fs::symlink(outside.path().join("secret.env"), root.join("link.env")).unwrap();
    std::os::unix::fs::symlink(outside.path(), root.join("elsewhere")).unwrap();
    let big = std::fs::File::create(root.join("big.yaml")).unwrap();
    big.set_len(MAX_CHECKED_FILE + 1).unwrap();
    // Not a name `vpai check` reads: passed over without a note.
    std::fs::write(root.join("notes.txt"), "x").unwrap();

    let root_path = root.to_path_buf();
    let loaded = within_seconds(move || load(&[root_path])).unwrap();
    let names: Vec<&str> = loaded.files.iter().map(|f| f.file_name()).collect();
    assert_eq!(names, ["docker-compose.yml"]);
    let notes: Vec<(String, String)> = loaded
        .skipped
        .iter()
        .map(|s| {
            let name = Path::new(&s.path).file_name().unwrap();
            (name.to_string_lossy().into_owned(), s.reason.clone())
        })
        .collect();
    let reason = |name: &str| {
        notes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r.as_str())
            .unwrap_or_else(|| panic!("no note for {name}: {notes:?}"))
    };
    assert_eq!(notes.len(), 4, "{notes:?}");
    assert!(reason("pipe.yml").contains("FIFO"), "{notes:?}");
    assert!(reason("link.env").contains("symbolic link"), "{notes:?}");
    assert!(reason("elsewhere").contains("symbolic link"), "{notes:?}");
    assert!(
        reason("big.yaml").contains("over the 8 MiB limit"),
        "{notes:?}"
    );
}

#[test]
fn a_symbolic_link_named_on_the_command_line_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("real-compose.yml");
    std::fs::write(&target, "services: {}\n").unwrap();
    let link = dir.path().join("docker-compose.yml");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let loaded = load(&[link]).unwrap();
    assert_eq!(loaded.files.len(), 1);
    assert_eq!(loaded.files[0].text, b"services: {}\n");
}

#[test]
fn doctor_refuses_dev_zero_and_a_fifo() {
    let err = within_seconds(|| input::read_log_file(Path::new("/dev/zero"), "/dev/zero"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`/dev/zero`") && err.contains("character device"),
        "{err}"
    );
    assert!(err.contains("vpai doctor --logs -"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("app.log");
    mkfifo(&fifo);
    let shown = fifo.display().to_string();
    let err = within_seconds(move || input::read_log_file(&fifo, &shown))
        .unwrap_err()
        .to_string();
    assert!(err.contains("FIFO"), "{err}");
}

#[test]
fn doctor_reads_a_large_log_as_its_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("loki.log");
    let mut text = String::new();
    for i in 0..2000 {
        text.push_str(&format!("level=info msg=\"line {i}\"\n"));
    }
    text.push_str("level=error msg=\"error getting ingester clients\" err=\"empty ring\"\n");
    std::fs::write(&path, &text).unwrap();
    let log = input::read_log_file_capped(&path, "loki.log", 1000).unwrap();
    assert!(log.bytes.len() <= 1000);
    assert!(log.skipped > 0);
    let tail = String::from_utf8(log.bytes).unwrap();
    assert!(tail.starts_with("level=info"), "starts at a line: {tail}");
    assert!(tail.ends_with("err=\"empty ring\"\n"));
    assert_eq!(log.skipped as usize + tail.len(), text.len());
    let found = doctor::diagnose("loki", &tail);
    assert_eq!(found[0].symptom, "loki-empty-ring");
}

// ------------------------------------------------------------------ secrets

const COMPOSE_SECRET: &str = "Zq7-compose-Secret-Value";
const SEQ_SECRET: &str = "Zq7-seq-Secret-Value";
const REDIS_CMD_SECRET: &str = "Zq7-requirepass-Value";
const REDIS_HC_SECRET: &str = "Zq7-healthcheck-Value";
const LITELLM_SECRET: &str = "sk-Zq7-litellm-Value";
const ENV_SECRET: &str = "Zq7-env-file-Value";
const REDIS_CONF_SECRET: &str = "Zq7-redis-conf-Value";

fn secret_files() -> Vec<SourceFile> {
    let compose = format!(
        "services:
  postgresql:
    image: postgres:18.1-bookworm
    environment:
      POSTGRES_PASSWORD: {COMPOSE_SECRET}
  n8n:
    image: n8nio/n8n:1.100.0
    environment:
      - DB_POSTGRESDB_PASSWORD={SEQ_SECRET}
  redis:
    image: redis:8.0-bookworm
    command: redis-server --requirepass {REDIS_CMD_SECRET}
    healthcheck:
      test: [\"CMD\", \"redis-cli\", \"-h\", \"localhost\", \"-a\", \"{REDIS_HC_SECRET}\", \"ping\"]
"
    );
    let litellm = format!(
        "model_list: []\ngeneral_settings:\n  master_key: {LITELLM_SECRET}\n  background_health_checks: false\n"
    );
    vec![
        SourceFile::new("docker-compose.yml", compose),
        SourceFile::new("litellm/config.yaml", litellm),
        SourceFile::new("env/n8n.env", format!("N8N_ENCRYPTION_KEY={ENV_SECRET}\n"))
            .with_mode(0o644)
            .with_owner(0, 0),
        SourceFile::new(
            "redis/redis.conf",
            format!("requirepass {REDIS_CONF_SECRET}\nrename-command FLUSHALL \"\"\n"),
        ),
    ]
}

#[test]
fn secrets_are_masked_in_every_output_format() {
    let files = secret_files();
    let report = check_files(&files, &CheckOptions::default());
    let rules: Vec<&str> = report.findings.iter().map(|f| f.rule).collect();
    // (VP101 used to fire on the healthcheck line too; `redis-cli` falls back from
    // `::1` to 127.0.0.1, so it no longer does: VP212 shows that line.)
    for rule in ["VP212", "VP412", "VP615", "VP801", "VP211"] {
        assert!(rules.contains(&rule), "{rule} not in {rules:?}");
    }
    let outputs = [
        ("human", report.render_human(&files, false)),
        ("human in colour", report.render_human(&files, true)),
        ("json", report.to_json()),
        ("sarif", report.to_sarif()),
    ];
    for (format, out) in &outputs {
        for secret in [
            COMPOSE_SECRET,
            SEQ_SECRET,
            REDIS_CMD_SECRET,
            REDIS_HC_SECRET,
            LITELLM_SECRET,
            ENV_SECRET,
            REDIS_CONF_SECRET,
        ] {
            assert!(
                !out.contains(secret),
                "{format} output shows {secret}:\n{out}"
            );
            assert!(
                !out.contains("Zq7"),
                "{format} output shows a part of a secret:\n{out}"
            );
        }
    }
    let human = &outputs[0].1;
    assert!(
        human.contains("POSTGRES_PASSWORD: ********"),
        "the key stays visible:\n{human}"
    );
    // The spans still point at the values, for editors.
    let compose = String::from_utf8(files[0].text.clone()).unwrap();
    let vp801 = report.findings.iter().find(|f| f.rule == "VP801").unwrap();
    assert_eq!(&compose[vp801.start..vp801.end], COMPOSE_SECRET);
    let json: serde_json::Value = serde_json::from_str(&outputs[2].1).unwrap();
    let found = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "VP801")
        .unwrap();
    assert_eq!(found["start"], vp801.start);
    assert_eq!(found["column"], 26);
}

#[test]
fn a_secret_quoted_in_a_message_is_scrubbed() {
    // A service whose name is its password (what a rule quotes is the name).
    let files = vec![SourceFile::new(
        "docker-compose.yml",
        "services:\n  Zq7-Named-Secret:\n    image: grafana/loki:3.5.0\n    environment:\n      LOKI_PASSWORD: Zq7-Named-Secret\n",
    )];
    let report = check_files(&files, &CheckOptions::default());
    assert!(!report.findings.is_empty());
    for out in [
        report.render_human(&files, false),
        report.to_json(),
        report.to_sarif(),
    ] {
        assert!(!out.contains("Zq7"), "{out}");
    }
}

// ------------------------------------------------------------------ terminal escapes

const ESCAPES: &str = "\x1b]0;pwned\x07\x1b[2J\u{9b}1m\u{202e}";

fn has_controls(s: &str) -> bool {
    s.contains('\x1b')
        || s.contains('\x07')
        || s.contains('\u{9b}')
        || s.contains('\u{202e}')
        || s.contains('\r')
}

#[test]
fn check_prints_no_terminal_escape_from_files() {
    // A quoted service name with YAML's "\e" and "\a" escapes (the message quotes
    // the decoded name), a bidi override before the flagged `localhost` (YAML
    // allows it raw), raw escapes on a flagged redis.conf line, raw escapes that
    // break a YAML file (its snippet and the parser's message), and a file name.
    let compose = "services:\n  \"loki\\e]0;pwned\\a\\e[2J\":\n    image: grafana/loki:3.5.0\n    command: -config.file=/etc/loki/config.yaml\n    healthcheck:\n      test: [\"CMD\", \"wget\", \"\u{202e}-qO-\", \"http://localhost:3100/ready\"]\n";
    let files = vec![
        SourceFile::new(format!("evil{ESCAPES}/docker-compose.yml"), compose),
        SourceFile::new(
            "redis/redis.conf",
            format!("rename-command FLUSHALL \"\" # {ESCAPES}\n"),
        ),
        SourceFile::new(
            "broken/docker-compose.yml",
            format!("services:\n  a: {ESCAPES}\n    b\n"),
        ),
    ];
    let report = check_files(&files, &CheckOptions::default());
    let rules: Vec<&str> = report.findings.iter().map(|f| f.rule).collect();
    for rule in ["VP101", "VP501", "VP211", "VP404"] {
        assert!(rules.contains(&rule), "{rule} not in {rules:?}");
    }
    assert!(
        report.findings.iter().any(|f| f.message.contains('\x1b')),
        "the fixture makes a message quote an escape"
    );
    let human = report.render_human(&files, false);
    assert!(!has_controls(&human), "{human:?}");
    assert!(
        human.contains("\\x1b]0;pwned\\x07\\x1b[2J\\u{9b}1m\\u{202e}"),
        "{human}"
    );
    // The caret still sits under `localhost` on a line with an escape before it.
    let lines: Vec<&str> = human.lines().collect();
    let at = 3 + lines
        .iter()
        .position(|l| l.starts_with("warning[VP101]"))
        .unwrap();
    assert!(lines[at].contains("\\u{202e}-qO-"), "{human}");
    let col = lines[at].find("localhost").unwrap();
    assert_eq!(lines[at + 1].find('^'), Some(col), "{human}");
    for json in [report.to_json(), report.to_sarif()] {
        assert!(!has_controls(&json), "{json}");
        serde_json::from_str::<serde_json::Value>(&json).unwrap();
    }
}

#[test]
fn doctor_prints_no_terminal_escape_from_logs() {
    let logs = format!(
        "starting {ESCAPES}\nlevel=error msg=\"error getting ingester clients\" err=\"empty ring\" {ESCAPES}\n"
    );
    let service = format!("loki{ESCAPES}");
    let found = doctor::diagnose(&service, &logs);
    assert_eq!(found.len(), 1);
    let human = doctor::render(&service, &found);
    assert!(!has_controls(&human), "{human:?}");
    assert!(human.contains("\\x1b]0;pwned\\x07"), "{human}");
    let none = doctor::render(&service, &[]);
    assert!(!has_controls(&none), "{none:?}");
    let json = doctor::to_json(&[(service.clone(), found.clone())]);
    assert!(!has_controls(&json), "{json}");
    let back: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(back[0]["service"], service.as_str());
}
