//! Loadable modules: building each module crate into one ELF relocatable object `NAME.ko`, checking
//! it, and writing `modules.dep` and `modules.alias` (`cargo xtask build`, `cargo xtask module`).
//!
//! A module crate is compiled for `aarch64-unknown-none-softfloat` as a `staticlib` with fat LTO and
//! one codegen unit, so that the crate, the SDK and what it uses of `core`/`alloc` end up as one
//! object; `rust-lld -r` then joins that object with the `compiler_builtins` members it needs
//! (`memcpy`, ...) into one relocatable object, merging the per-function and per-item sections
//! (`.text.*`, `.rodata.*`, ...) into one section per kind ([`MERGE_SCRIPT`]: the loader reads
//! every section header several times, and one function per section made a small module a
//! hundred sections), and `llvm-objcopy` strips debug information and
//! unwind tables and turns every global symbol except the descriptor and the module's exports local.
//! What is left undefined is exactly the kernel exports and other modules' exports it calls.

mod index;
mod inspect;

use std::path::{Path, PathBuf};
use std::process::Command;

use keel_abi::module::{DESCRIPTOR_SYMBOL, EXPORTS_SECTION, IMPORTS_SECTION, MODINFO_SECTION};

use crate::cli::{Board, ModuleOptions};
use crate::error::{Error, Result};
use crate::files::{copy, create_dir};
use crate::layout::{self, Layout};
use crate::process;
use crate::toolchain;

pub use inspect::ModuleInfo;

/// `modules/drivers/`: one folder per in-tree module crate.
fn drivers_dir(layout: &Layout) -> PathBuf {
    layout.root().join("modules").join("drivers")
}

/// The Cargo target directory of in-tree module builds, apart from the kernel's (modules are built
/// with different profile settings).
fn modules_target_dir(layout: &Layout) -> PathBuf {
    layout.target().join("modules")
}

/// `target/dist/<board>/modules/`.
pub fn dist_dir(layout: &Layout, board: Board) -> PathBuf {
    layout.board_dist(board).join("modules")
}

/// The names a module crate's manifest gives: the package and the library crate.
#[derive(Clone, Debug, PartialEq, Eq)]
struct CrateNames {
    package: String,
    lib: String,
}

/// Reads `[package] name` and `[lib] name` from a `Cargo.toml` (a minimal reader: one
/// `name = "..."` line per section).
fn crate_names(manifest: &Path) -> Result<CrateNames> {
    let text = std::fs::read_to_string(manifest).map_err(|e| Error::io("read", manifest, e))?;
    let mut section = String::new();
    let (mut package, mut lib) = (None, None);
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() != "name" {
            continue;
        }
        let value = value.trim().trim_matches('"').to_string();
        match section.as_str() {
            "package" => package = Some(value),
            "lib" => lib = Some(value),
            _ => {}
        }
    }
    let package = package.ok_or_else(|| Error::Module {
        path: manifest.to_path_buf(),
        reason: "has no `name = \"...\"` in its `[package]` section".to_string(),
    })?;
    let lib = lib.unwrap_or_else(|| package.replace('-', "_"));
    Ok(CrateNames { package, lib })
}

/// Sets the profile and flags every module build uses on a `cargo rustc` command.
fn module_cargo_flags(cargo: &mut Command) {
    cargo
        .env("CARGO_PROFILE_RELEASE_LTO", "fat")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_PANIC", "abort")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "3")
        .args([
            "--release",
            "--target",
            layout::KERNEL_TARGET,
            "--crate-type",
            "staticlib",
            "--",
            "-C",
            "relocation-model=static",
            "-C",
            "code-model=small",
            "-C",
            "force-frame-pointers=yes",
        ]);
}

/// The toolchain's `rust-lld`, next to its `llvm-objcopy`.
fn rust_lld(root: &Path) -> Result<PathBuf> {
    let path = toolchain::llvm_objcopy(root)?.with_file_name("rust-lld");
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::Missing {
            path,
            needed_for: "linking module objects (.ko)".to_string(),
            hint: "reinstall the toolchain; rust-lld ships with every rustup toolchain".to_string(),
        })
    }
}

/// Turns the staticlib `archive` into the checked module object `out`.
/// The linker script of the `-r` link: `.text.*`, `.rodata.*`, `.data.*` and `.bss.*` go into
/// `.text`, `.rodata`, `.data` and `.bss`, keeping their relocations (and every symbol); the
/// other sections (`.modinfo`, the signature sections) stay as they are.
const MERGE_SCRIPT: &str = "SECTIONS {
  .text : { *(.text .text.*) }
  .rodata : { *(.rodata .rodata.*) }
  .data : { *(.data .data.*) }
  .bss : { *(.bss .bss.*) }
}
";

fn link(root: &Path, archive: &Path, out: &Path, package: &str) -> Result<ModuleInfo> {
    if !archive.is_file() {
        return Err(Error::Missing {
            path: archive.to_path_buf(),
            needed_for: format!("the module `{package}`"),
            hint: "the crate must be a library; cargo builds it as a staticlib".to_string(),
        });
    }
    let joined = out.with_extension("joined.o");
    let script = out.with_extension("ld");
    std::fs::write(&script, MERGE_SCRIPT).map_err(|e| Error::io("write", &script, e))?;
    process::output(
        Command::new(rust_lld(root)?)
            .args(["-flavor", "gnu", "-r", "-u", DESCRIPTOR_SYMBOL, "-T"])
            .arg(&script)
            .arg("-o")
            .arg(&joined)
            .arg(archive),
        &format!("linking the module `{package}` into one object"),
    )?;
    std::fs::remove_file(&script).map_err(|e| Error::io("remove", &script, e))?;
    let joined_info = inspect::read(&joined)?;
    let mut objcopy = Command::new(toolchain::llvm_objcopy(root)?);
    objcopy.args([
        "--strip-debug",
        "--remove-section=.eh_frame",
        "--remove-section=.rela.eh_frame",
        "--remove-section=.comment",
        "--remove-section=.note.GNU-stack",
        // Bitcode that the precompiled `compiler_builtins` objects carry.
        "--remove-section=.llvmbc",
        "--remove-section=.llvmcmd",
    ]);
    objcopy.arg(format!("--keep-global-symbol={DESCRIPTOR_SYMBOL}"));
    for (name, _) in &joined_info.exports {
        objcopy.arg(format!("--keep-global-symbol={name}"));
    }
    // The loader reads these three from the file: they need no memory in the module.
    for section in [MODINFO_SECTION, IMPORTS_SECTION, EXPORTS_SECTION] {
        objcopy.arg(format!("--set-section-flags={section}=contents,readonly"));
    }
    // Only the records of what the module imports (the SDK records every kernel export).
    let records = out.with_extension("imports");
    let used: Vec<u8> = joined_info
        .imports
        .iter()
        .filter(|(name, _)| joined_info.undefined.contains(name))
        .flat_map(|(name, hash)| {
            let record = keel_abi::signature::SymbolSignature::new(name, *hash);
            let mut bytes = record.name.to_vec();
            bytes.extend_from_slice(&record.hash.to_le_bytes());
            bytes.extend_from_slice(&record.reserved.to_le_bytes());
            bytes
        })
        .collect();
    std::fs::write(&records, used).map_err(|e| Error::io("write", &records, e))?;
    if !joined_info.imports.is_empty() {
        objcopy
            .arg("--update-section")
            .arg(format!("{IMPORTS_SECTION}={}", records.display()));
    }
    let stripped = out.with_extension("stripped.o");
    objcopy.arg(&joined).arg(&stripped);
    process::output(
        &mut objcopy,
        &format!("stripping the module object `{package}.ko`"),
    )?;
    std::fs::remove_file(&joined).map_err(|e| Error::io("remove", &joined, e))?;
    std::fs::remove_file(&records).map_err(|e| Error::io("remove", &records, e))?;
    prelink(root, &stripped, out, &joined_info)?;
    std::fs::remove_file(&stripped).map_err(|e| Error::io("remove", &stripped, e))?;
    let info = inspect::read(out)?;
    inspect::check(&info, package)?;
    for (name, _) in &info.exports {
        if !info.defined.contains(name) {
            return Err(Error::Module {
                path: out.to_path_buf(),
                reason: format!(
                    "records `{name}` in `{EXPORTS_SECTION}` but does not define it as a global \
                     symbol"
                ),
            });
        }
    }
    Ok(info)
}

/// Prelinks the stripped module object `from` into `out` (`keel_modload::Object::prelink`: the
/// relocations between the module's own sections that do not depend on where it is loaded are
/// applied, each loaded section records its offset in the module's span), then drops the
/// relocation sections it emptied and the symbols nothing needs any more: those no remaining relocation names, except the functions (their
/// names are the kernel's fault reports and backtraces), the descriptor and the exports; and the
/// `$x`/`$d` mapping symbols. A trial link of the result checks that the loader places every
/// section where it records.
fn prelink(root: &Path, from: &Path, out: &Path, info: &ModuleInfo) -> Result<()> {
    let bad = |reason: String| Error::Module {
        path: from.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(from).map_err(|e| Error::io("read", from, e))?;
    let obj = keel_modload::Object::parse(&bytes).map_err(|e| bad(e.to_string()))?;
    let prelinked = obj
        .prelink()
        .map_err(|e| bad(format!("cannot be prelinked: {e}")))?;
    let (functions, emptied) = {
        let elf = goblin::elf::Elf::parse(&prelinked).map_err(|e| bad(e.to_string()))?;
        // Relocation sections the prelink applied in full.
        let emptied: Vec<String> = elf
            .section_headers
            .iter()
            .filter(|sh| sh.sh_type == goblin::elf::section_header::SHT_RELA && sh.sh_size == 0)
            .filter_map(|sh| elf.shdr_strtab.get_at(sh.sh_name))
            .map(String::from)
            .collect();
        let mut names: Vec<String> = elf
            .syms
            .iter()
            .filter(|sym| sym.st_type() == goblin::elf::sym::STT_FUNC)
            .filter_map(|sym| elf.strtab.get_at(sym.st_name))
            .filter(|name| !name.is_empty())
            .map(String::from)
            .collect();
        names.sort();
        names.dedup();
        (names, emptied)
    };
    let unstripped = out.with_extension("prelinked.o");
    std::fs::write(&unstripped, &prelinked).map_err(|e| Error::io("write", &unstripped, e))?;
    let mut objcopy = Command::new(toolchain::llvm_objcopy(root)?);
    objcopy.args(["--strip-unneeded", "--strip-symbol=$x", "--strip-symbol=$d"]);
    objcopy.arg(format!("--keep-symbol={DESCRIPTOR_SYMBOL}"));
    for section in &emptied {
        objcopy.arg(format!("--remove-section={section}"));
    }
    for name in functions
        .iter()
        .chain(info.exports.iter().map(|(name, _)| name))
    {
        objcopy.arg(format!("--keep-symbol={name}"));
    }
    objcopy.arg(&unstripped).arg(out);
    process::output(
        &mut objcopy,
        "dropping the symbols a prelinked module no longer needs",
    )?;
    std::fs::remove_file(&unstripped).map_err(|e| Error::io("remove", &unstripped, e))?;
    trial_link(out)
}

/// Links the module object `path` as the kernel would, at the start of the module region with
/// every import resolved just below it, to check that a prelinked module's recorded placement is
/// the loader's.
fn trial_link(path: &Path) -> Result<()> {
    const BASE: u64 = 0xffff_ffff_4000_0000;
    let bad = |e: keel_modload::LoadError| Error::Module {
        path: path.to_path_buf(),
        reason: format!("does not link as prelinked: {e}"),
    };
    let bytes = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
    let obj = keel_modload::Object::parse(&bytes).map_err(bad)?;
    if !obj.is_prelinked() {
        return Err(Error::Module {
            path: path.to_path_buf(),
            reason: format!("lost its `{}` marker", keel_modload::PRELINKED_SECTION),
        });
    }
    let layout = obj.layout();
    let span = layout.span();
    let (mut text, mut rodata, mut data) = (
        vec![0; layout.text],
        vec![0; layout.rodata],
        vec![0; layout.data],
    );
    let mut image = keel_modload::Image {
        text: &mut text,
        text_va: BASE + span.text.0,
        rodata: &mut rodata,
        rodata_va: BASE + span.rodata.0,
        data: &mut data,
        data_va: BASE + span.data.0,
    };
    obj.link_with(&layout, &mut image, &mut |_| Some(BASE - 0x1000))
        .map_err(bad)?;
    Ok(())
}

/// The in-tree module crates: `(package names, folder)` of each `modules/drivers/*/Cargo.toml`.
fn in_tree(layout: &Layout) -> Result<Vec<(CrateNames, PathBuf)>> {
    let dir = drivers_dir(layout);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list", dir, e)),
    };
    let mut crates = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list", &dir, e))?;
        let manifest = entry.path().join("Cargo.toml");
        if manifest.is_file() {
            crates.push((crate_names(&manifest)?, entry.path()));
        }
    }
    crates.sort_by(|a, b| a.0.package.cmp(&b.0.package));
    Ok(crates)
}

/// Builds the in-tree module `package` (a workspace member) into `target/modules/ko/NAME.ko`.
#[cfg(test)]
pub fn build_in_tree(layout: &Layout, package: &str) -> Result<ModuleInfo> {
    let crates = in_tree(layout)?;
    let (names, _) = crates
        .iter()
        .find(|(names, _)| names.package == package)
        .ok_or_else(|| {
            Error::Usage(format!(
                "there is no module `{package}` under {}",
                layout.show(&drivers_dir(layout)).display()
            ))
        })?;
    build_workspace_module(layout, names)
}

fn build_workspace_module(layout: &Layout, names: &CrateNames) -> Result<ModuleInfo> {
    let target_dir = modules_target_dir(layout);
    let mut cargo = toolchain::cargo(layout.root());
    cargo.args([
        "rustc",
        "--quiet",
        "--package",
        &names.package,
        "--target-dir",
    ]);
    cargo.arg(&target_dir);
    module_cargo_flags(&mut cargo);
    process::run(
        &mut cargo,
        &format!("building the module `{}`", names.package),
    )?;
    let release = target_dir.join(layout::KERNEL_TARGET).join("release");
    let ko_dir = target_dir.join("ko");
    create_dir(&ko_dir)?;
    link(
        layout.root(),
        &release.join(format!("lib{}.a", names.lib)),
        &ko_dir.join(format!("{}.ko", names.package)),
        &names.package,
    )
}

/// `cargo xtask build`'s module step: builds every module under `modules/drivers/` into
/// `target/dist/<board>/modules/NAME.ko`, checks the imports between them, and writes
/// `modules.dep` and `modules.alias` there. Returns the paths of the `.ko` files.
pub fn build_all(layout: &Layout, board: Board) -> Result<Vec<PathBuf>> {
    let crates = in_tree(layout)?;
    let mut built = Vec::new();
    for (names, _) in &crates {
        built.push(build_workspace_module(layout, names)?);
    }
    for info in &built {
        inspect::check_links(info, &built)?;
    }
    let dist = dist_dir(layout, board);
    create_dir(&dist)?;
    let mut installed = Vec::new();
    for info in &built {
        let to = dist.join(format!("{}.ko", info.name()));
        copy(&info.path, &to)?;
        installed.push(to);
    }
    let write = |name: &str, text: String| {
        let path = dist.join(name);
        std::fs::write(&path, text).map_err(|e| Error::io("write", path, e))
    };
    write("modules.dep", index::modules_dep(&built)?)?;
    write("modules.alias", index::modules_alias(&built))?;
    let mut relocations = std::collections::BTreeMap::new();
    for info in &built {
        for (r_type, count) in &info.relocations {
            *relocations.entry(*r_type).or_insert(0) += count;
        }
    }
    say!(
        "{} modules are in {} (relocations: {})",
        built.len(),
        layout.show(&dist).display(),
        inspect::describe_relocations(&relocations)
    );
    Ok(installed)
}

/// `cargo xtask module --path DIR [--out DIR]`: builds the out-of-tree module crate in `DIR` with its
/// own target directory (`DIR/target`), like Linux's `make M=DIR`. Returns the `.ko` path.
pub fn module(layout: &Layout, options: &ModuleOptions) -> Result<PathBuf> {
    let dir = options
        .path
        .canonicalize()
        .map_err(|e| Error::io("find the module folder", &options.path, e))?;
    let manifest = dir.join("Cargo.toml");
    let names = crate_names(&manifest)?;
    say!(
        "building the module `{}` in {}",
        names.package,
        dir.display()
    );
    let target_dir = dir.join("target");
    let mut cargo = toolchain::cargo(&dir);
    cargo.args(["rustc", "--quiet", "--manifest-path"]);
    cargo.arg(&manifest).arg("--target-dir").arg(&target_dir);
    module_cargo_flags(&mut cargo);
    process::run(
        &mut cargo,
        &format!("building the module `{}`", names.package),
    )?;
    let release = target_dir.join(layout::KERNEL_TARGET).join("release");
    let out_dir = options.out.clone().unwrap_or_else(|| release.clone());
    create_dir(&out_dir)?;
    let out = out_dir.join(format!("{}.ko", names.package));
    let info = link(
        layout.root(),
        &release.join(format!("lib{}.a", names.lib)),
        &out,
        &names.package,
    )?;
    for (symbol, _) in info.module_imports() {
        say!("`{symbol}` comes from another module; the loader checks its signature at insmod");
    }
    say!(
        "{} {} is in {} (relocations: {})",
        info.name(),
        info.get(keel_abi::modinfo::VERSION).unwrap_or("?"),
        out.display(),
        inspect::describe_relocations(&info.relocations)
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_names_come_from_package_and_lib_sections() {
        let dir = std::env::temp_dir().join(format!("keel-xtask-names-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let manifest = dir.join("Cargo.toml");
        std::fs::write(
            &manifest,
            "[package]\nname = \"uart-pl011\"\nversion = \"0.1.0\"\n\n[dependencies]\n\
             keel-module = { path = \"../sdk/module\" }\n",
        )
        .unwrap();
        assert_eq!(
            crate_names(&manifest).unwrap(),
            CrateNames {
                package: "uart-pl011".into(),
                lib: "uart_pl011".into()
            }
        );
        std::fs::write(&manifest, "[lib]\nname = \"x\"\n[package]\nname = \"y\"\n").unwrap();
        assert_eq!(crate_names(&manifest).unwrap().lib, "x");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Builds `hello.ko` (a few seconds once the SDK is compiled) and checks what the loader relies
    /// on: ET_REL for AArch64, the descriptor, and nothing undefined but kernel exports.
    #[test]
    fn hello_builds_into_a_relocatable_aarch64_object_importing_only_kernel_exports() {
        let layout = Layout::discover();
        let info = build_in_tree(&layout, "hello").unwrap();
        let bytes = std::fs::read(&info.path).unwrap();
        let elf = goblin::elf::Elf::parse(&bytes).unwrap();
        assert_eq!(elf.header.e_type, goblin::elf::header::ET_REL);
        assert_eq!(elf.header.e_machine, goblin::elf::header::EM_AARCH64);
        assert_eq!(info.name(), "hello");
        assert!(info.defined.contains(&DESCRIPTOR_SYMBOL.to_string()));
        assert!(!info.undefined.is_empty());
        for symbol in &info.undefined {
            assert!(
                keel_abi::exports::hash_of(symbol).is_some(),
                "hello.ko imports `{symbol}`, which is not a kernel export"
            );
        }
        let mut parms: Vec<_> = info.values("parm").collect();
        parms.sort();
        assert_eq!(
            parms,
            [
                "count:u32:1:how many times",
                "greeting:str:hello:what to say"
            ]
        );
        assert!(elf.section_headers.iter().all(|s| !elf
            .shdr_strtab
            .get_at(s.sh_name)
            .unwrap_or("")
            .starts_with(".debug")));
    }
}
