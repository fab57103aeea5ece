//! `modules.dep` and `modules.alias`, generated from the `.modinfo` of the built modules.

use keel_abi::modinfo;

use super::ModuleInfo;
use crate::error::{Error, Result};

/// `modules.dep`, Linux style: one line `NAME.ko: DEP.ko ...` per module, listing every module it
/// needs directly or indirectly, ordered so that loading from the END of the list backwards loads
/// every module after what it depends on (as `modprobe` reads it).
pub fn modules_dep(modules: &[ModuleInfo]) -> Result<String> {
    let mut text = String::from("# modules.dep: NAME.ko: what it needs (load from the right)\n");
    for info in modules {
        let mut order = Vec::new();
        visit(info, modules, &mut order, &mut Vec::new())?;
        // `order` is post-order (dependencies first) and ends with the module itself.
        order.pop();
        let needed: Vec<String> = order
            .iter()
            .rev()
            .map(|name| format!("{name}.ko"))
            .collect();
        if needed.is_empty() {
            text.push_str(&format!("{}.ko:\n", info.name()));
        } else {
            text.push_str(&format!("{}.ko: {}\n", info.name(), needed.join(" ")));
        }
    }
    Ok(text)
}

/// Depth-first post-order over `depends`, failing on cycles and unknown modules.
fn visit(
    info: &ModuleInfo,
    modules: &[ModuleInfo],
    order: &mut Vec<String>,
    path: &mut Vec<String>,
) -> Result<()> {
    let name = info.name().to_string();
    if order.contains(&name) {
        return Ok(());
    }
    if path.contains(&name) {
        path.push(name);
        return Err(Error::Module {
            path: info.path.clone(),
            reason: format!("is part of a dependency cycle: {}", path.join(" -> ")),
        });
    }
    path.push(name.clone());
    for dependency in info.depends() {
        let provider = modules
            .iter()
            .find(|m| m.name() == dependency)
            .ok_or_else(|| Error::Module {
                path: info.path.clone(),
                reason: format!("depends on `{dependency}`, but no module of that name was built"),
            })?;
        visit(provider, modules, order, path)?;
    }
    path.pop();
    order.push(name);
    Ok(())
}

/// `modules.alias`: one line per device a module drives, `COMPATIBLE NAME` for device-tree
/// compatible strings, `pci:vVVVVdDDDD NAME` for PCI ids and `pci:cCCCCCC NAME` for PCI classes
/// (hex, upper case).
pub fn modules_alias(modules: &[ModuleInfo]) -> String {
    let mut text = String::from(
        "# modules.alias: device-tree compatible, pci:vVVVVdDDDD or pci:cCCCCCC, then the module's name\n",
    );
    for info in modules {
        for compatible in info.values(modinfo::COMPATIBLE) {
            text.push_str(&format!("{compatible} {}\n", info.name()));
        }
        for pci in info.values(modinfo::PCI) {
            if let Ok((vendor, device)) = modinfo::parse_pci(pci) {
                text.push_str(&format!("pci:v{vendor:04X}d{device:04X} {}\n", info.name()));
            }
        }
        for class in info.values(modinfo::PCI_CLASS) {
            if let Ok(class) = modinfo::parse_pci_class(class) {
                text.push_str(&format!("pci:c{class:06X} {}\n", info.name()));
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(name: &str, entries: &[(&str, &str)]) -> ModuleInfo {
        let mut modinfo = vec![("name".to_string(), name.to_string())];
        modinfo.extend(entries.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        ModuleInfo {
            path: format!("{name}.ko").into(),
            modinfo,
            ..ModuleInfo::default()
        }
    }

    #[test]
    fn dependencies_are_transitive_and_load_from_the_right() {
        let modules = [
            module("a", &[("depends", "b,c")]),
            module("b", &[("depends", "c")]),
            module("c", &[("depends", "")]),
        ];
        assert_eq!(
            modules_dep(&modules)
                .unwrap()
                .lines()
                .skip(1)
                .collect::<Vec<_>>(),
            ["a.ko: b.ko c.ko", "b.ko: c.ko", "c.ko:"]
        );
    }

    #[test]
    fn cycles_and_missing_modules_are_errors() {
        let cycle = [
            module("a", &[("depends", "b")]),
            module("b", &[("depends", "a")]),
        ];
        let message = modules_dep(&cycle).unwrap_err().to_string();
        assert!(message.contains("a -> b -> a"), "{message}");
        let missing = [module("a", &[("depends", "zz")])];
        let message = modules_dep(&missing).unwrap_err().to_string();
        assert!(message.contains("depends on `zz`"), "{message}");
    }

    #[test]
    fn aliases_name_compatible_strings_and_pci_ids() {
        let modules = [module(
            "sdhci",
            &[
                ("compatible", "brcm,bcm2711-emmc2"),
                ("pci", "1b36:0007"),
                ("pci_class", "080501"),
            ],
        )];
        assert_eq!(
            modules_alias(&modules).lines().skip(1).collect::<Vec<_>>(),
            [
                "brcm,bcm2711-emmc2 sdhci",
                "pci:v1B36d0007 sdhci",
                "pci:c080501 sdhci"
            ]
        );
    }
}
