//! What the forwarder package holds: the machine its `bootstrap` was built for, read from the
//! zip's central directory without unpacking it.
//!
//! Lambda accepts any zip: one built for the other architecture deploys cleanly and then fails
//! every invocation with an exec format error while the stack looks healthy. `enable` reads the
//! package first and refuses a mismatch before anything is created.

use std::io::Read;

use crate::config::LambdaArchitecture;

/// File name of the forwarder package for `arch`, in `dist/`, beside the binary and in the
/// bucket: `cequence-apigw-forwarder-arm64.zip`.
pub fn zip_name(arch: LambdaArchitecture) -> String {
    format!("cequence-apigw-forwarder-{}.zip", arch.as_str())
}

/// The instruction set of the package's `bootstrap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    Known(LambdaArchitecture),
    /// An ELF for a machine Lambda does not run (`e_machine`).
    Other(u16),
}

impl std::fmt::Display for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Machine::Known(a) => f.write_str(a.as_str()),
            Machine::Other(m) => write!(f, "ELF machine {m:#x}"),
        }
    }
}

const EOCD_SIG: u32 = 0x0605_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const LOCAL_SIG: u32 = 0x0403_4b50;
const EM_X86_64: u16 = 0x3E;
const EM_AARCH64: u16 = 0xB7;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The machine of the `bootstrap` in `zip`, or why it cannot be run by Lambda's
/// `provided.al2023` runtime (no `bootstrap`, not executable, not a 64-bit ELF).
pub fn bootstrap_machine(zip: &[u8]) -> Result<Machine, String> {
    let not_zip = || "not a zip archive (no end-of-central-directory record)".to_string();
    // The end record is the last 22 bytes, before a comment of up to 64 KiB.
    let earliest = zip.len().saturating_sub(22 + 0xFFFF);
    let eocd = (earliest..=zip.len().saturating_sub(22))
        .rev()
        .find(|&i| u32_at(zip, i) == Some(EOCD_SIG))
        .ok_or_else(not_zip)?;
    let entries = u16_at(zip, eocd + 10).ok_or_else(not_zip)?;
    let mut at = u32_at(zip, eocd + 16).ok_or_else(not_zip)? as usize;
    let corrupt = || "a corrupt zip archive (central directory out of bounds)".to_string();
    for _ in 0..entries {
        if u32_at(zip, at) != Some(CENTRAL_SIG) {
            return Err(corrupt());
        }
        let method = u16_at(zip, at + 10).ok_or_else(corrupt)?;
        let name_len = u16_at(zip, at + 28).ok_or_else(corrupt)? as usize;
        let extra_len = u16_at(zip, at + 30).ok_or_else(corrupt)? as usize;
        let comment_len = u16_at(zip, at + 32).ok_or_else(corrupt)? as usize;
        let made_by_unix = zip.get(at + 5) == Some(&3);
        let mode = u32_at(zip, at + 38).ok_or_else(corrupt)? >> 16;
        let local = u32_at(zip, at + 42).ok_or_else(corrupt)? as usize;
        let name = zip.get(at + 46..at + 46 + name_len).ok_or_else(corrupt)?;
        at += 46 + name_len + extra_len + comment_len;
        if name != b"bootstrap" {
            continue;
        }
        if made_by_unix && mode & 0o111 == 0 {
            return Err(format!(
                "its bootstrap is not executable (mode {:o}); Lambda could not start it",
                mode & 0o7777
            ));
        }
        let head = member_head(zip, local, method).ok_or_else(corrupt)??;
        return elf_machine(&head);
    }
    Err("no `bootstrap` at the top of the zip (the provided.al2023 runtime runs that file)".into())
}

/// The first 64 bytes of the member whose local header is at `local` (stored or deflated).
fn member_head(zip: &[u8], local: usize, method: u16) -> Option<Result<Vec<u8>, String>> {
    if u32_at(zip, local)? != LOCAL_SIG {
        return None;
    }
    let start = local + 30 + u16_at(zip, local + 26)? as usize + u16_at(zip, local + 28)? as usize;
    let data = zip.get(start..)?;
    let mut head = Vec::with_capacity(64);
    let read = match method {
        0 => {
            head.extend_from_slice(&data[..data.len().min(64)]);
            Ok(())
        }
        8 => flate2::read::DeflateDecoder::new(data)
            .take(64)
            .read_to_end(&mut head)
            .map(drop)
            .map_err(|e| format!("its bootstrap cannot be inflated: {e}")),
        m => Err(format!(
            "its bootstrap uses zip method {m}, not stored or deflate"
        )),
    };
    Some(read.map(|()| head))
}

fn elf_machine(head: &[u8]) -> Result<Machine, String> {
    if !head.starts_with(b"\x7fELF") {
        return Err("its bootstrap is not an ELF executable".into());
    }
    if head.get(4) != Some(&2) || head.get(5) != Some(&1) {
        return Err("its bootstrap is not a 64-bit little-endian ELF".into());
    }
    Ok(
        match u16_at(head, 18).ok_or("its bootstrap has a short ELF header")? {
            EM_X86_64 => Machine::Known(LambdaArchitecture::X86_64),
            EM_AARCH64 => Machine::Known(LambdaArchitecture::Arm64),
            other => Machine::Other(other),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use cq_test_support::lambda_zip::{elf_stub, forwarder_zip, zip_with, EM_AARCH64, EM_X86_64};

    #[test]
    fn names_carry_the_architecture() {
        assert_eq!(
            zip_name(LambdaArchitecture::Arm64),
            "cequence-apigw-forwarder-arm64.zip"
        );
        assert_eq!(
            zip_name(LambdaArchitecture::X86_64),
            "cequence-apigw-forwarder-x86_64.zip"
        );
    }

    #[test]
    fn reads_the_machine_of_a_deflated_bootstrap() {
        assert_eq!(
            bootstrap_machine(&forwarder_zip(EM_AARCH64, b"")),
            Ok(Machine::Known(LambdaArchitecture::Arm64))
        );
        let big = vec![7u8; 200_000];
        assert_eq!(
            bootstrap_machine(&forwarder_zip(EM_X86_64, &big)),
            Ok(Machine::Known(LambdaArchitecture::X86_64))
        );
        assert_eq!(
            bootstrap_machine(&forwarder_zip(0x28, b"")),
            Ok(Machine::Other(0x28))
        );
        assert_eq!(Machine::Other(0x28).to_string(), "ELF machine 0x28");
    }

    #[test]
    fn a_trailing_comment_or_junk_does_not_hide_the_directory() {
        let mut zip = forwarder_zip(EM_AARCH64, b"");
        zip.extend_from_slice(b"appended by a careless tool");
        assert_eq!(
            bootstrap_machine(&zip),
            Ok(Machine::Known(LambdaArchitecture::Arm64))
        );
    }

    #[test]
    fn refuses_what_lambda_could_not_run() {
        let cases: [(Vec<u8>, &str); 6] = [
            (b"PK\x05\x06".to_vec(), "not a zip"),
            (
                b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0".to_vec(),
                "no `bootstrap`",
            ),
            (
                zip_with("bin/bootstrap", &elf_stub(EM_X86_64, b""), 0o755),
                "no `bootstrap`",
            ),
            (
                zip_with("bootstrap", &elf_stub(EM_X86_64, b""), 0o644),
                "not executable (mode 644)",
            ),
            (zip_with("bootstrap", b"#!/bin/sh\n", 0o755), "not an ELF"),
            (
                zip_with("bootstrap", b"\x7fELF\x01\x01\x01", 0o755),
                "64-bit",
            ),
        ];
        for (zip, want) in cases {
            let err = bootstrap_machine(&zip).unwrap_err();
            assert!(err.contains(want), "{err} (wanted {want})");
        }
    }

    #[test]
    fn a_truncated_archive_is_an_error_not_a_panic() {
        let zip = forwarder_zip(EM_AARCH64, b"");
        for cut in 0..zip.len() {
            let _ = bootstrap_machine(&zip[..cut]);
            let mut shifted = zip.clone();
            shifted[cut] ^= 0xFF;
            let _ = bootstrap_machine(&shifted);
        }
    }
}
