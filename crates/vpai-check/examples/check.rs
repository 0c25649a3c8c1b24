//! `vpai check` without the rest of vpai: the same library call, for the benchmark
//! when the `vpai` binary cannot be built, and for debugging rules.
//!
//! cargo run --release -p vpai-check --example check -- [--format human|json|sarif] PATH...

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut format = "human".to_string();
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--format" => format = args.next().unwrap_or_default(),
            _ => paths.push(PathBuf::from(a)),
        }
    }
    if paths.is_empty() {
        paths.push(PathBuf::from("."));
    }
    let files = match vpai_check::load_paths(&paths) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let report = vpai_check::check_files(&files, &vpai_check::CheckOptions::default());
    let text = match format.as_str() {
        "json" => report.to_json(),
        "sarif" => report.to_sarif(),
        _ => report.render_human(&files, false),
    };
    println!("{}", text.trim_end());
    if report.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
