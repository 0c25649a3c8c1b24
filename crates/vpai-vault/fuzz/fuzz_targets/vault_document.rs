//! The decrypted TOML document of `secrets.vault` (also what `secrets edit` reads back).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vpai_vault::fuzzing::parse_vault_document(data));
