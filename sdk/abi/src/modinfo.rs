//! The `.modinfo` section: metadata a tool or the loader reads from a `.ko` file without loading it.
//!
//! The section is a sequence of NUL-terminated `key=value` strings, as in Linux. Zero bytes between
//! entries (alignment padding) are skipped. The order of entries is not significant (the linker
//! may reorder them); keys that occur once occur exactly once. The keys:
//!
//! | key | value | times |
//! |---|---|---|
//! | `name` | the module's name (`[a-z0-9_-]`, also the `.ko` file's stem) | 1 |
//! | `version` | the module's version | 1 |
//! | `license` | SPDX expression | 1 |
//! | `author` | free text | 1 |
//! | `description` | free text | 1 |
//! | `abi` | [`crate::ABI_VERSION`] in decimal | 1 |
//! | `vermagic` | [`crate::module::VERMAGIC`] | 1 |
//! | `depends` | comma-separated module names, possibly empty | 1 |
//! | `parm` | `name:type:default:description` ([`Parm`]) | per parameter |
//! | `compatible` | one device-tree `compatible` string | per string |
//! | `pci` | `vvvv:dddd`, vendor and device id in hex | per id |
//! | `pci_class` | `cccccc`, class, subclass and programming interface in hex | per class |
//!
//! Readers ignore keys they do not know, so new keys are a compatible change.

use core::fmt;

use crate::module::ParamKind;

/// `name=`: the module's name.
pub const NAME: &str = "name";
/// `version=`: the module's version.
pub const VERSION: &str = "version";
/// `license=`: the module's license (SPDX).
pub const LICENSE: &str = "license";
/// `author=`: the module's author.
pub const AUTHOR: &str = "author";
/// `description=`: one line about the module.
pub const DESCRIPTION: &str = "description";
/// `abi=`: the ABI version it was built against.
pub const ABI: &str = "abi";
/// `vermagic=`: what it was built for ([`crate::module::VERMAGIC`]).
pub const VERMAGIC: &str = "vermagic";
/// `depends=`: modules that must be loaded first, comma-separated.
pub const DEPENDS: &str = "depends";
/// `parm=`: one parameter ([`Parm`]).
pub const PARM: &str = "parm";
/// `compatible=`: one device-tree compatible string the module drives.
pub const COMPATIBLE: &str = "compatible";
/// `pci=`: one PCI `vendor:device` id the module drives.
pub const PCI: &str = "pci";
/// `pci_class=`: one PCI class (class, subclass, programming interface) the module drives.
pub const PCI_CLASS: &str = "pci_class";

/// Why a `.modinfo` section or one of its values could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModinfoError {
    /// The entry starting at `offset` is not valid UTF-8.
    NotUtf8 {
        /// Byte offset of the entry in the section.
        offset: usize,
    },
    /// The entry starting at `offset` has no `=`.
    NoEquals {
        /// Byte offset of the entry in the section.
        offset: usize,
    },
    /// The last entry, starting at `offset`, lacks its NUL terminator.
    Unterminated {
        /// Byte offset of the entry in the section.
        offset: usize,
    },
    /// A `parm=` value is not `name:type:default:description` with a known type.
    BadParm,
    /// A `pci=` value is not `vvvv:dddd` in hexadecimal.
    BadPci,
}

impl fmt::Display for ModinfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModinfoError::NotUtf8 { offset } => {
                write!(f, "the .modinfo entry at offset {offset} is not UTF-8")
            }
            ModinfoError::NoEquals { offset } => {
                write!(
                    f,
                    "the .modinfo entry at offset {offset} is not `key=value`"
                )
            }
            ModinfoError::Unterminated { offset } => write!(
                f,
                "the .modinfo entry at offset {offset} is not terminated by a NUL byte"
            ),
            ModinfoError::BadParm => write!(
                f,
                "a `parm=` entry is not `name:type:default:description` with type bool, i64, u64, \
                 u32 or str"
            ),
            ModinfoError::BadPci => write!(f, "a `pci=` entry is not `vvvv:dddd` in hexadecimal"),
        }
    }
}

/// Reads the `(key, value)` entries of a `.modinfo` section's bytes.
///
/// ```
/// let section = b"name=hello\0version=1.0.0\0\0\0depends=\0";
/// let entries: Vec<_> = keel_abi::modinfo::parse(section).map(Result::unwrap).collect();
/// assert_eq!(entries, [("name", "hello"), ("version", "1.0.0"), ("depends", "")]);
/// ```
pub fn parse(section: &[u8]) -> Entries<'_> {
    Entries {
        section,
        text: core::str::from_utf8(section).ok(),
        offset: 0,
        failed: false,
    }
}

/// The first value of `key`, ignoring malformed entries.
///
/// ```
/// assert_eq!(keel_abi::modinfo::get(b"name=hello\0", "name"), Some("hello"));
/// ```
pub fn get<'a>(section: &'a [u8], key: &str) -> Option<&'a str> {
    parse(section)
        .filter_map(Result::ok)
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// Every value of `key`, in order, ignoring malformed entries.
pub fn values<'a>(section: &'a [u8], key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    parse(section)
        .filter_map(Result::ok)
        .filter(move |(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// The module names of a `depends=` value (empty names are skipped).
///
/// ```
/// let deps: Vec<_> = keel_abi::modinfo::depends("mathcore, i2c-core").collect();
/// assert_eq!(deps, ["mathcore", "i2c-core"]);
/// ```
pub fn depends(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|d| !d.is_empty())
}

/// Iterator over the entries of a `.modinfo` section; see [`parse`].
#[derive(Clone, Debug)]
pub struct Entries<'a> {
    section: &'a [u8],
    /// The section as text, when all of it is UTF-8 (checked once, not entry by entry; an
    /// entry then starts and ends at a NUL, so it is a character boundary).
    text: Option<&'a str>,
    offset: usize,
    failed: bool,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<(&'a str, &'a str), ModinfoError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        while self.section.get(self.offset) == Some(&0) {
            self.offset += 1;
        }
        let start = self.offset;
        let rest = self.section.get(start..).filter(|r| !r.is_empty())?;
        let Some(len) = crate::bytes::find_nul(rest) else {
            self.failed = true;
            return Some(Err(ModinfoError::Unterminated { offset: start }));
        };
        // The key is short: the `=` is found as bytes, without a string search.
        let equals = rest.get(..len)?.iter().position(|&b| b == b'=');
        self.offset = start + len + 1;
        let entry = match self.text.and_then(|text| text.get(start..start + len)) {
            Some(entry) => entry,
            None => match core::str::from_utf8(&rest[..len]) {
                Ok(entry) => entry,
                Err(_) => return Some(Err(ModinfoError::NotUtf8 { offset: start })),
            },
        };
        // `=` is ASCII, so both sides of it are character boundaries.
        let Some((key, value)) =
            equals.and_then(|at| Some((entry.get(..at)?, entry.get(at + 1..)?)))
        else {
            return Some(Err(ModinfoError::NoEquals { offset: start }));
        };
        Some(Ok((key, value)))
    }
}

/// A `parm=name:type:default:description` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parm<'a> {
    /// The parameter's name.
    pub name: &'a str,
    /// Its type.
    pub kind: ParamKind,
    /// The default value as text (never contains `:`).
    pub default: &'a str,
    /// What it does (may contain `:`).
    pub description: &'a str,
}

impl<'a> Parm<'a> {
    /// Reads a `parm=` value.
    ///
    /// ```
    /// use keel_abi::{modinfo::Parm, module::ParamKind};
    /// let parm = Parm::parse("count:u32:1:how many times: at least one").unwrap();
    /// assert_eq!((parm.name, parm.kind, parm.default), ("count", ParamKind::U32, "1"));
    /// assert_eq!(parm.description, "how many times: at least one");
    /// ```
    pub fn parse(value: &'a str) -> Result<Parm<'a>, ModinfoError> {
        let mut fields = value.splitn(4, ':');
        let name = fields.next().filter(|n| !n.is_empty());
        let kind = fields.next().and_then(ParamKind::from_name);
        let default = fields.next();
        let description = fields.next();
        match (name, kind, default, description) {
            (Some(name), Some(kind), Some(default), Some(description)) => Ok(Parm {
                name,
                kind,
                default,
                description,
            }),
            _ => Err(ModinfoError::BadParm),
        }
    }
}

/// Reads a `pci=vvvv:dddd` value into `(vendor, device)`.
///
/// ```
/// assert_eq!(keel_abi::modinfo::parse_pci("1b36:0007"), Ok((0x1b36, 0x0007)));
/// ```
pub fn parse_pci(value: &str) -> Result<(u16, u16), ModinfoError> {
    let (vendor, device) = value.split_once(':').ok_or(ModinfoError::BadPci)?;
    let hex = |text: &str| {
        if text.len() == 4 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            u16::from_str_radix(text, 16).map_err(|_| ModinfoError::BadPci)
        } else {
            Err(ModinfoError::BadPci)
        }
    };
    Ok((hex(vendor)?, hex(device)?))
}

/// Reads a `pci_class=cccccc` value (six hex digits: class, subclass, programming interface).
///
/// ```
/// assert_eq!(keel_abi::modinfo::parse_pci_class("080501"), Ok(0x08_0501));
/// ```
pub fn parse_pci_class(value: &str) -> Result<u32, ModinfoError> {
    if value.len() == 6 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        u32::from_str_radix(value, 16).map_err(|_| ModinfoError::BadPci)
    } else {
        Err(ModinfoError::BadPci)
    }
}

/// A parameter value parsed from the `insmod` command line, ready to be written to its storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamValue<'a> {
    /// For [`ParamKind::Bool`]: write one byte, 0 or 1.
    Bool(bool),
    /// For [`ParamKind::I64`].
    I64(i64),
    /// For [`ParamKind::U64`].
    U64(u64),
    /// For [`ParamKind::U32`].
    U32(u32),
    /// For [`ParamKind::Str`]: copy it, write a `StrRef` to the copy.
    Str(&'a str),
}

impl<'a> ParamValue<'a> {
    /// Parses `text` (the part after `name=`; `None` for a bare `name`) as a value of `kind`.
    /// Returns `None` when the text is not a value of that type (the loader then refuses the
    /// module with `EINVAL`, naming the parameter).
    ///
    /// ```
    /// use keel_abi::{modinfo::ParamValue, module::ParamKind};
    /// assert_eq!(ParamValue::parse(ParamKind::U32, Some("0x10")), Some(ParamValue::U32(16)));
    /// assert_eq!(ParamValue::parse(ParamKind::Bool, None), Some(ParamValue::Bool(true)));
    /// assert_eq!(ParamValue::parse(ParamKind::U32, Some("-1")), None);
    /// ```
    pub fn parse(kind: ParamKind, text: Option<&'a str>) -> Option<ParamValue<'a>> {
        fn unsigned(text: &str) -> Option<u64> {
            match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
                Some(hex) => u64::from_str_radix(hex, 16).ok(),
                None => text.parse().ok(),
            }
        }
        match (kind, text) {
            (ParamKind::Bool, None) => Some(ParamValue::Bool(true)),
            (ParamKind::Bool, Some(text)) => match text {
                "1" | "y" | "Y" | "true" | "on" => Some(ParamValue::Bool(true)),
                "0" | "n" | "N" | "false" | "off" => Some(ParamValue::Bool(false)),
                _ => None,
            },
            (_, None) => None,
            (ParamKind::I64, Some(text)) => match text.strip_prefix('-') {
                Some(magnitude) => {
                    let magnitude = unsigned(magnitude)?;
                    if magnitude == 1 << 63 {
                        Some(ParamValue::I64(i64::MIN))
                    } else {
                        i64::try_from(magnitude).ok().map(|m| ParamValue::I64(-m))
                    }
                }
                None => i64::try_from(unsigned(text)?).ok().map(ParamValue::I64),
            },
            (ParamKind::U64, Some(text)) => unsigned(text).map(ParamValue::U64),
            (ParamKind::U32, Some(text)) => unsigned(text)
                .and_then(|v| u32::try_from(v).ok())
                .map(ParamValue::U32),
            (ParamKind::Str, Some(text)) => Some(ParamValue::Str(text)),
        }
    }
}

/// Const helpers the SDK's `module!` macro uses to lay out `.modinfo` entries at compile time.
#[doc(hidden)]
pub mod build {
    /// Length of the entry made of `parts` plus its NUL terminator.
    pub const fn entry_len(parts: &[&str]) -> usize {
        let mut len = 1;
        let mut i = 0;
        while i < parts.len() {
            len += parts[i].len();
            i += 1;
        }
        len
    }

    /// The bytes of the entry made of `parts`, NUL-terminated; `N` must be [`entry_len`].
    pub const fn entry<const N: usize>(parts: &[&str]) -> [u8; N] {
        assert!(N == entry_len(parts), "modinfo entry length mismatch");
        let mut out = [0u8; N];
        let mut at = 0;
        let mut i = 0;
        while i < parts.len() {
            let bytes = parts[i].as_bytes();
            let mut j = 0;
            while j < bytes.len() {
                assert!(
                    bytes[j] != 0,
                    "a .modinfo value must not contain a NUL byte"
                );
                out[at] = bytes[j];
                at += 1;
                j += 1;
            }
            i += 1;
        }
        out
    }

    /// Length of the entry `prefix` + `items` joined by `,` plus its NUL terminator.
    pub const fn list_len(prefix: &str, items: &[&str]) -> usize {
        let mut len = prefix.len() + 1;
        let mut i = 0;
        while i < items.len() {
            if i > 0 {
                len += 1;
            }
            len += items[i].len();
            i += 1;
        }
        len
    }

    /// The bytes of `prefix` + `items` joined by `,`, NUL-terminated; `N` must be [`list_len`].
    pub const fn list<const N: usize>(prefix: &str, items: &[&str]) -> [u8; N] {
        assert!(N == list_len(prefix, items), "modinfo list length mismatch");
        let mut out = [0u8; N];
        let mut at = copy(&mut out, 0, prefix);
        let mut i = 0;
        while i < items.len() {
            if i > 0 {
                at = copy(&mut out, at, ",");
            }
            at = copy(&mut out, at, items[i]);
            i += 1;
        }
        out
    }

    /// Copies `text` into `out` at `at`; returns the offset after it.
    const fn copy(out: &mut [u8], mut at: usize, text: &str) -> usize {
        let bytes = text.as_bytes();
        let mut j = 0;
        while j < bytes.len() {
            assert!(
                bytes[j] != 0,
                "a .modinfo value must not contain a NUL byte"
            );
            out[at] = bytes[j];
            at += 1;
            j += 1;
        }
        at
    }

    /// Fails compilation unless `name` is a valid module name: 1 to 55 bytes of `a-z`, `0-9`, `_`, `-`.
    pub const fn check_module_name(name: &str) {
        let bytes = name.as_bytes();
        assert!(
            !bytes.is_empty() && bytes.len() <= 55,
            "a module name must have 1 to 55 bytes"
        );
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            assert!(
                b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-',
                "a module name may contain only a-z, 0-9, `_` and `-`"
            );
            i += 1;
        }
    }

    /// Fails compilation if `text` contains `byte`.
    pub const fn check_lacks(text: &str, byte: u8) {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            assert!(
                bytes[i] != byte,
                "a parameter's name and default and a dependency's name must not contain `:` or `,`"
            );
            i += 1;
        }
    }

    /// Fails compilation unless `class` is six hexadecimal digits.
    pub const fn check_pci_class(class: &str) {
        let bytes = class.as_bytes();
        assert!(bytes.len() == 6, "a PCI class must be written `cccccc`");
        let mut i = 0;
        while i < 6 {
            assert!(
                bytes[i].is_ascii_hexdigit(),
                "a PCI class must be written `cccccc` in hexadecimal"
            );
            i += 1;
        }
    }

    /// Fails compilation unless `id` is `vvvv:dddd` in hexadecimal.
    pub const fn check_pci(id: &str) {
        let bytes = id.as_bytes();
        assert!(
            bytes.len() == 9 && bytes[4] == b':',
            "a PCI id must be written `vvvv:dddd`"
        );
        let mut i = 0;
        while i < 9 {
            assert!(
                i == 4 || bytes[i].is_ascii_hexdigit(),
                "a PCI id must be written `vvvv:dddd` in hexadecimal"
            );
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    const SAMPLE: &[u8] = b"name=hello\0version=1.0.0\0license=MIT OR Apache-2.0\0\
        author=Keel\0description=Says hello\0abi=1\0vermagic=keel-abi-1 aarch64 softfloat\0\
        depends=\0parm=greeting:str:hello:what to say\0parm=count:u32:1:how many times\0\
        compatible=arm,pl011\0compatible=arm,primecell\0pci=1b36:0007\0\0\0";

    #[test]
    fn a_whole_section_reads_in_order() {
        let entries: Vec<_> = parse(SAMPLE).map(Result::unwrap).collect();
        assert_eq!(entries.len(), 13);
        assert_eq!(entries[0], ("name", "hello"));
        assert_eq!(entries[6], ("vermagic", "keel-abi-1 aarch64 softfloat"));
        assert_eq!(entries[7], ("depends", ""));
        assert_eq!(get(SAMPLE, LICENSE), Some("MIT OR Apache-2.0"));
        let compatible: Vec<_> = values(SAMPLE, COMPATIBLE).collect();
        assert_eq!(compatible, ["arm,pl011", "arm,primecell"]);
        let parms: Vec<_> = values(SAMPLE, PARM)
            .map(|v| Parm::parse(v).unwrap())
            .collect();
        assert_eq!(parms[0].kind, ParamKind::Str);
        assert_eq!(parms[0].default, "hello");
        assert_eq!(parms[1].description, "how many times");
        assert_eq!(parse_pci(get(SAMPLE, PCI).unwrap()), Ok((0x1b36, 7)));
    }

    #[test]
    fn values_may_contain_equals_signs() {
        let entries: Vec<_> = parse(b"description=a=b\0").collect();
        assert_eq!(entries, [Ok(("description", "a=b"))]);
    }

    #[test]
    fn malformed_entries_are_reported_with_their_offset() {
        let entries: Vec<_> = parse(b"name=x\0broken\0\xff=1\0tail").collect();
        assert_eq!(
            entries,
            [
                Ok(("name", "x")),
                Err(ModinfoError::NoEquals { offset: 7 }),
                Err(ModinfoError::NotUtf8 { offset: 14 }),
                Err(ModinfoError::Unterminated { offset: 18 }),
            ]
        );
        assert_eq!(parse(b"").count(), 0);
        assert_eq!(parse(b"\0\0").count(), 0);
    }

    #[test]
    fn bad_parm_and_pci_values_are_refused() {
        assert_eq!(Parm::parse("x:float:1:d"), Err(ModinfoError::BadParm));
        assert_eq!(Parm::parse("x:u32:1"), Err(ModinfoError::BadParm));
        assert_eq!(Parm::parse(":u32:1:d"), Err(ModinfoError::BadParm));
        assert_eq!(parse_pci("1b36-0007"), Err(ModinfoError::BadPci));
        assert_eq!(parse_pci("1b3:00007"), Err(ModinfoError::BadPci));
        assert_eq!(parse_pci("+b36:0007"), Err(ModinfoError::BadPci));
    }

    #[test]
    fn param_values_parse_by_kind() {
        use ParamValue as V;
        assert_eq!(
            ParamValue::parse(ParamKind::I64, Some("-5")),
            Some(V::I64(-5))
        );
        assert_eq!(
            ParamValue::parse(ParamKind::I64, Some("-9223372036854775808")),
            Some(V::I64(i64::MIN))
        );
        assert_eq!(
            ParamValue::parse(ParamKind::I64, Some("9223372036854775808")),
            None
        );
        assert_eq!(
            ParamValue::parse(ParamKind::U64, Some("0xffffffffffffffff")),
            Some(V::U64(u64::MAX))
        );
        assert_eq!(ParamValue::parse(ParamKind::U32, Some("4294967296")), None);
        assert_eq!(
            ParamValue::parse(ParamKind::Bool, Some("off")),
            Some(V::Bool(false))
        );
        assert_eq!(ParamValue::parse(ParamKind::Bool, Some("maybe")), None);
        assert_eq!(
            ParamValue::parse(ParamKind::Str, Some("")),
            Some(V::Str(""))
        );
        assert_eq!(ParamValue::parse(ParamKind::Str, None), None);
    }

    #[test]
    fn entries_are_built_at_compile_time() {
        const PARTS: &[&str] = &["parm=", "count", ":u32:", "1", ":", "how many"];
        const BYTES: [u8; build::entry_len(PARTS)] = build::entry(PARTS);
        assert_eq!(&BYTES, b"parm=count:u32:1:how many\0");
        const DEPS: &[&str] = &["a", "b-c"];
        const LIST: [u8; build::list_len("depends=", DEPS)] = build::list("depends=", DEPS);
        assert_eq!(&LIST, b"depends=a,b-c\0");
        const NONE: [u8; build::list_len("depends=", &[])] = build::list("depends=", &[]);
        assert_eq!(&NONE, b"depends=\0");
        build::check_module_name("uart-pl011");
        build::check_pci("1b36:0007");
    }
}
