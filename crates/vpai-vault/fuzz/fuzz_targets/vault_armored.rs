//! The armored age file as found on disk (or in a pull request).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vpai_vault::fuzzing::open_vault_bytes(data));
