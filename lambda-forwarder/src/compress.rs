//! gzip in and out of memory: Edge bodies, spooled batches, persisted open requests.

use std::io::{Read, Write};

/// Fast compression: these bodies are compressed once and sent at once, so CPU matters more
/// than the last few percent of size.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4),
        flate2::Compression::fast(),
    );
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

/// Sized from the gzip trailer (ISIZE: the uncompressed length mod 2^32) so the output is
/// allocated once instead of grown and copied; the hint is capped, since the trailer is input.
pub fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(size_hint(bytes));
    // `bufread` reads the slice in place (no intermediate copy through a read buffer).
    flate2::bufread::GzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

const MAX_SIZE_HINT: usize = 64 << 20;

fn size_hint(bytes: &[u8]) -> usize {
    let fallback = bytes.len().saturating_mul(4);
    match bytes.len().checked_sub(4).map(|at| &bytes[at..]) {
        Some(&[a, b, c, d]) if bytes.len() >= 18 => {
            let isize = u32::from_le_bytes([a, b, c, d]) as usize;
            // Reading past the hint still works (the Vec grows); a tiny or absurd hint is ignored.
            if isize == 0 || isize > MAX_SIZE_HINT {
                fallback.min(MAX_SIZE_HINT)
            } else {
                isize + 1
            }
        }
        _ => fallback.min(MAX_SIZE_HINT),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips() {
        let data = b"hello hello hello".repeat(100);
        assert_eq!(super::gunzip(&super::gzip(&data)).unwrap(), data);
        assert!(super::gunzip(b"plain").is_err());
    }

    #[test]
    fn the_trailer_sizes_the_output_exactly() {
        let data = b"{\"message\":\"x\"}".repeat(5000);
        let gz = super::gzip(&data);
        let out = super::gunzip(&gz).unwrap();
        assert_eq!(out, data);
        assert_eq!(out.capacity(), data.len() + 1);
        // A lying trailer only changes the first allocation, never the result.
        let mut lie = gz.clone();
        let n = lie.len();
        lie[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(
            super::gunzip(&lie).is_err(),
            "ISIZE is checked by the decoder"
        );
    }
}
