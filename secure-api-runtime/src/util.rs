//! Small helpers used by several modules: the clock, random bytes and ids,
//! lowercase hex, visible ASCII. Nothing here knows about requests or policies, so any
//! module may import it without forming a circle.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `N` bytes from the operating system's generator.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)?;
    Ok(bytes)
}

/// 128 random bits as 32 lowercase hex characters.
pub(crate) fn random_id() -> Result<String, getrandom::Error> {
    Ok(hex(&random_bytes::<16>()?))
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut text = vec![0u8; bytes.len() * 2];
    hex_into(bytes, &mut text);
    // Hex digits are ASCII: this never falls back.
    String::from_utf8(text).unwrap_or_default()
}

/// Lowercase hex of `bytes` into `out`, two digits a byte (as many bytes as
/// `out` has room for).
pub(crate) fn hex_into(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (byte, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0f)];
    }
}

/// Whether `text` is visible ASCII only (`!` to `~`: no space, no control
/// character), as tokens, request ids and idempotency keys must be. Every
/// byte is looked at, without stopping at the first other one, so the loop
/// runs many bytes at a time.
pub(crate) fn is_visible_ascii(text: &[u8]) -> bool {
    text.iter()
        .fold(true, |visible, b| visible & b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase_and_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(random_id().map(|id| id.len()).ok(), Some(32));
    }

    #[test]
    fn visible_ascii_is_bang_to_tilde() {
        assert!(is_visible_ascii(b"a.b-c_~!"));
        assert!(is_visible_ascii(b""));
        for other in [&b"a b"[..], b"a\tb", b"a\x7fb", "é".as_bytes()] {
            assert!(!is_visible_ascii(other), "{other:?}");
        }
    }
}
