//! Byte searches for the ABI's NUL-terminated records (`.modinfo` entries, ELF string tables),
//! which the kernel reads on every module load.

/// The offset of the first NUL in `bytes`, if any.
///
/// A byte at a time up to an 8-byte boundary in memory, then a word at a time: the kernel's
/// target forbids unaligned loads, and a byte loop costs several instructions a byte.
///
/// ```
/// assert_eq!(keel_abi::bytes::find_nul(b"name=hello\0version=1\0"), Some(10));
/// assert_eq!(keel_abi::bytes::find_nul(b"no end"), None);
/// ```
pub fn find_nul(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // SAFETY: every bit pattern is a valid `u64`; `align_to` gives an aligned middle.
    let (head, words, tail) = unsafe { bytes.align_to::<u64>() };
    if let Some(i) = head.iter().position(|&b| b == 0) {
        return Some(i);
    }
    let found = words.iter().enumerate().find_map(|(n, &w)| {
        let w = u64::from_le(w);
        // The lowest byte of `w` that is zero sets its high bit here (higher bytes may be
        // marked falsely, lower ones never).
        let zero = w.wrapping_sub(ONES) & !w & HIGHS;
        (zero != 0).then(|| n * 8 + (zero.trailing_zeros() / 8) as usize)
    });
    let body = head.len() + words.len() * 8;
    match found {
        Some(i) => Some(head.len() + i),
        None => tail.iter().position(|&b| b == 0).map(|i| body + i),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_nul_finds_the_first_nul_at_every_alignment() {
        let mut buf = [b'a'; 64];
        for nul in [0, 1, 7, 8, 9, 15, 16, 23, 40, 63] {
            buf.fill(b'a');
            buf[nul] = 0;
            // A later NUL and a 0x80 byte must not confuse the word search.
            if nul + 2 < buf.len() {
                buf[nul + 1] = 0x80;
                buf[nul + 2] = 0;
            }
            for start in 0..=nul {
                for end in nul + 1..=buf.len() {
                    assert_eq!(
                        find_nul(&buf[start..end]),
                        Some(nul - start),
                        "{start}..{end}"
                    );
                }
                assert_eq!(find_nul(&buf[start..nul]), None, "{start}..{nul}");
            }
        }
        assert_eq!(find_nul(&[]), None);
        assert_eq!(find_nul(&[0x80; 33]), None);
        assert_eq!(find_nul(&[1; 33]), None);
    }
}
