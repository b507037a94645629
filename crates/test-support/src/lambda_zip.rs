//! Lambda packages for tests: a real zip (deflated, with CRCs, the unix mode Lambda needs)
//! holding a `bootstrap` whose ELF header names a machine, so the CLI's architecture check
//! reads it exactly as it reads a release zip, without building one.

use std::io::Write;

/// `e_machine` of an x86_64 ELF.
pub const EM_X86_64: u16 = 0x3E;
/// `e_machine` of an AArch64 (arm64) ELF.
pub const EM_AARCH64: u16 = 0xB7;

/// A 64-bit little-endian ELF header for `machine`, followed by `tail` (to make builds differ).
pub fn elf_stub(machine: u16, tail: &[u8]) -> Vec<u8> {
    let mut elf = vec![0u8; 64];
    elf[..4].copy_from_slice(b"\x7fELF");
    elf[4] = 2; // ELFCLASS64
    elf[5] = 1; // little-endian
    elf[6] = 1; // EV_CURRENT
    elf[16..18].copy_from_slice(&3u16.to_le_bytes()); // ET_DYN (position-independent)
    elf[18..20].copy_from_slice(&machine.to_le_bytes());
    elf.extend_from_slice(tail);
    elf
}

/// A zip with one member `bootstrap` (`mode`, deflated) holding `content`.
pub fn zip_with(name: &str, content: &[u8], mode: u32) -> Vec<u8> {
    let mut deflated = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    deflated.write_all(content).unwrap();
    let data = deflated.finish().unwrap();
    let mut crc = flate2::Crc::new();
    crc.update(content);
    let crc = crc.sum();

    let mut out = Vec::new();
    // Local file header.
    out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    out.extend_from_slice(&20u16.to_le_bytes()); // version needed
    out.extend_from_slice(&0u16.to_le_bytes()); // flags
    out.extend_from_slice(&8u16.to_le_bytes()); // deflate
    out.extend_from_slice(&0u16.to_le_bytes()); // time
    out.extend_from_slice(&0x21u16.to_le_bytes()); // date 1980-01-01
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&(content.len() as u32).to_le_bytes());
    out.extend_from_slice(&(name.len() as u16).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&data);
    // Central directory.
    let cd_offset = out.len();
    out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    out.extend_from_slice(&((3u16 << 8) | 20).to_le_bytes()); // made by unix, 2.0
    out.extend_from_slice(&20u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&8u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0x21u16.to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&(content.len() as u32).to_le_bytes());
    out.extend_from_slice(&(name.len() as u16).to_le_bytes());
    out.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attributes
    out.extend_from_slice(&((0o100000 | mode) << 16).to_le_bytes()); // regular file, mode
    out.extend_from_slice(&0u32.to_le_bytes()); // local header at 0
    out.extend_from_slice(name.as_bytes());
    let cd_size = out.len() - cd_offset;
    // End of central directory.
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&(cd_size as u32).to_le_bytes());
    out.extend_from_slice(&(cd_offset as u32).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// A forwarder package for `machine`, as `scripts/build-lambda.sh` lays it out.
pub fn forwarder_zip(machine: u16, tail: &[u8]) -> Vec<u8> {
    zip_with("bootstrap", &elf_stub(machine, tail), 0o755)
}
