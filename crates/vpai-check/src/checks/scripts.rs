//! Shell script rules: `dig` (seed 000 #27).

use super::Parsed;
use crate::report::Finding;
use crate::rules;

pub fn check(f: &Parsed, out: &mut Vec<Finding>) {
    let mut offset = 0;
    for line in f.text.split_inclusive('\n') {
        let code = line.split(" #").next().unwrap_or(line);
        if !code.trim_start().starts_with('#') {
            let bytes = code.as_bytes();
            let mut from = 0;
            while let Some(i) = code[from..].find("dig") {
                let at = from + i;
                let before_ok = at == 0
                    || matches!(
                        bytes[at - 1],
                        b' ' | b'\t' | b'(' | b'|' | b';' | b'`' | b'&' | b'='
                    );
                let after_ok = matches!(
                    bytes.get(at + 3),
                    Some(b' ') | Some(b'\t') | Some(b'\n') | Some(b'\r') | None
                );
                if before_ok && after_ok {
                    out.push(f.finding(
                        rules::DIG_IN_SCRIPT,
                        offset + at,
                        offset + at + 3,
                        "`dig` is not installed on minimal Debian 13 hosts and images",
                    ));
                }
                from = at + 3;
            }
        }
        offset += line.len();
    }
}
