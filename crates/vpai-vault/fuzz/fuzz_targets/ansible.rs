//! Ansible Vault files and the YAML inside them come from outside vpai.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vpai_vault::fuzzing::ansible(data));
