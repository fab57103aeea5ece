//! Modules loaded at boot: those `/etc/modules` lists, then those the device tree calls for.
//!
//! `/etc/modules` holds one module per line, `NAME [PARAM=VALUE ...]` (see the file itself).
//! `NAME` resolves to `/lib/modules/NAME.ko`; what it depends on (`/lib/modules/modules.dep`) is
//! loaded first, like `modprobe`. Then, like udev with modalias, every enabled device-tree node
//! whose `compatible` matches a line of `/lib/modules/modules.alias` gets its module loaded,
//! and so does every PCI function whose `pci:vVVVVdDDDD` or `pci:cCCCCCC` (its class) does. A module that fails to load is logged and skipped; boot goes on.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use keel_abi::Errno;
use keel_core::modindex;

use super::loader::{self, LoadError};

/// Where module files live.
pub const MODULE_DIR: &str = "/lib/modules";
/// The boot-time module list.
pub const ETC_MODULES: &str = "/etc/modules";

/// Why `modprobe` failed.
#[derive(Debug)]
pub enum ProbeError {
    /// A module file could not be read.
    Read {
        /// Its path.
        path: String,
        /// Why.
        errno: Errno,
    },
    /// A module did not load.
    Load(LoadError),
}

impl core::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ProbeError::Read { path, errno } => write!(f, "cannot read {path}: {errno}"),
            ProbeError::Load(e) => write!(f, "{e}"),
        }
    }
}

fn read_text(path: &str) -> Result<String, Errno> {
    let bytes = crate::fs::read_file("/", path)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn load_file(name: &str, params: &str) -> Result<(), ProbeError> {
    let path = alloc::format!("{MODULE_DIR}/{name}.ko");
    let image = crate::fs::read_file("/", &path).map_err(|errno| ProbeError::Read {
        path: path.clone(),
        errno,
    })?;
    let loaded = loader::load(&image, params).map_err(ProbeError::Load)?;
    log::info!(target: "module", "{} loaded from {path}: {} bytes, in {} us", loaded.name, loaded.size, loaded.micros);
    Ok(())
}

/// Loads module `name` with `params`, its dependencies (from `dep_text`, the contents of
/// `modules.dep`) first; modules already loaded are skipped.
pub fn modprobe(name: &str, params: &str, dep_text: &str) -> Result<(), ProbeError> {
    if let Some(deps) = modindex::dependencies(dep_text, name) {
        for dep in deps {
            if super::find(dep).is_none() {
                load_file(dep, "")?;
            }
        }
    }
    if super::find(name).is_some() {
        return Ok(());
    }
    load_file(name, params)
}

/// `(module, compatible)` for every enabled device-tree node whose `compatible` strings match a
/// line of `alias_text` (the contents of `modules.alias`), each module once, in tree order.
pub fn aliases_for_tree(alias_text: &str) -> Vec<(String, String)> {
    let mut wanted: Vec<(String, String)> = Vec::new();
    crate::dt::walk(|node, chain| {
        let Some(compatible) = node.compatible() else {
            return false;
        };
        if !crate::dt::Device::of(node, chain).enabled() {
            return false;
        }
        for c in compatible.all() {
            for module in modindex::alias_matches(alias_text, c) {
                if !wanted.iter().any(|(m, _)| modindex::same_name(m, module)) {
                    wanted.push((module.to_string(), c.to_string()));
                }
            }
        }
        false
    });
    wanted
}

/// The modalias of a PCI function: `pci:v1B36d0007`.
fn pci_alias(vendor: u16, device: u16) -> String {
    alloc::format!("pci:v{vendor:04X}d{device:04X}")
}

/// `(module, modalias)` for every PCI function whose id modalias or class modalias
/// (`pci:c080501`) matches a line of `alias_text`, each module once, in bus order.
pub fn aliases_for_pci(alias_text: &str) -> Vec<(String, String)> {
    let mut wanted: Vec<(String, String)> = Vec::new();
    for dev in crate::pci::devices() {
        let f = &dev.function;
        for alias in [
            pci_alias(f.vendor, f.device),
            alloc::format!("pci:c{:06X}", f.class),
        ] {
            for module in modindex::alias_matches(alias_text, &alias) {
                if !wanted.iter().any(|(m, _)| modindex::same_name(m, module)) {
                    wanted.push((module.to_string(), alias.clone()));
                }
            }
        }
    }
    wanted
}

/// Loads what `/etc/modules` lists and what the device tree's compatibles and the PCI
/// functions call for.
pub fn load_at_boot() {
    let dep = read_text(&alloc::format!("{MODULE_DIR}/modules.dep")).unwrap_or_default();
    match read_text(ETC_MODULES) {
        Ok(list) => {
            for (name, params) in modindex::etc_modules(&list) {
                if let Err(e) = modprobe(name, params, &dep) {
                    log::warn!(target: "module", "{ETC_MODULES}: {name}: {e}");
                }
            }
        }
        Err(Errno::ENOENT) => {
            log::info!(target: "module", "no {ETC_MODULES}: no modules to load at boot")
        }
        Err(e) => log::warn!(target: "module", "cannot read {ETC_MODULES}: {e}"),
    }
    let Ok(alias) = read_text(&alloc::format!("{MODULE_DIR}/modules.alias")) else {
        return;
    };
    for (module, compatible) in aliases_for_tree(&alias) {
        log::info!(target: "module", "device tree: {compatible} -> {module}");
        if let Err(e) = modprobe(&module, "", &dep) {
            log::warn!(target: "module", "{module} (for {compatible}): {e}");
        }
    }
    for (module, modalias) in aliases_for_pci(&alias) {
        log::info!(target: "module", "pci: {modalias} -> {module}");
        if let Err(e) = modprobe(&module, "", &dep) {
            log::warn!(target: "module", "{module} (for {modalias}): {e}");
        }
    }
}
