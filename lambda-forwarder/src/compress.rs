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

pub fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() * 4);
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips() {
        let data = b"hello hello hello".repeat(100);
        assert_eq!(super::gunzip(&super::gzip(&data)).unwrap(), data);
        assert!(super::gunzip(b"plain").is_err());
    }
}
