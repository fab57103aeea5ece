//! User programs: every crate under `modules/services/`, built for EL0 in one Cargo run.
//!
//! A user program is a `no_std` binary crate in `modules/services/NAME/` whose package and binary
//! are both called `NAME`, and which is a member of the workspace. All of them are built with
//! `cargo build --release --target aarch64-unknown-none -p NAME...` into `target/user/`, linked
//! with `sdk/user/link.ld`. In the initramfs `init` becomes `/sbin/init` and every other program
//! `/bin/NAME`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Hint, Result};
use crate::layout::{Layout, USER_TARGET};
use crate::process;
use crate::toolchain;

/// The program the kernel starts first.
pub const INIT: &str = "init";

/// A built user program and where it goes in the initramfs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// The package (and binary) name.
    pub name: String,
    /// The linked ELF file on the host.
    pub host: PathBuf,
    /// Its absolute path in the initramfs.
    pub guest: String,
}

/// Where program `name` lives in the initramfs: `/sbin/init` for init, `/bin/NAME` for the rest.
pub fn guest_path(name: &str) -> String {
    if name == INIT {
        format!("/sbin/{name}")
    } else {
        format!("/bin/{name}")
    }
}

/// The names of the program crates in `services`: every folder holding a `Cargo.toml`, sorted.
/// A missing `services` folder means there are none.
pub fn discover(services: &Path) -> Result<Vec<String>> {
    let listing = match fs::read_dir(services) {
        Ok(listing) => listing,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list the folder", services, e)),
    };
    let mut names = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|e| Error::io("list the folder", services, e))?;
        let dir = entry.path();
        if !dir.join("Cargo.toml").is_file() {
            continue;
        }
        let name = entry.file_name().into_string().map_err(|_| Error::Host {
            what: "build the user programs".to_string(),
            reason: format!("the folder name of {} is not UTF-8", dir.display()),
            hint: "name each program folder after its package".to_string(),
        })?;
        names.push(name);
    }
    names.sort();
    Ok(names)
}

/// Quotes `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// The `--config` value that links every binary for [`USER_TARGET`] with `script`. Given as a
/// TOML array, so a workspace path with spaces stays one argument.
fn rustflags_config(script: &Path) -> String {
    format!(
        "target.{USER_TARGET}.rustflags = [\"-C\", {}]",
        toml_string(&format!("link-arg=-T{}", script.display()))
    )
}

/// Builds every user program and returns them with their places in the initramfs, `init`
/// first. With no program crates this builds nothing and returns nothing.
pub fn build(layout: &Layout) -> Result<Vec<Program>> {
    let names = discover(&layout.services())?;
    if names.is_empty() {
        say!(
            "no user programs yet (no crates in {})",
            layout.show(&layout.services()).display()
        );
        return Ok(Vec::new());
    }
    let script = layout.user_linker_script();
    if !script.is_file() {
        return Err(Error::Missing {
            path: script,
            needed_for: "linking the user programs".to_string(),
            hint: "it comes with the user-space SDK (sdk/user/); restore it from git".to_string(),
        });
    }
    say!("building the user programs: {}", names.join(", "));
    let mut cargo = toolchain::cargo(layout.root());
    cargo
        .args(["build", "--release", "--target", USER_TARGET])
        .arg("--target-dir")
        .arg(layout.user_target_dir())
        .arg("--config")
        .arg(rustflags_config(&script));
    for name in &names {
        cargo.args(["--package", name]);
    }
    // RUSTFLAGS in the environment would replace the target's rustflags, and with them the
    // linker script.
    for variable in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS"] {
        if std::env::var_os(variable).is_some() {
            say!("ignoring ${variable} for the user programs: they need their own link flags");
            cargo.env_remove(variable);
        }
    }
    process::run(&mut cargo, "building the user programs").hint(format!(
        "each folder under {} with a Cargo.toml must be a workspace member (root Cargo.toml \
         `members`) whose package and binary are named after the folder",
        layout.show(&layout.services()).display()
    ))?;

    let bin_dir = layout.user_bin_dir();
    let mut programs = Vec::new();
    let mut binaries = Vec::new();
    for package in &names {
        let manifest = layout.services().join(package).join("Cargo.toml");
        let text = fs::read_to_string(&manifest)
            .map_err(|e| Error::io("read the manifest", &manifest, e))?;
        binaries.extend(binary_names(package, &text));
    }
    for name in binaries {
        let host = bin_dir.join(&name);
        if !host.is_file() {
            return Err(Error::Missing {
                path: host,
                needed_for: format!("the initramfs ({})", guest_path(&name)),
                hint: format!(
                    "the crate in modules/services/{name}/ must build a binary named `{name}`"
                ),
            });
        }
        programs.push(Program {
            guest: guest_path(&name),
            name,
            host,
        });
    }
    // `init` first, for messages; the archive itself is sorted by path.
    programs.sort_by_key(|p| (p.name != INIT, p.name.clone()));
    Ok(programs)
}

/// The binaries a package builds: the names of its `[[bin]]` tables, or the package's own name
/// when it has none.
pub fn binary_names(package: &str, manifest: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
            continue;
        }
        if in_bin {
            if let Some(value) = line.strip_prefix("name").map(str::trim_start) {
                if let Some(value) = value.strip_prefix('=') {
                    names.push(value.trim().trim_matches('"').to_string());
                }
            }
        }
    }
    if names.is_empty() {
        names.push(package.to_string());
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binaries_come_from_bin_tables_or_the_package() {
        assert_eq!(binary_names("sh", "[package]\nname = \"sh\"\n"), ["sh"]);
        let multi = "[package]\nname = \"tools\"\n[[bin]]\nname = \"echo\"\npath = \"a.rs\"\n\n[[bin]]\nname = \"cat\"\n";
        assert_eq!(binary_names("tools", multi), ["echo", "cat"]);
    }

    #[test]
    fn init_goes_to_sbin_and_the_rest_to_bin() {
        assert_eq!(guest_path("init"), "/sbin/init");
        assert_eq!(guest_path("sh"), "/bin/sh");
        assert_eq!(guest_path("initd"), "/bin/initd");
    }

    #[test]
    fn discovery_takes_folders_with_a_manifest_sorted() {
        let dir = std::env::temp_dir().join(format!("keel-userland-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        for name in ["sh", "init", "notes"] {
            fs::create_dir_all(dir.join(name)).unwrap();
        }
        fs::write(dir.join("sh/Cargo.toml"), "").unwrap();
        fs::write(dir.join("init/Cargo.toml"), "").unwrap();
        fs::write(dir.join("README.md"), "").unwrap();
        assert_eq!(discover(&dir).unwrap(), ["init", "sh"]);
        fs::remove_dir_all(&dir).unwrap();
        assert!(discover(&dir).unwrap().is_empty());
    }

    #[test]
    fn the_linker_script_is_one_toml_string() {
        assert_eq!(
            rustflags_config(Path::new("/w s/sdk/user/\"link\".ld")),
            "target.aarch64-unknown-none.rustflags = [\"-C\", \
             \"link-arg=-T/w s/sdk/user/\\\"link\\\".ld\"]"
        );
    }
}
