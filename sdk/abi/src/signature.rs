//! Signature hashes: how the kernel and a module agree that an imported function has the type the
//! module was compiled against.
//!
//! The hash is 32-bit FNV-1a over the *normalised signature text* `name(T1,T2,...)->R`: the function's
//! name, its parameter types in order (parameter names do not count), and its return type (`()` when
//! there is none), with every ASCII whitespace byte left out. The text comes from `stringify!` of the
//! types as written in the export list (or in `export!`/`import!` of a module), so renaming a
//! parameter keeps the hash while changing, adding or reordering a type changes it.
//!
//! Every record is a fixed-size [`SymbolSignature`], so a loader or `modinfo` reads the records
//! straight from a file's `.keel.imports`/`.keel.exports` section, without relocating anything.

use core::fmt;

/// FNV-1a 32-bit offset basis.
const FNV_OFFSET: u32 = 0x811c_9dc5;
/// FNV-1a 32-bit prime.
const FNV_PRIME: u32 = 0x0100_0193;

/// Longest symbol name a [`SymbolSignature`] record holds (its name field keeps one NUL byte).
pub const MAX_SYMBOL_NAME: usize = 55;

/// Folds `text` into the running FNV-1a `hash`, skipping ASCII whitespace.
const fn fold(mut hash: u32, text: &str) -> u32 {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if !byte.is_ascii_whitespace() {
            hash ^= byte as u32;
            hash = hash.wrapping_mul(FNV_PRIME);
        }
        i += 1;
    }
    hash
}

/// FNV-1a 32 of `text` with ASCII whitespace left out.
///
/// ```
/// use keel_abi::signature::fnv1a32;
/// assert_eq!(fnv1a32(""), 0x811c_9dc5);
/// assert_eq!(fnv1a32("a"), 0xe40c_292c);
/// assert_eq!(fnv1a32("a b"), fnv1a32("ab"));
/// ```
pub const fn fnv1a32(text: &str) -> u32 {
    fold(FNV_OFFSET, text)
}

/// The hash of the normalised signature `name(params...)->ret`.
///
/// `params` are the parameter types as text, `ret` the return type (`"()"` for none).
///
/// ```
/// use keel_abi::signature::{fnv1a32, signature_hash};
/// let hash = signature_hash("mathcore_gcd", &["u64", "u64"], "u64");
/// assert_eq!(hash, fnv1a32("mathcore_gcd(u64,u64)->u64"));
/// ```
pub const fn signature_hash(name: &str, params: &[&str], ret: &str) -> u32 {
    let mut hash = fold(FNV_OFFSET, name);
    hash = fold(hash, "(");
    let mut i = 0;
    while i < params.len() {
        if i > 0 {
            hash = fold(hash, ",");
        }
        hash = fold(hash, params[i]);
        i += 1;
    }
    hash = fold(hash, ")->");
    fold(hash, ret)
}

/// One `{name, hash}` record of a `.keel.imports` or `.keel.exports` section (64 bytes, no pointers).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SymbolSignature {
    /// The symbol's name, NUL-padded (at most [`MAX_SYMBOL_NAME`] bytes, then at least one NUL).
    pub name: [u8; MAX_SYMBOL_NAME + 1],
    /// The signature hash ([`signature_hash`]).
    pub hash: u32,
    /// Zero; reserved for flags.
    pub reserved: u32,
}

/// Size of one [`SymbolSignature`] record in a section.
pub const RECORD_SIZE: usize = core::mem::size_of::<SymbolSignature>();

impl SymbolSignature {
    /// A record for `name` with `hash`; fails to compile (in const context) when the name is empty,
    /// longer than [`MAX_SYMBOL_NAME`] or contains a NUL byte.
    pub const fn new(name: &str, hash: u32) -> SymbolSignature {
        let bytes = name.as_bytes();
        assert!(
            !bytes.is_empty() && bytes.len() <= MAX_SYMBOL_NAME,
            "an exported symbol's name must have 1 to 55 bytes"
        );
        let mut record = [0u8; MAX_SYMBOL_NAME + 1];
        let mut i = 0;
        while i < bytes.len() {
            assert!(
                bytes[i] != 0,
                "an exported symbol's name must not contain NUL"
            );
            record[i] = bytes[i];
            i += 1;
        }
        SymbolSignature {
            name: record,
            hash,
            reserved: 0,
        }
    }

    /// The record's name, or `None` if it is not NUL-terminated UTF-8.
    pub fn name(&self) -> Option<&str> {
        let end = self.name.iter().position(|&b| b == 0)?;
        core::str::from_utf8(&self.name[..end]).ok()
    }

    /// Whether [`SymbolSignature::name`] is `Some(name)`, found by comparing bytes (without
    /// decoding the record's name).
    pub fn is(&self, name: &str) -> bool {
        let name = name.as_bytes();
        // The NUL after the name first: it rules out names of another length without a compare.
        self.name.get(name.len()) == Some(&0)
            && self.name.get(..name.len()) == Some(name)
            && !name.contains(&0)
    }
}

impl fmt::Debug for SymbolSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SymbolSignature")
            .field("name", &self.name().unwrap_or("<invalid>"))
            .field("hash", &format_args!("{:#010x}", self.hash))
            .finish()
    }
}

/// Why a signature section could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureError {
    /// The section's size is not a multiple of [`RECORD_SIZE`].
    BadSize {
        /// The section's size in bytes.
        size: usize,
    },
    /// A record's name is not NUL-terminated UTF-8 of 1 to [`MAX_SYMBOL_NAME`] bytes.
    BadName {
        /// The index of the record.
        index: usize,
    },
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureError::BadSize { size } => write!(
                f,
                "the section holds {size} bytes, which is not a whole number of \
                 {RECORD_SIZE}-byte signature records"
            ),
            SignatureError::BadName { index } => write!(
                f,
                "signature record {index} has no valid name (NUL-terminated UTF-8 of 1 to \
                 {MAX_SYMBOL_NAME} bytes)"
            ),
        }
    }
}

/// Reads the `(name, hash)` records of a `.keel.imports` or `.keel.exports` section's bytes, as
/// found in the file (little-endian).
///
/// ```
/// use keel_abi::signature::{records, SymbolSignature, RECORD_SIZE};
/// let record = SymbolSignature::new("keel_time_ns", 0x1234_5678);
/// let mut bytes = [0u8; RECORD_SIZE];
/// bytes[..56].copy_from_slice(&record.name);
/// bytes[56..60].copy_from_slice(&0x1234_5678u32.to_le_bytes());
/// let all: Vec<_> = records(&bytes).unwrap().collect();
/// assert_eq!(all, [Ok(("keel_time_ns", 0x1234_5678))]);
/// ```
pub fn records(section: &[u8]) -> Result<Records<'_>, SignatureError> {
    if !section.len().is_multiple_of(RECORD_SIZE) {
        return Err(SignatureError::BadSize {
            size: section.len(),
        });
    }
    Ok(Records {
        chunks: section.chunks_exact(RECORD_SIZE),
        index: 0,
    })
}

/// Iterator over the records of a signature section; see [`records`].
#[derive(Clone, Debug)]
pub struct Records<'a> {
    chunks: core::slice::ChunksExact<'a, u8>,
    index: usize,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<(&'a str, u32), SignatureError>;

    fn next(&mut self) -> Option<Self::Item> {
        let chunk = self.chunks.next()?;
        let index = self.index;
        self.index += 1;
        let name_field = &chunk[..MAX_SYMBOL_NAME + 1];
        let name = name_field
            .iter()
            .position(|&b| b == 0)
            .filter(|&end| end > 0)
            .and_then(|end| core::str::from_utf8(&name_field[..end]).ok());
        let mut hash = [0u8; 4];
        hash.copy_from_slice(&chunk[MAX_SYMBOL_NAME + 1..MAX_SYMBOL_NAME + 5]);
        Some(match name {
            Some(name) => Ok((name, u32::from_le_bytes(hash))),
            None => Err(SignatureError::BadName { index }),
        })
    }
}

/// Builds the normalised signature hash of a function written as macro tokens; used by the export
/// list and by the SDK's `export!`/`import!` macros.
#[doc(hidden)]
#[macro_export]
macro_rules! __signature_hash {
    ($name:ident ( $($ty:ty),* ) -> $ret:ty) => {
        $crate::signature::signature_hash(
            ::core::stringify!($name),
            &[$(::core::stringify!($ty)),*],
            ::core::stringify!($ret),
        )
    };
    ($name:ident ( $($ty:ty),* )) => {
        $crate::signature::signature_hash(
            ::core::stringify!($name),
            &[$(::core::stringify!($ty)),*],
            "()",
        )
    };
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn is_compares_like_name() {
        let record = SymbolSignature::new("kernel_print", 7);
        for name in [
            "kernel_print",
            "kernel_prin",
            "kernel_print_x",
            "",
            "kernel_print\0",
        ] {
            assert_eq!(record.is(name), record.name() == Some(name), "{name:?}");
        }
    }
    use std::vec::Vec;

    #[test]
    fn fnv1a32_matches_the_reference_vectors() {
        // From the FNV reference test suite (FNV-1a, 32 bit).
        assert_eq!(fnv1a32(""), 0x811c_9dc5);
        assert_eq!(fnv1a32("a"), 0xe40c_292c);
        assert_eq!(fnv1a32("foobar"), 0xbf9c_f968);
    }

    #[test]
    fn whitespace_and_parameter_names_do_not_count() {
        let written = __signature_hash!(keel_alloc(usize, usize) -> *mut u8);
        assert_eq!(written, fnv1a32("keel_alloc(usize,usize)->*mut u8"));
        assert_eq!(written, fnv1a32("keel_alloc ( usize , usize ) -> * mut u8"));
        assert_eq!(
            __signature_hash!(keel_delay_ns(u64)),
            fnv1a32("keel_delay_ns(u64)->()")
        );
    }

    #[test]
    fn any_change_of_type_or_order_changes_the_hash() {
        let base = signature_hash("f", &["u64", "u32"], "i32");
        assert_ne!(base, signature_hash("f", &["u32", "u64"], "i32"));
        assert_ne!(base, signature_hash("f", &["u64", "u32"], "u32"));
        assert_ne!(base, signature_hash("f", &["u64", "u32", "u8"], "i32"));
        assert_ne!(base, signature_hash("g", &["u64", "u32"], "i32"));
        assert_ne!(base, signature_hash("f", &["u64u32"], "i32"));
    }

    #[test]
    fn records_round_trip_through_bytes() {
        let a = SymbolSignature::new("keel_alloc", 0xdead_beef);
        let b = SymbolSignature::new("mathcore_gcd", 7);
        let mut bytes = Vec::new();
        for record in [a, b] {
            bytes.extend_from_slice(&record.name);
            bytes.extend_from_slice(&record.hash.to_le_bytes());
            bytes.extend_from_slice(&record.reserved.to_le_bytes());
        }
        let read: Vec<_> = records(&bytes).unwrap().map(Result::unwrap).collect();
        assert_eq!(read, [("keel_alloc", 0xdead_beef), ("mathcore_gcd", 7)]);
        assert_eq!(a.name(), Some("keel_alloc"));
    }

    #[test]
    fn broken_sections_are_reported() {
        assert_eq!(
            records(&[0; 65]).unwrap_err(),
            SignatureError::BadSize { size: 65 }
        );
        let mut bad = [0u8; RECORD_SIZE * 2];
        bad[..4].copy_from_slice(b"good");
        let read: Vec<_> = records(&bad).unwrap().collect();
        assert_eq!(read[0], Ok(("good", 0)));
        assert_eq!(read[1], Err(SignatureError::BadName { index: 1 }));
    }
}
