//! No input makes the checker panic: arbitrary bytes under every file name we
//! recognise, and every prefix of every fixture (truncated YAML, JSON, Caddyfiles).

mod common;

use proptest::prelude::*;
use vpai_check::{CheckOptions, SourceFile, check_files, doctor, fix};

const NAMES: &[&str] = &[
    "docker-compose.yml",
    "Caddyfile",
    "postgresql.conf",
    "redis.conf",
    "users.acl",
    "production.yaml",
    "loki-config.yaml",
    "config.yaml",
    "openclaw.json",
    "datasources.yaml",
    "app.env",
    "smoke.sh",
    "any.yml",
    "Caddyfile.j2",
];

fn check_and_fix(files: Vec<SourceFile>) {
    let report = check_files(&files, &CheckOptions::default());
    let _ = report.render_human(&files, true);
    let _ = report.to_json();
    let _ = report.to_sarif();
    let mut files = files;
    let _ = fix(&mut files, &report);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512), name in 0..NAMES.len()) {
        let file = SourceFile::new(NAMES[name], bytes).with_mode(0o644).with_owner(1, 1);
        check_and_fix(vec![file]);
    }

    #[test]
    fn arbitrary_text(text in "[ -~\t\n\r{}\\[\\]:\"'\\\\$#-]{0,400}", name in 0..NAMES.len()) {
        let file = SourceFile::new(NAMES[name], text.into_bytes());
        check_and_fix(vec![file]);
    }

    #[test]
    fn arbitrary_logs(text in "\\PC{0,400}") {
        let _ = doctor::diagnose("openclaw", &text);
    }

    /// Lines under secret-looking names, with controls and multi-byte characters:
    /// masking and terminal escaping of snippets never panic.
    #[test]
    fn arbitrary_secret_lines(
        lines in proptest::collection::vec(
            (0..SECRET_KEYS.len(), 0..SEPARATORS.len(), "[ -~\t\x1b\x07\u{9b}\u{202e}é]{0,24}"),
            0..12,
        ),
        name in 0..NAMES.len(),
    ) {
        let text: String = lines
            .iter()
            .map(|(k, sep, v)| format!("{}{}{v}\n", SECRET_KEYS[*k], SEPARATORS[*sep]))
            .collect();
        let file = SourceFile::new(NAMES[name], text.into_bytes()).with_mode(0o644).with_owner(1, 1);
        check_and_fix(vec![file]);
    }

    #[test]
    fn arbitrary_log_lines_render(text in "(\\PC|[\x00-\x1f\u{80}-\u{9f}\u{202a}-\u{202e}]){0,300}") {
        let logs = format!("{text} empty ring {text}\n");
        let found = doctor::diagnose(&text, &logs);
        let _ = doctor::render(&text, &found);
        let _ = doctor::to_json(&[(text.clone(), found)]);
    }
}

const SECRET_KEYS: &[&str] = &[
    "  POSTGRES_PASSWORD",
    "- REDIS_PASSWORD",
    "requirepass",
    "user app on >",
    "command: redis-server --requirepass",
    "  test: [\"CMD\", \"redis-cli\", \"-a\",",
    "url: postgres://u:",
    "\"botToken\"",
    "master_key",
    "",
];

const SEPARATORS: &[&str] = &[": ", "=", " ", ": \"", ": '", "@", ""];

#[test]
fn every_prefix_of_every_fixture() {
    let root = common::fixtures_dir();
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        for side in ["bad", "good"] {
            let files = common::load_dir(&dir.join(side));
            for (i, f) in files.iter().enumerate() {
                let step = (f.text.len() / 16).max(1);
                for cut in (0..f.text.len()).step_by(step) {
                    let mut set = files.clone();
                    set[i].text.truncate(cut);
                    check_and_fix(set);
                }
            }
        }
    }
}
