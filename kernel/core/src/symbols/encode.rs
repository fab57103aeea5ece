//! Host-side symbol table helpers: building a version-1 blob and demangling Rust names.

use super::{ENTRY_LEN, HEADER_LEN, MAGIC, VERSION};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

/// Builds a symbol table blob from `(addr, size, name)` triples.
///
/// Symbols are sorted by address (stably); of several symbols at the same address only one is
/// kept: the first with a non-zero size, or the first if all are zero-sized. Sizes above
/// `u32::MAX` are clamped, and names longer than 65535 bytes are cut at a character boundary.
///
/// # Panics
///
/// Panics if there are more than `u32::MAX` symbols or the string table would exceed 4 GiB,
/// neither of which a kernel image comes close to.
pub fn encode(symbols: &[(u64, u64, &str)]) -> Vec<u8> {
    let mut sorted: Vec<(u64, u64, &str)> = symbols.to_vec();
    sorted.sort_by_key(|&(addr, _, _)| addr);
    let mut kept: Vec<(u64, u64, &str)> = Vec::with_capacity(sorted.len());
    for sym in sorted {
        match kept.last_mut() {
            Some(last) if last.0 == sym.0 => {
                if last.1 == 0 && sym.1 != 0 {
                    *last = sym;
                }
            }
            _ => kept.push(sym),
        }
    }

    let mut entries = Vec::with_capacity(kept.len() * ENTRY_LEN);
    let mut strings = Vec::new();
    for &(addr, size, name) in &kept {
        let name = truncate(name, usize::from(u16::MAX));
        let name_off = u32::try_from(strings.len()).expect("symbol string table exceeds 4 GiB");
        entries.extend_from_slice(&addr.to_le_bytes());
        entries.extend_from_slice(&u32::try_from(size).unwrap_or(u32::MAX).to_le_bytes());
        entries.extend_from_slice(&name_off.to_le_bytes());
        // `truncate` guarantees the length fits in a u16.
        strings.extend_from_slice(&(name.len() as u16).to_le_bytes());
        strings.extend_from_slice(name.as_bytes());
    }

    let count = u32::try_from(kept.len()).expect("more than u32::MAX symbols");
    let strings_len = u32::try_from(strings.len()).expect("symbol string table exceeds 4 GiB");
    let mut blob = Vec::with_capacity(HEADER_LEN + entries.len() + strings.len());
    blob.extend_from_slice(&MAGIC);
    blob.extend_from_slice(&VERSION.to_le_bytes());
    blob.extend_from_slice(&count.to_le_bytes());
    blob.extend_from_slice(&strings_len.to_le_bytes());
    blob.extend_from_slice(&entries);
    blob.extend_from_slice(&strings);
    blob
}

/// Returns the longest prefix of `s` of at most `max` bytes that ends on a char boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Demangles a Rust legacy-mangled name (`_ZN...E`) into a path such as
/// `keel_kernel::arch::aarch64::exceptions::handle_sync`.
///
/// The trailing `h<16 hex digits>` hash segment is dropped and `$..$` escapes (`$LT$`, `$GT$`,
/// `$RF$`, `$BP$`, `$C$`, `$SP$`, `$LP$`, `$RP$`, `$u<hex>$`) and `..` are decoded. Anything
/// after the closing `E` (such as `.llvm.1234`) is kept. v0 names (`_R...`), names that are not
/// mangled and names that do not parse are returned unchanged.
pub fn demangle(name: &str) -> String {
    Demangled(name).to_string()
}

/// A name that formats as [`demangle`] gives it, without allocating: names can be kept as they
/// are and demangled only when a report shows them, also in exception context.
#[derive(Clone, Copy, Debug)]
pub struct Demangled<'a>(pub &'a str);

impl fmt::Display for Demangled<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A dry run first, so that a name that does not parse is shown whole, not half decoded.
        match write_legacy(self.0, &mut Discard) {
            Some(_) => write_legacy(self.0, f).unwrap_or(Ok(())),
            None => f.write_str(self.0),
        }
    }
}

/// A writer that keeps nothing.
struct Discard;

impl fmt::Write for Discard {
    fn write_str(&mut self, _: &str) -> fmt::Result {
        Ok(())
    }
}

/// Writes the demangled form of a legacy name to `out`, or returns `None` if it is not one
/// (possibly after writing part of it).
fn write_legacy<W: fmt::Write>(name: &str, out: &mut W) -> Option<fmt::Result> {
    let body = ["_ZN", "__ZN", "ZN"]
        .iter()
        .find_map(|prefix| name.strip_prefix(prefix))?;
    // Count the segments and find the end, to know whether the last one is a hash.
    let mut rest = body;
    let mut count = 0usize;
    let mut last = "";
    let suffix = loop {
        if let Some(after) = rest.strip_prefix('E') {
            break after;
        }
        let (segment, after) = next_segment(rest)?;
        last = segment;
        count += 1;
        rest = after;
    };
    if count > 1 && is_hash(last) {
        count -= 1;
    }
    if count == 0 {
        return None;
    }
    let mut rest = body;
    for i in 0..count {
        let (segment, after) = next_segment(rest)?;
        rest = after;
        if i > 0 {
            if let Err(e) = out.write_str("::") {
                return Some(Err(e));
            }
        }
        if let Err(e) = decode_segment(segment, out)? {
            return Some(Err(e));
        }
    }
    Some(out.write_str(suffix))
}

/// Splits the length-prefixed segment at the start of `rest` off: `(segment, what follows)`.
fn next_segment(rest: &str) -> Option<(&str, &str)> {
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let len: usize = rest.get(..digits)?.parse().ok()?;
    let end = digits.checked_add(len)?;
    Some((rest.get(digits..end)?, rest.get(end..)?))
}

/// Returns whether `segment` is a legacy hash: `h` followed by 16 hex digits.
fn is_hash(segment: &str) -> bool {
    segment.len() == 17
        && segment.starts_with('h')
        && segment[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Writes the decoded form of one path segment to `out`; `None` on a malformed escape.
fn decode_segment<W: fmt::Write>(segment: &str, out: &mut W) -> Option<fmt::Result> {
    let mut s = segment
        .strip_prefix("_$")
        .map_or(segment, |_| &segment[1..]);
    while let Some(c) = s.chars().next() {
        let written = if let Some(after) = s.strip_prefix("..") {
            s = after;
            out.write_str("::")
        } else if c == '$' {
            let end = s[1..].find('$')? + 1;
            let decoded = decode_escape(&s[1..end])?;
            s = &s[end + 1..];
            out.write_char(decoded)
        } else {
            s = &s[c.len_utf8()..];
            out.write_char(c)
        };
        if written.is_err() {
            return Some(written);
        }
    }
    Some(Ok(()))
}

/// Decodes the inside of a `$...$` escape.
fn decode_escape(escape: &str) -> Option<char> {
    Some(match escape {
        "SP" => '@',
        "BP" => '*',
        "RF" => '&',
        "LT" => '<',
        "GT" => '>',
        "LP" => '(',
        "RP" => ')',
        "C" => ',',
        _ => {
            let hex = escape.strip_prefix('u')?;
            if hex.is_empty() {
                return None;
            }
            char::from_u32(u32::from_str_radix(hex, 16).ok()?)?
        }
    })
}
