//! `insmod`: checks a `.ko`, places and links it, sets its parameters and runs its `init`.
//!
//! The order follows `docs/module-abi.md` ("What the loader checks"): everything that can be
//! checked on the file's bytes — ELF structure, `.modinfo` (name, ABI version, vermagic,
//! dependencies), signature records of every import against the kernel's table and the loaded
//! modules' exports, export clashes, the parameters given — is checked before any memory is
//! allocated. Then the module gets pages in the module region, is linked there, its descriptor is
//! checked, its parameters written, text sealed RX and rodata R, and `init` runs contained. Any
//! failure undoes everything done so far (the [`ModuleMemory`] is dropped, the table entry and
//! everything the module acquired in `init` are released).

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use keel_abi::exports::hash_of;
use keel_abi::modinfo::{self, ModinfoError, ParamValue, Parm};
use keel_abi::module::{
    ParamKind, StrRef, ABI_VERSION_TEXT, DESCRIPTOR_MAGIC, DESCRIPTOR_SYMBOL, EXPORTS_SECTION,
    IMPORTS_SECTION, MODINFO_SECTION, VERMAGIC,
};
use keel_abi::signature::{self, SignatureError};
use keel_abi::Errno;
use keel_modload::{Object, SymbolKind};

use super::exports::EXPORTS;
use super::region::{ModuleMemory, RegionError};
use super::{contain, Export, Functions, Module, ModuleId, State};

/// Longest module name (`.modinfo`'s rule).
const NAME_MAX: usize = 55;
/// Size of `ModuleDescriptor` in ABI 1.
const DESCRIPTOR_SIZE: u64 = 56;
/// Size of one `ParamDesc`.
const PARAM_DESC_SIZE: u64 = 32;
/// Most parameters a module may declare.
const PARAMS_MAX: u32 = 64;

/// Everything that can make a load fail. The text names the module (when its `.modinfo` could be
/// read), what is wrong, where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// The ELF object is malformed or cannot be linked.
    Elf(keel_modload::LoadError),
    /// The object has no `.modinfo` section.
    NoModinfo,
    /// `.modinfo` does not parse.
    Modinfo(ModinfoError),
    /// A required `.modinfo` key is missing.
    MissingKey(&'static str),
    /// The name is not `[a-z0-9_-]{1,55}`.
    BadName(String),
    /// Built for another ABI.
    WrongAbi {
        /// The module.
        name: String,
        /// Its `abi=` value.
        abi: String,
        /// Its `vermagic=` value.
        vermagic: String,
    },
    /// A module of that name is loaded already.
    AlreadyLoaded(String),
    /// A module named in `depends` is not loaded (or not live).
    MissingDependency {
        /// The module.
        name: String,
        /// The dependency.
        dependency: String,
        /// Its state when it is loaded but not live.
        state: Option<State>,
    },
    /// A signature section is malformed.
    Signatures {
        /// The module.
        name: String,
        /// The section.
        section: &'static str,
        /// What is wrong.
        error: SignatureError,
    },
    /// An imported symbol has no signature record.
    NoSignature {
        /// The module.
        name: String,
        /// The symbol.
        symbol: String,
    },
    /// The signature hashes of an import differ.
    HashMismatch {
        /// The module.
        name: String,
        /// The symbol.
        symbol: String,
        /// The hash in the module's record.
        module_hash: u32,
        /// The provider's hash.
        provider_hash: u32,
        /// The provider: `the kernel` or `module NAME`.
        provider: String,
    },
    /// Nothing exports an imported symbol.
    UnknownSymbol {
        /// The module.
        name: String,
        /// The symbol.
        symbol: String,
    },
    /// An import comes from a module that `depends` does not list.
    NotADependency {
        /// The module.
        name: String,
        /// The symbol.
        symbol: String,
        /// The module that exports it.
        provider: String,
    },
    /// An exported name is already exported by the kernel or another module.
    ExportClash {
        /// The module.
        name: String,
        /// The symbol.
        symbol: String,
        /// Who exports it already.
        owner: String,
    },
    /// A `.keel.exports` record names no function the module defines.
    MissingExport {
        /// The module.
        name: String,
        /// The symbol.
        symbol: String,
    },
    /// `__keel_module` is missing.
    NoDescriptor(String),
    /// `__keel_module` is invalid.
    BadDescriptor {
        /// The module.
        name: String,
        /// What is wrong.
        why: &'static str,
    },
    /// A parameter on the command line is not one the module declares.
    UnknownParameter {
        /// The module.
        name: String,
        /// The parameter.
        parameter: String,
    },
    /// A parameter's value does not parse as its type.
    BadParameter {
        /// The module.
        name: String,
        /// The parameter.
        parameter: String,
        /// Its type.
        kind: ParamKind,
        /// The text given (`None` for a bare name).
        value: Option<String>,
    },
    /// The parameter text is malformed (an unterminated quote).
    BadParameterText(String),
    /// No memory or address space for the module.
    NoMemory {
        /// The module.
        name: String,
        /// What ran out.
        error: RegionError,
    },
    /// `init` returned an error; the module was unloaded.
    InitFailed {
        /// The module.
        name: String,
        /// The errno `init` returned (positive).
        errno: u16,
    },
    /// `init` faulted or panicked; the module stays, marked failed.
    InitFailedHard {
        /// The module.
        name: String,
        /// How.
        failure: contain::Failure,
    },
}

impl LoadError {
    /// The error number the system call returns.
    pub fn errno(&self) -> Errno {
        match self {
            LoadError::Elf(keel_modload::LoadError::UnknownSymbol { .. }) => Errno::ENOENT,
            LoadError::AlreadyLoaded(_) => Errno::EALREADY,
            LoadError::MissingDependency { .. } | LoadError::UnknownSymbol { .. } => Errno::ENOENT,
            LoadError::ExportClash { .. } => Errno::EEXIST,
            LoadError::UnknownParameter { .. }
            | LoadError::BadParameter { .. }
            | LoadError::BadParameterText(_) => Errno::EINVAL,
            LoadError::NoMemory { .. } => Errno::ENOMEM,
            LoadError::InitFailed { errno, .. } => Errno(*errno),
            LoadError::InitFailedHard { .. } => Errno::EMODFAILED,
            _ => Errno::ENOEXEC,
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Elf(e) => write!(f, "not a loadable module: {e}"),
            LoadError::NoModinfo => f.write_str("not a Keel module: the object has no .modinfo section; build it with the Keel SDK"),
            LoadError::Modinfo(e) => write!(f, "malformed .modinfo: {e}"),
            LoadError::MissingKey(key) => write!(f, ".modinfo has no `{key}=` entry; build the module with the Keel SDK"),
            LoadError::BadName(name) => write!(f, "module name {name:?} is not 1 to {NAME_MAX} characters of a-z, 0-9, `_` and `-`"),
            LoadError::WrongAbi { name, abi, vermagic } => write!(
                f,
                "{name}.ko: built for ABI {abi} (`{vermagic}`), this kernel has ABI {ABI_VERSION_TEXT} (`{VERMAGIC}`): rebuild the module against this SDK"
            ),
            LoadError::AlreadyLoaded(name) => write!(f, "{name}: already loaded"),
            LoadError::MissingDependency { name, dependency, state: None } => write!(
                f,
                "{name} depends on {dependency}, which is not loaded: load it first (modprobe {name} does)"
            ),
            LoadError::MissingDependency { name, dependency, state: Some(state) } => write!(
                f,
                "{name} depends on {dependency}, which is {}",
                state.name()
            ),
            LoadError::Signatures { name, section, error } => write!(f, "{name}: section {section}: {error}"),
            LoadError::NoSignature { name, symbol } => write!(
                f,
                "{name}: `{symbol}`: no signature record; build the module with the Keel SDK"
            ),
            LoadError::HashMismatch { name, symbol, module_hash, provider_hash, provider } => write!(
                f,
                "{name}: `{symbol}`: signature hash {module_hash:#010x} in the module, {provider_hash:#010x} in {provider}: rebuild the module against this SDK"
            ),
            LoadError::UnknownSymbol { name, symbol } => write!(
                f,
                "{name}: unknown symbol `{symbol}`: neither the kernel nor a loaded module exports it"
            ),
            LoadError::NotADependency { name, symbol, provider } => write!(
                f,
                "{name}: `{symbol}` comes from module {provider}, which its `depends` does not list"
            ),
            LoadError::ExportClash { name, symbol, owner } => {
                write!(f, "{name}: exports `{symbol}`, which {owner} exports already")
            }
            LoadError::MissingExport { name, symbol } => write!(
                f,
                "{name}: .keel.exports names `{symbol}`, but the module defines no such global function"
            ),
            LoadError::NoDescriptor(name) => write!(
                f,
                "{name}: no `{DESCRIPTOR_SYMBOL}` descriptor (no init): declare the module with keel_module::module!"
            ),
            LoadError::BadDescriptor { name, why } => write!(f, "{name}: bad `{DESCRIPTOR_SYMBOL}` descriptor: {why}"),
            LoadError::UnknownParameter { name, parameter } => {
                write!(f, "{name}: unknown parameter `{parameter}` (modinfo {name} lists them)")
            }
            LoadError::BadParameter { name, parameter, kind, value: Some(value) } => write!(
                f,
                "{name}: parameter `{parameter}`: {value:?} is not a valid {}",
                kind.name()
            ),
            LoadError::BadParameter { name, parameter, kind, value: None } => write!(
                f,
                "{name}: parameter `{parameter}` needs a value (`{parameter}=...`, a {})",
                kind.name()
            ),
            LoadError::BadParameterText(text) => write!(f, "parameters {text:?}: unterminated quote"),
            LoadError::NoMemory { name, error } => write!(f, "{name}: {error}"),
            LoadError::InitFailed { name, errno } => {
                write!(f, "{name}: init failed: {} (error {errno}); the module was unloaded", Errno(*errno).description())
            }
            LoadError::InitFailedHard { name, failure } => write!(
                f,
                "{name}: init {}; the module is marked failed (`rmmod {name}` frees it)",
                match failure {
                    contain::Failure::Fault => "faulted",
                    contain::Failure::Panic => "panicked",
                }
            ),
        }
    }
}

/// What a successful load reports.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The module's id.
    pub id: ModuleId,
    /// Its name.
    pub name: String,
    /// Bytes of memory it occupies.
    pub size: u64,
    /// How long loading took, `init` included, in microseconds.
    pub micros: u64,
}

/// Splits the `insmod` parameter text into `(name, value)` pairs: whitespace-separated
/// `name=value` or bare `name`; double quotes group a value with spaces (`greeting="hi there"`).
pub fn split_params(text: &str) -> Result<Vec<(String, Option<String>)>, LoadError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let (mut quoted, mut any) = (false, false);
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    words.push(core::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if quoted {
        return Err(LoadError::BadParameterText(text.to_string()));
    }
    if any {
        words.push(word);
    }
    Ok(words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (w, None),
        })
        .collect())
}

fn valid_name(name: &str) -> bool {
    (1..=NAME_MAX).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// What the checks before allocation found.
struct Plan<'a> {
    name: &'a str,
    depends: Vec<ModuleId>,
    /// Resolved imports: name and address, in symbol table order (a handful: a list is
    /// quicker than a map).
    resolved: Vec<(&'a str, u64)>,
    /// `.keel.exports` records.
    exports: Vec<(&'a str, u32)>,
    params: Vec<(String, Option<String>)>,
    /// `.modinfo`'s `compatible` strings.
    compatible: Vec<String>,
    /// `.modinfo`'s `pci` ids.
    pci: Vec<(u16, u16)>,
    /// `.modinfo`'s `pci_class` classes.
    pci_classes: Vec<u32>,
}

/// The checks on the file's bytes, before any memory is allocated.
fn plan<'a>(obj: &Object<'a>, params: &str) -> Result<Plan<'a>, LoadError> {
    let info = obj.section(MODINFO_SECTION).ok_or(LoadError::NoModinfo)?;
    // Every entry checked and split once; the lookups below read this list.
    let entries: Vec<(&str, &str)> = modinfo::parse(info)
        .collect::<Result<_, _>>()
        .map_err(LoadError::Modinfo)?;
    let values = |key: &'static str| {
        entries
            .iter()
            .filter(move |(k, _)| *k == key)
            .map(|&(_, v)| v)
    };
    let get = |key| values(key).next();
    let name = get(modinfo::NAME).ok_or(LoadError::MissingKey("name"))?;
    if !valid_name(name) {
        return Err(LoadError::BadName(name.to_string()));
    }
    let abi = get(modinfo::ABI);
    let vermagic = get(modinfo::VERMAGIC);
    if abi != Some(ABI_VERSION_TEXT) || vermagic != Some(VERMAGIC) {
        return Err(LoadError::WrongAbi {
            name: name.to_string(),
            abi: abi.unwrap_or("(none)").to_string(),
            vermagic: vermagic.unwrap_or("(none)").to_string(),
        });
    }
    if super::find(name).is_some() {
        return Err(LoadError::AlreadyLoaded(name.to_string()));
    }
    let mut depends = Vec::new();
    for dependency in modinfo::depends(get(modinfo::DEPENDS).unwrap_or("")) {
        match super::find(dependency) {
            Some((id, State::Live)) => depends.push(id),
            other => {
                return Err(LoadError::MissingDependency {
                    name: name.to_string(),
                    dependency: dependency.to_string(),
                    state: other.map(|(_, s)| s),
                })
            }
        }
    }

    let records = |section: &'static str| -> Result<Vec<(&'a str, u32)>, LoadError> {
        let Some(bytes) = obj.section(section) else {
            return Ok(Vec::new());
        };
        let bad = |error| LoadError::Signatures {
            name: name.to_string(),
            section,
            error,
        };
        signature::records(bytes)
            .map_err(bad)?
            .map(|r| r.map_err(bad))
            .collect()
    };
    let imports = records(IMPORTS_SECTION)?;
    let exports = records(EXPORTS_SECTION)?;

    let mut resolved = Vec::new();
    for import in obj.imports() {
        let symbol = import.name;
        let Some(&(_, hash)) = imports.iter().find(|(n, _)| *n == symbol) else {
            return Err(LoadError::NoSignature {
                name: name.to_string(),
                symbol: symbol.to_string(),
            });
        };
        let mismatch = |provider_hash, provider: String| LoadError::HashMismatch {
            name: name.to_string(),
            symbol: symbol.to_string(),
            module_hash: hash,
            provider_hash,
            provider,
        };
        if let Some((kernel_hash, address)) = EXPORTS.resolve(symbol, hash) {
            if kernel_hash != hash {
                return Err(mismatch(kernel_hash, "the kernel".to_string()));
            }
            resolved.push((symbol, address as u64));
        } else if let Some((provider, provider_name, export)) = super::find_export(symbol) {
            if export.hash != hash {
                return Err(mismatch(
                    export.hash,
                    alloc::format!("module {provider_name}"),
                ));
            }
            if !depends.contains(&provider) {
                return Err(LoadError::NotADependency {
                    name: name.to_string(),
                    symbol: symbol.to_string(),
                    provider: provider_name,
                });
            }
            resolved.push((symbol, export.address));
        } else if !import.weak {
            return Err(LoadError::UnknownSymbol {
                name: name.to_string(),
                symbol: symbol.to_string(),
            });
        }
    }
    for &(symbol, _) in &exports {
        let owner = if hash_of(symbol).is_some() {
            Some("the kernel".to_string())
        } else {
            super::find_export(symbol).map(|(_, owner, _)| alloc::format!("module {owner}"))
        };
        if let Some(owner) = owner {
            return Err(LoadError::ExportClash {
                name: name.to_string(),
                symbol: symbol.to_string(),
                owner,
            });
        }
    }

    // Parameters against `.modinfo`'s declarations (the descriptor is checked again after linking).
    let params = split_params(params)?;
    for (parameter, value) in &params {
        let declared = values(modinfo::PARM)
            .filter_map(|v| Parm::parse(v).ok())
            .find(|p| p.name == parameter);
        let Some(declared) = declared else {
            return Err(LoadError::UnknownParameter {
                name: name.to_string(),
                parameter: parameter.clone(),
            });
        };
        if ParamValue::parse(declared.kind, value.as_deref()).is_none() {
            return Err(LoadError::BadParameter {
                name: name.to_string(),
                parameter: parameter.clone(),
                kind: declared.kind,
                value: value.clone(),
            });
        }
    }
    let compatible = values(modinfo::COMPATIBLE).map(String::from).collect();
    let pci = values(modinfo::PCI)
        .filter_map(|v| modinfo::parse_pci(v).ok())
        .collect();
    let pci_classes = values(modinfo::PCI_CLASS)
        .filter_map(|v| modinfo::parse_pci_class(v).ok())
        .collect();
    Ok(Plan {
        name,
        depends,
        resolved,
        exports,
        params,
        compatible,
        pci,
        pci_classes,
    })
}

/// Reads a little-endian `u32` of the linked module at `va` (inside its memory).
///
/// # Safety
/// `[va, va + 4)` must lie in the module's mapped memory.
unsafe fn read_u32(va: u64) -> u32 {
    // An aligned field is read at once (the kernel's target reads an unaligned one byte by byte).
    if va.is_multiple_of(4) {
        // SAFETY: forwarded from the caller; `va` is aligned.
        unsafe { (va as *const u32).read() }
    } else {
        // SAFETY: forwarded from the caller.
        unsafe { core::ptr::read_unaligned(va as *const u32) }
    }
}

/// Reads a little-endian `u64` of the linked module at `va` (inside its memory).
///
/// # Safety
/// `[va, va + 8)` must lie in the module's mapped memory.
unsafe fn read_u64(va: u64) -> u64 {
    // As in `read_u32`.
    if va.is_multiple_of(8) {
        // SAFETY: forwarded from the caller; `va` is aligned.
        unsafe { (va as *const u64).read() }
    } else {
        // SAFETY: forwarded from the caller.
        unsafe { core::ptr::read_unaligned(va as *const u64) }
    }
}

/// The descriptor's entry points, checked.
struct Descriptor {
    init: u64,
    exit: u64,
    params: Vec<(String, ParamKind, u64)>,
}

/// Checks `__keel_module` in the linked module.
fn descriptor(memory: &ModuleMemory, va: u64, name: &str) -> Result<Descriptor, LoadError> {
    let bad = |why| LoadError::BadDescriptor {
        name: name.to_string(),
        why,
    };
    if !memory.contains(va, DESCRIPTOR_SIZE) {
        return Err(bad("it does not lie in the module's memory"));
    }
    // SAFETY: the 56 bytes at `va` lie in the module's memory (checked above).
    let (magic, abi, size, count, name_ptr, name_len, init, exit, params) = unsafe {
        (
            read_u32(va),
            read_u32(va + 4),
            read_u32(va + 8),
            read_u32(va + 12),
            read_u64(va + 16),
            read_u64(va + 24),
            read_u64(va + 32),
            read_u64(va + 40),
            read_u64(va + 48),
        )
    };
    if magic != DESCRIPTOR_MAGIC {
        return Err(bad("wrong magic (not `KEEL`)"));
    }
    if abi != keel_abi::ABI_VERSION {
        return Err(bad("its abi_version differs from this kernel's"));
    }
    if u64::from(size) < DESCRIPTOR_SIZE {
        return Err(bad("its size is smaller than 56 bytes"));
    }
    if !memory.contains(name_ptr, name_len) {
        return Err(bad("its name does not lie in the module's memory"));
    }
    // SAFETY: `[name_ptr, name_ptr + name_len)` lies in the module's memory (checked above).
    let desc_name =
        unsafe { core::slice::from_raw_parts(name_ptr as *const u8, name_len as usize) };
    if desc_name != name.as_bytes() {
        return Err(bad("its name differs from .modinfo's"));
    }
    if !memory.in_text(init) || !memory.in_text(exit) {
        return Err(bad("init or exit does not lie in the module's text"));
    }
    if count > PARAMS_MAX {
        return Err(bad("it declares more than 64 parameters"));
    }
    let mut list = Vec::new();
    if count > 0 && !memory.contains(params, u64::from(count) * PARAM_DESC_SIZE) {
        return Err(bad(
            "its parameter table does not lie in the module's memory",
        ));
    }
    for i in 0..u64::from(count) {
        let at = params + i * PARAM_DESC_SIZE;
        // SAFETY: the table lies in the module's memory (checked above).
        let (pname, plen, kind, storage) = unsafe {
            (
                read_u64(at),
                read_u64(at + 8),
                read_u32(at + 16),
                read_u64(at + 24),
            )
        };
        if !memory.contains(pname, plen) {
            return Err(bad("a parameter name does not lie in the module's memory"));
        }
        // SAFETY: checked just above.
        let pname = unsafe { core::slice::from_raw_parts(pname as *const u8, plen as usize) };
        let pname =
            core::str::from_utf8(pname).map_err(|_| bad("a parameter name is not UTF-8"))?;
        let kind =
            ParamKind::from_raw(kind).ok_or_else(|| bad("a parameter has an unknown kind"))?;
        let (size, align) = match kind {
            ParamKind::Bool => (1, 1),
            ParamKind::U32 => (4, 4),
            ParamKind::I64 | ParamKind::U64 => (8, 8),
            ParamKind::Str => (core::mem::size_of::<StrRef>() as u64, 8),
        };
        if !memory.in_data(storage, size) || !storage.is_multiple_of(align) {
            return Err(bad(
                "a parameter's storage is not in the module's writable data",
            ));
        }
        list.push((pname.to_string(), kind, storage));
    }
    Ok(Descriptor {
        init,
        exit,
        params: list,
    })
}

/// Writes the command line's parameters into the module's storage; returns the kernel-owned copies
/// of `str` values.
fn write_params(
    name: &str,
    desc: &Descriptor,
    params: &[(String, Option<String>)],
) -> Result<Vec<Box<str>>, LoadError> {
    let mut strings = Vec::new();
    for (parameter, text) in params {
        let Some(&(_, kind, storage)) = desc.params.iter().find(|(n, _, _)| n == parameter) else {
            return Err(LoadError::UnknownParameter {
                name: name.to_string(),
                parameter: parameter.clone(),
            });
        };
        let value =
            ParamValue::parse(kind, text.as_deref()).ok_or_else(|| LoadError::BadParameter {
                name: name.to_string(),
                parameter: parameter.clone(),
                kind,
                value: text.clone(),
            })?;
        // SAFETY: `storage` lies in the module's writable data with room and alignment for its
        // kind (checked by `descriptor`), and no module code runs yet.
        unsafe {
            match value {
                ParamValue::Bool(b) => (storage as *mut u8).write(u8::from(b)),
                ParamValue::I64(v) => (storage as *mut i64).write(v),
                ParamValue::U64(v) => (storage as *mut u64).write(v),
                ParamValue::U32(v) => (storage as *mut u32).write(v),
                ParamValue::Str(s) => {
                    let copy: Box<str> = Box::from(s);
                    (storage as *mut StrRef).write(StrRef {
                        ptr: copy.as_ptr(),
                        len: copy.len(),
                    });
                    strings.push(copy);
                }
            }
        }
    }
    Ok(strings)
}

/// Loads the module in `image` with the `insmod` parameter text `params` and runs its `init`.
pub fn load(image: &[u8], params: &str) -> Result<Loaded, LoadError> {
    let started = crate::time::uptime_nanos();
    let _op = super::OPS.lock();
    let obj = Object::parse(image).map_err(LoadError::Elf)?;
    let plan = plan(&obj, params)?;
    let name = plan.name;

    let layout = obj.layout();
    let mut memory = ModuleMemory::new(&layout).map_err(|error| LoadError::NoMemory {
        name: name.to_string(),
        error,
    })?;
    let linked = {
        // SAFETY: the memory is not sealed yet and the image is dropped before `seal`.
        let mut image = unsafe { memory.image() };
        obj.link_with(&layout, &mut image, &mut |symbol| {
            // The names come from the object's import list, as `symbol` does: a match is the
            // same slice, found without comparing bytes.
            let same = |name: &&str| core::ptr::eq(*name, symbol) || *name == symbol;
            plan.resolved
                .iter()
                .find(|(name, _)| same(name))
                .map(|&(_, address)| address)
        })
        .map_err(LoadError::Elf)?
    };
    let desc_va = linked
        .symbol(DESCRIPTOR_SYMBOL)
        .filter(|s| s.kind != SymbolKind::Function)
        .ok_or_else(|| LoadError::NoDescriptor(name.to_string()))?
        .va;
    let desc = descriptor(&memory, desc_va, name)?;
    let mut exports = Vec::new();
    for &(symbol, hash) in &plan.exports {
        let defined = linked
            .symbol(symbol)
            .filter(|s| s.kind == SymbolKind::Function && memory.in_text(s.va))
            .ok_or_else(|| LoadError::MissingExport {
                name: name.to_string(),
                symbol: symbol.to_string(),
            })?;
        exports.push(Export {
            name: symbol.to_string(),
            hash,
            address: defined.va,
        });
    }
    let strings = write_params(name, &desc, &plan.params)?;
    memory.seal().map_err(|error| LoadError::NoMemory {
        name: name.to_string(),
        error,
    })?;
    let functions = Functions::new(&linked);

    let id = super::next_id();
    let size = memory.size();
    super::insert(Module {
        id,
        name: name.to_string(),
        state: State::Loading,
        memory,
        functions,
        exports,
        depends: plan.depends,
        compatible: plan.compatible,
        pci: plan.pci,
        pci_classes: plan.pci_classes,
        exit: desc.exit as usize,
        _strings: strings,
    });
    match contain::call(id, desc.init as usize, id as usize) {
        Ok(raw) => {
            let status = raw as u32 as i32;
            if status != 0 {
                super::teardown(id);
                let errno = u16::try_from(status.unsigned_abs())
                    .ok()
                    .filter(|&e| e > 0 && status < 0)
                    .unwrap_or(Errno::EIO.0);
                return Err(LoadError::InitFailed {
                    name: name.to_string(),
                    errno,
                });
            }
        }
        Err(failure) => {
            super::fail(id, failure);
            return Err(LoadError::InitFailedHard {
                name: name.to_string(),
                failure,
            });
        }
    }
    super::set_state(id, State::Live);
    let micros = (crate::time::uptime_nanos() - started) / 1000;
    Ok(Loaded {
        id,
        name: name.to_string(),
        size,
        micros,
    })
}
