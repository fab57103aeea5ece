//! The Rust toolchain's own tools: `cargo`, `rustc`, and `llvm-objcopy` from the `llvm-tools` component.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};
use crate::process;

/// A `cargo` command, using the same cargo that runs `xtask`, in the workspace `root`.
pub fn cargo(root: &Path) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root);
    cmd
}

fn rustc(root: &Path) -> Command {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
    let mut cmd = Command::new(rustc);
    cmd.current_dir(root);
    cmd
}

/// The host triple `rustc` reports in `rustc -vV`.
fn host_triple(root: &Path) -> Result<String> {
    let info = process::output(rustc(root).arg("-vV"), "asking rustc for the host triple")?;
    info.lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(|host| host.trim().to_string())
        .ok_or_else(|| Error::Host {
            what: "find the host triple".to_string(),
            reason: "`rustc -vV` printed no `host:` line".to_string(),
            hint: "check that `rustc -vV` works in the workspace".to_string(),
        })
}

/// `llvm-objcopy` from the active toolchain's sysroot (`rustup component add llvm-tools`).
pub fn llvm_objcopy(root: &Path) -> Result<PathBuf> {
    let sysroot = process::output(
        rustc(root).args(["--print", "sysroot"]),
        "asking rustc for its sysroot",
    )?;
    let path = PathBuf::from(sysroot.trim())
        .join("lib")
        .join("rustlib")
        .join(host_triple(root)?)
        .join("bin")
        .join("llvm-objcopy");
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::Missing {
            path,
            needed_for: "turning the kernel ELF into kernel8.img".to_string(),
            hint: "install the toolchain's LLVM tools: `rustup component add llvm-tools` (run \
                   it in the workspace; rust-toolchain.toml names the toolchain)"
                .to_string(),
        })
    }
}
