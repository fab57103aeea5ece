//! Module metadata: the `.modinfo` section of a `.ko` (NUL-separated `key=value` strings),
//! found with a tiny ELF64 little-endian section-header reader.

use alloc::string::String;
use alloc::vec::Vec;

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], off: usize) -> Option<usize> {
    usize::try_from(u64::from_le_bytes(b.get(off..off + 8)?.try_into().ok()?)).ok()
}

/// Why a file's metadata could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModinfoError {
    /// Not a little-endian ELF64 file, or its headers point outside it.
    NotElf,
    /// The file has no `.modinfo` section.
    NoModinfo,
}

impl core::fmt::Display for ModinfoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ModinfoError::NotElf => "not an ELF64 module",
            ModinfoError::NoModinfo => "no .modinfo section",
        })
    }
}

/// The bytes of the section called `name`, if any.
pub fn section<'a>(elf: &'a [u8], name: &str) -> Result<Option<&'a [u8]>, ModinfoError> {
    let bad = ModinfoError::NotElf;
    if elf.get(..6) != Some(b"\x7fELF\x02\x01".as_slice()) {
        return Err(bad);
    }
    let shoff = u64_at(elf, 0x28).ok_or(bad)?;
    let shentsize = u16_at(elf, 0x3a).ok_or(bad)? as usize;
    let shnum = u16_at(elf, 0x3c).ok_or(bad)? as usize;
    let shstrndx = u16_at(elf, 0x3e).ok_or(bad)? as usize;
    if shentsize < 0x40 || shstrndx >= shnum {
        return Err(bad);
    }
    let header = |i: usize| -> Result<(u32, usize, usize), ModinfoError> {
        let h = shoff
            .checked_add(i.checked_mul(shentsize).ok_or(bad)?)
            .ok_or(bad)?;
        let name = u32_at(elf, h).ok_or(bad)?;
        let off = u64_at(elf, h + 0x18).ok_or(bad)?;
        let size = u64_at(elf, h + 0x20).ok_or(bad)?;
        Ok((name, off, size))
    };
    let bytes = |off: usize, size: usize| elf.get(off..off.checked_add(size)?);
    let (_, str_off, str_size) = header(shstrndx)?;
    let strtab = bytes(str_off, str_size).ok_or(bad)?;
    for i in 0..shnum {
        let (n, off, size) = header(i)?;
        let Some(rest) = strtab.get(n as usize..) else {
            continue;
        };
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        if &rest[..end] == name.as_bytes() {
            return bytes(off, size).map(Some).ok_or(bad);
        }
    }
    Ok(None)
}

/// The `key=value` pairs of a `.modinfo` section, in order (empty strings from padding are
/// skipped; a string without `=` becomes a key with an empty value).
pub fn parse_modinfo(section: &[u8]) -> Vec<(String, String)> {
    section
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let s = String::from_utf8_lossy(s);
            match s.split_once('=') {
                Some((k, v)) => (String::from(k), String::from(v)),
                None => (s.into_owned(), String::new()),
            }
        })
        .collect()
}

/// The metadata of a module file.
pub fn modinfo(elf: &[u8]) -> Result<Vec<(String, String)>, ModinfoError> {
    section(elf, ".modinfo")?
        .map(parse_modinfo)
        .ok_or(ModinfoError::NoModinfo)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal ELF64 relocatable file with sections `.shstrtab` and `name` holding `data`.
    pub fn tiny_elf(name: &str, data: &[u8]) -> Vec<u8> {
        let mut shstrtab = b"\0.shstrtab\0".to_vec();
        let name_off = shstrtab.len() as u32;
        shstrtab.extend_from_slice(name.as_bytes());
        shstrtab.push(0);
        let mut f = alloc::vec![0u8; 0x40];
        f[..6].copy_from_slice(b"\x7fELF\x02\x01");
        let data_off = f.len();
        f.extend_from_slice(data);
        let str_off = f.len();
        f.extend_from_slice(&shstrtab);
        while !f.len().is_multiple_of(8) {
            f.push(0);
        }
        let shoff = f.len();
        let mut sh = |name: u32, off: usize, size: usize| {
            let mut h = [0u8; 0x40];
            h[..4].copy_from_slice(&name.to_le_bytes());
            h[0x18..0x20].copy_from_slice(&(off as u64).to_le_bytes());
            h[0x20..0x28].copy_from_slice(&(size as u64).to_le_bytes());
            f.extend_from_slice(&h);
        };
        sh(0, 0, 0);
        sh(1, str_off, shstrtab.len());
        sh(name_off, data_off, data.len());
        f[0x28..0x30].copy_from_slice(&(shoff as u64).to_le_bytes());
        f[0x3a..0x3c].copy_from_slice(&0x40u16.to_le_bytes());
        f[0x3c..0x3e].copy_from_slice(&3u16.to_le_bytes());
        f[0x3e..0x40].copy_from_slice(&1u16.to_le_bytes());
        f
    }

    #[test]
    fn reads_the_modinfo_section() {
        let elf = tiny_elf(
            ".modinfo",
            b"name=hello\0version=1.0\0\0\0license=MIT\0description=says hi\0flag\0",
        );
        let info = modinfo(&elf).unwrap();
        let pairs: Vec<(&str, &str)> = info.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("name", "hello"),
                ("version", "1.0"),
                ("license", "MIT"),
                ("description", "says hi"),
                ("flag", "")
            ]
        );
    }

    #[test]
    fn reports_missing_section_and_garbage() {
        let elf = tiny_elf(".text", b"\x00\x01");
        assert_eq!(modinfo(&elf), Err(ModinfoError::NoModinfo));
        assert_eq!(modinfo(b"not an elf at all"), Err(ModinfoError::NotElf));
        let mut cut = tiny_elf(".modinfo", b"a=b\0");
        cut.truncate(cut.len() - 0x3c);
        assert_eq!(modinfo(&cut), Err(ModinfoError::NotElf));
        assert_eq!(modinfo(&[]), Err(ModinfoError::NotElf));
    }
}
