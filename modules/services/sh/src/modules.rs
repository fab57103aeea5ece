//! `modules.dep` (lines `name.ko: dep1.ko dep2.ko`), load order for `modprobe`, and the
//! `lsmod` table.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

pub use keel_core::modindex::{module_name, same_name};

/// One line of `modules.dep`: a module file and the files it depends on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DepEntry {
    /// The module's file, relative to `/lib/modules` (or absolute).
    pub file: String,
    /// The files of its dependencies.
    pub deps: Vec<String>,
}

/// Parses `modules.dep`; lines without `:` (and `#` comments) are skipped.
pub fn parse_dep(text: &str) -> Vec<DepEntry> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (file, deps) = l.split_once(':')?;
            Some(DepEntry {
                file: String::from(file.trim()),
                deps: deps.split_whitespace().map(String::from).collect(),
            })
        })
        .collect()
}

/// Why a load order could not be found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DepError {
    /// The dependencies loop through this module.
    Cycle(String),
}

impl core::fmt::Display for DepError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DepError::Cycle(m) => write!(f, "dependency cycle through {m}"),
        }
    }
}

/// The files to load for module `name`, dependencies first, `name`'s own file last. A module
/// missing from `deps` is taken as `name.ko` without dependencies.
pub fn load_order(deps: &[DepEntry], name: &str) -> Result<Vec<String>, DepError> {
    fn visit(
        deps: &[DepEntry],
        file: &str,
        order: &mut Vec<String>,
        path: &mut Vec<String>,
    ) -> Result<(), DepError> {
        let name = module_name(file);
        if order.iter().any(|f| same_name(module_name(f), name)) {
            return Ok(());
        }
        if path.iter().any(|f| same_name(module_name(f), name)) {
            return Err(DepError::Cycle(String::from(name)));
        }
        let entry = deps.iter().find(|e| same_name(module_name(&e.file), name));
        let file = entry.map_or(String::from(file), |e| e.file.clone());
        path.push(file.clone());
        if let Some(e) = entry {
            for d in &e.deps {
                visit(deps, d, order, path)?;
            }
        }
        path.pop();
        order.push(file);
        Ok(())
    }
    let mut order = Vec::new();
    let start = alloc::format!("{}.ko", module_name(name));
    visit(deps, &start, &mut order, &mut Vec::new())?;
    Ok(order)
}

/// One row of `lsmod`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LsmodRow<'a> {
    /// Module name.
    pub name: &'a str,
    /// Bytes it occupies.
    pub size: u64,
    /// How many users hold it.
    pub refcount: u32,
    /// The modules that use it.
    pub used_by: &'a [String],
    /// A state note: `failed`, `loading`, `unloading`, or none when live.
    pub state: Option<&'static str>,
}

/// The `lsmod` table, in Linux's layout: `Module                  Size  Used by`, then
/// `name size refcount used,by` with `[failed]` (or another state) appended.
pub fn format_lsmod(rows: &[LsmodRow<'_>]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{:<19} {:>8}  Used by", "Module", "Size");
    for r in rows {
        let _ = write!(s, "{:<19} {:>8}  {}", r.name, r.size, r.refcount);
        if !r.used_by.is_empty() {
            let _ = write!(s, " {}", r.used_by.join(","));
        }
        if let Some(st) = r.state {
            let _ = write!(s, " [{st}]");
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEP: &str = "# generated\nhello.ko:\nbus.ko: core.ko\nsensor.ko: bus.ko core.ko\ncore.ko:\nloop-a.ko: loop-b.ko\nloop-b.ko: loop-a.ko\n";

    #[test]
    fn names() {
        assert_eq!(module_name("/lib/modules/uart-pl011.ko"), "uart-pl011");
        assert_eq!(module_name("hello"), "hello");
        assert!(same_name("uart-pl011", "uart_pl011"));
        assert!(!same_name("uart", "uart2"));
    }

    #[test]
    fn parses_dep_lines() {
        let d = parse_dep(DEP);
        assert_eq!(d.len(), 6);
        assert_eq!(
            d[0],
            DepEntry {
                file: "hello.ko".into(),
                deps: Vec::new()
            }
        );
        assert_eq!(d[2].deps, ["bus.ko", "core.ko"]);
    }

    #[test]
    fn dependencies_load_first_once_each() {
        let d = parse_dep(DEP);
        assert_eq!(load_order(&d, "hello").unwrap(), ["hello.ko"]);
        assert_eq!(
            load_order(&d, "sensor").unwrap(),
            ["core.ko", "bus.ko", "sensor.ko"]
        );
        assert_eq!(
            load_order(&d, "sensor.ko").unwrap(),
            ["core.ko", "bus.ko", "sensor.ko"]
        );
        assert_eq!(load_order(&d, "unknown").unwrap(), ["unknown.ko"]);
        assert_eq!(
            load_order(&d, "loop-a"),
            Err(DepError::Cycle("loop-a".into()))
        );
    }

    #[test]
    fn lsmod_matches_linux_layout() {
        let users = [String::from("sensor")];
        let rows = [
            LsmodRow {
                name: "bus",
                size: 16384,
                refcount: 1,
                used_by: &users,
                state: None,
            },
            LsmodRow {
                name: "broken",
                size: 8192,
                refcount: 0,
                used_by: &[],
                state: Some("failed"),
            },
        ];
        assert_eq!(
            format_lsmod(&rows),
            "Module                  Size  Used by\n\
             bus                    16384  1 sensor\n\
             broken                  8192  0 [failed]\n"
        );
    }
}
