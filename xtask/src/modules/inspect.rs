//! Reading a built `.ko` on the host: the ELF header, `.modinfo`, the signature records, symbols and
//! relocation types, and the checks every module must pass before it is installed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use goblin::elf::header::{EM_AARCH64, ET_REL};
use goblin::elf::section_header::{SHT_NOBITS, SHT_REL};
use goblin::elf::sym::{STB_GLOBAL, STB_WEAK};
use goblin::elf::Elf;
use keel_abi::module::{self as abi_module, DESCRIPTOR_SYMBOL};
use keel_abi::{exports, modinfo, signature};

use crate::error::{Error, Result};

/// What a `.ko` says about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModuleInfo {
    /// The file it was read from.
    pub path: PathBuf,
    /// Every `.modinfo` entry, in order.
    pub modinfo: Vec<(String, String)>,
    /// `.keel.imports` records: name and signature hash.
    pub imports: Vec<(String, u32)>,
    /// `.keel.exports` records: name and signature hash.
    pub exports: Vec<(String, u32)>,
    /// Undefined symbols the loader must resolve.
    pub undefined: Vec<String>,
    /// Global (or weak) symbols the module defines.
    pub defined: Vec<String>,
    /// Number of relocations of each type (`r_type`).
    pub relocations: BTreeMap<u32, usize>,
}

impl ModuleInfo {
    /// The first `.modinfo` value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.modinfo
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every `.modinfo` value of `key`.
    pub fn values<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.modinfo
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The module's name (`name=`), or "" if it has none.
    pub fn name(&self) -> &str {
        self.get(modinfo::NAME).unwrap_or("")
    }

    /// The modules named in `depends=`.
    pub fn depends(&self) -> Vec<String> {
        modinfo::depends(self.get(modinfo::DEPENDS).unwrap_or(""))
            .map(String::from)
            .collect()
    }

    /// Imports that no kernel export provides: they must come from other modules.
    pub fn module_imports(&self) -> Vec<(&str, u32)> {
        self.undefined
            .iter()
            .filter(|name| exports::hash_of(name).is_none())
            .filter_map(|name| self.import_hash(name).map(|hash| (name.as_str(), hash)))
            .collect()
    }

    /// The recorded signature hash of import `name`.
    pub fn import_hash(&self, name: &str) -> Option<u32> {
        self.imports
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, hash)| *hash)
    }

    /// The recorded signature hash of export `name`.
    pub fn export_hash(&self, name: &str) -> Option<u32> {
        self.exports
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, hash)| *hash)
    }
}

fn bad(path: &Path, reason: impl Into<String>) -> Error {
    Error::Module {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The bytes of every section named `name`, concatenated (none: empty).
fn section_bytes(elf: &Elf, bytes: &[u8], name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for header in &elf.section_headers {
        if elf.shdr_strtab.get_at(header.sh_name) != Some(name) || header.sh_type == SHT_NOBITS {
            continue;
        }
        let start = header.sh_offset as usize;
        let end = start.saturating_add(header.sh_size as usize);
        if let Some(data) = bytes.get(start..end) {
            out.extend_from_slice(data);
        }
    }
    out
}

fn signature_records(path: &Path, section: &str, bytes: &[u8]) -> Result<Vec<(String, u32)>> {
    let records = signature::records(bytes)
        .map_err(|e| bad(path, format!("has a broken `{section}` section: {e}")))?;
    records
        .map(|record| {
            record
                .map(|(name, hash)| (name.to_string(), hash))
                .map_err(|e| bad(path, format!("has a broken `{section}` section: {e}")))
        })
        .collect()
}

/// Reads `path` as a module object, without judging it (see [`check`]).
pub fn read(path: &Path) -> Result<ModuleInfo> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
    let elf = Elf::parse(&bytes)
        .map_err(|e| bad(path, format!("is not an ELF file goblin reads: {e}")))?;
    if elf.header.e_type != ET_REL {
        return Err(bad(
            path,
            format!(
                "is an ELF file of type {}, not a relocatable object (ET_REL)",
                elf.header.e_type
            ),
        ));
    }
    if elf.header.e_machine != EM_AARCH64 || !elf.is_64 || !elf.little_endian {
        return Err(bad(
            path,
            format!(
                "is for machine {}, not 64-bit little-endian AArch64 (EM_AARCH64 = {EM_AARCH64})",
                elf.header.e_machine
            ),
        ));
    }
    if elf
        .section_headers
        .iter()
        .any(|header| header.sh_type == SHT_REL)
    {
        return Err(bad(
            path,
            "has REL relocation sections; modules use RELA only",
        ));
    }

    let modinfo_bytes = section_bytes(&elf, &bytes, abi_module::MODINFO_SECTION);
    let modinfo = modinfo::parse(&modinfo_bytes)
        .map(|entry| {
            entry
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .map_err(|e| bad(path, format!("has a broken `.modinfo` section: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let imports = signature_records(
        path,
        abi_module::IMPORTS_SECTION,
        &section_bytes(&elf, &bytes, abi_module::IMPORTS_SECTION),
    )?;
    let exports = signature_records(
        path,
        abi_module::EXPORTS_SECTION,
        &section_bytes(&elf, &bytes, abi_module::EXPORTS_SECTION),
    )?;

    let mut undefined = Vec::new();
    let mut defined = Vec::new();
    for sym in elf.syms.iter() {
        let Some(name) = elf.strtab.get_at(sym.st_name).filter(|n| !n.is_empty()) else {
            continue;
        };
        if sym.st_shndx == 0 {
            undefined.push(name.to_string());
        } else if matches!(sym.st_bind(), STB_GLOBAL | STB_WEAK) {
            defined.push(name.to_string());
        }
    }
    let mut relocations = BTreeMap::new();
    for (_, section) in &elf.shdr_relocs {
        for reloc in section.iter() {
            *relocations.entry(reloc.r_type).or_insert(0) += 1;
        }
    }
    Ok(ModuleInfo {
        path: path.to_path_buf(),
        modinfo,
        imports,
        exports,
        undefined,
        defined,
        relocations,
    })
}

/// Checks what every module must satisfy on its own: `.modinfo` with the expected name and this
/// ABI, the descriptor, only loadable relocation types, and a signature record for every import
/// (matching the kernel's hash for kernel exports).
pub fn check(info: &ModuleInfo, expected_name: &str) -> Result<()> {
    let path = &info.path;
    let name = info.get(modinfo::NAME).ok_or_else(|| {
        bad(
            path,
            "has no `name=` in `.modinfo`; declare the module with `keel_module::module!`",
        )
    })?;
    if name != expected_name {
        return Err(bad(
            path,
            format!(
                "calls itself `{name}` in `.modinfo`, but its package is `{expected_name}`; \
                 the `name:` in `module!` must be the package name"
            ),
        ));
    }
    let expect = |key: &str, wanted: &str| match info.get(key) {
        Some(found) if found == wanted => Ok(()),
        found => Err(bad(
            path,
            format!(
                "has `{key}={}` in `.modinfo`, expected `{key}={wanted}`: rebuild it against this \
                 SDK",
                found.unwrap_or("<missing>")
            ),
        )),
    };
    expect(modinfo::ABI, abi_module::ABI_VERSION_TEXT)?;
    expect(modinfo::VERMAGIC, abi_module::VERMAGIC)?;
    if !info.defined.iter().any(|d| d == DESCRIPTOR_SYMBOL) {
        return Err(bad(
            path,
            format!("does not define the descriptor symbol `{DESCRIPTOR_SYMBOL}`"),
        ));
    }
    for (&r_type, &count) in &info.relocations {
        if abi_module::relocation_name(r_type).is_none() {
            return Err(bad(
                path,
                format!(
                    "has {count} relocation(s) of type {r_type}, which the module loader does not \
                     apply (see keel_abi::module::RELOCATION_TYPES); build it with the small code \
                     model and the static relocation model"
                ),
            ));
        }
    }
    for symbol in &info.undefined {
        let Some(hash) = info.import_hash(symbol) else {
            return Err(bad(
                path,
                format!(
                    "imports `{symbol}`, which is neither a kernel export nor declared with \
                     `keel_module::import!`; modules may only call the kernel's ABI and other \
                     modules' exports"
                ),
            ));
        };
        if let Some(kernel) = exports::hash_of(symbol) {
            if kernel != hash {
                return Err(bad(
                    path,
                    format!(
                        "`{symbol}`: signature hash {hash:#010x} in the module, {kernel:#010x} in \
                         the kernel: rebuild the module against this SDK"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Checks imports between modules: every import from another module must be exported by a module
/// in `all` that is listed in `depends`, with the same signature hash.
pub fn check_links(info: &ModuleInfo, all: &[ModuleInfo]) -> Result<()> {
    let depends = info.depends();
    for dependency in &depends {
        if !all.iter().any(|other| other.name() == dependency) {
            return Err(bad(
                &info.path,
                format!("depends on `{dependency}`, but no module of that name was built"),
            ));
        }
    }
    for (symbol, hash) in info.module_imports() {
        let provider = all
            .iter()
            .find_map(|other| other.export_hash(symbol).map(|h| (other.name(), h)));
        match provider {
            None => {
                return Err(bad(
                    &info.path,
                    format!("imports `{symbol}`, which no kernel export or built module provides"),
                ))
            }
            Some((provider, _)) if !depends.iter().any(|d| d == provider) => {
                return Err(bad(
                    &info.path,
                    format!(
                        "imports `{symbol}` from `{provider}` without listing `{provider}` in \
                         `depends`"
                    ),
                ))
            }
            Some((provider, exported)) if exported != hash => {
                return Err(bad(
                    &info.path,
                    format!(
                    "`{symbol}`: signature hash {hash:#010x} in the module, {exported:#010x} in \
                         `{provider}`: the declarations differ; make the `import!` match the \
                         `export!`"
                ),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// `R_AARCH64_CALL26 (12), ...` for messages.
pub fn describe_relocations(relocations: &BTreeMap<u32, usize>) -> String {
    relocations
        .iter()
        .map(|(r_type, count)| {
            let name = abi_module::relocation_name(*r_type).unwrap_or("unknown");
            format!("{name} ({count})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(name: &str) -> ModuleInfo {
        ModuleInfo {
            path: format!("{name}.ko").into(),
            modinfo: [
                ("name", name),
                ("abi", abi_module::ABI_VERSION_TEXT),
                ("vermagic", abi_module::VERMAGIC),
                ("depends", ""),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            defined: vec![DESCRIPTOR_SYMBOL.to_string()],
            relocations: [(283, 3), (257, 1)].into_iter().collect(),
            ..ModuleInfo::default()
        }
    }

    #[test]
    fn a_module_importing_kernel_exports_with_their_hashes_passes() {
        let mut info = module("m");
        info.undefined = vec!["keel_alloc".into()];
        info.imports = vec![("keel_alloc".into(), exports::hash_of("keel_alloc").unwrap())];
        check(&info, "m").unwrap();
    }

    #[test]
    fn a_changed_kernel_signature_is_named_with_both_hashes() {
        let mut info = module("m");
        info.undefined = vec!["keel_alloc".into()];
        info.imports = vec![("keel_alloc".into(), 0x1234)];
        let message = check(&info, "m").unwrap_err().to_string();
        assert!(
            message.contains("`keel_alloc`: signature hash 0x00001234 in the module"),
            "{message}"
        );
        assert!(message.contains("rebuild the module against this SDK"));
    }

    #[test]
    fn imports_without_a_record_other_abis_and_strange_relocations_are_refused() {
        let mut info = module("m");
        info.undefined = vec!["_ZN4core9panicking5panic17h0E".into()];
        let message = check(&info, "m").unwrap_err().to_string();
        assert!(message.contains("neither a kernel export"), "{message}");

        let mut info = module("m");
        info.modinfo[1].1 = "2".into();
        assert!(check(&info, "m")
            .unwrap_err()
            .to_string()
            .contains("`abi=2`"));

        let mut info = module("m");
        info.relocations.insert(311, 1); // R_AARCH64_ADR_GOT_PAGE
        let message = check(&info, "m").unwrap_err().to_string();
        assert!(message.contains("type 311"), "{message}");

        assert!(check(&module("m"), "other").is_err());
    }

    #[test]
    fn imports_between_modules_need_the_provider_in_depends_and_the_same_hash() {
        let mut provider = module("core");
        provider.exports = vec![("core_f".into(), 7)];
        let mut user = module("user");
        user.undefined = vec!["core_f".into()];
        user.imports = vec![("core_f".into(), 7)];
        let all = |user: &ModuleInfo| vec![provider.clone(), user.clone()];

        let message = check_links(&user, &all(&user)).unwrap_err().to_string();
        assert!(
            message.contains("without listing `core` in `depends`"),
            "{message}"
        );

        user.modinfo[3].1 = "core".into();
        check_links(&user, &all(&user)).unwrap();

        user.imports[0].1 = 8;
        let message = check_links(&user, &all(&user)).unwrap_err().to_string();
        assert!(
            message.contains("0x00000008 in the module, 0x00000007 in `core`"),
            "{message}"
        );
    }
}
