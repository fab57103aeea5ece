//! `cargo xtask setup`: install the host prerequisites on Debian (QEMU from backports, SD image
//! tools) and the Rust components and targets `rust-toolchain.toml` names.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::error::{Error, Hint, Result};
use crate::layout::Layout;
use crate::sources::{self, DebianArchive};
use crate::{prereq, process, system};

/// The apt source `setup` writes (and overwrites) for Debian backports.
pub const BACKPORTS_SOURCE: &str = "/etc/apt/sources.list.d/keel-backports.sources";

/// The deb822 source for `<codename>-backports` main on the system's own Debian archive.
pub fn backports_source(codename: &str, archive: &DebianArchive) -> String {
    let mut text = format!(
        "# Written by `cargo xtask setup` (Keel): Debian backports, for a QEMU with -M raspi4b.\n\
         Types: deb\nURIs: {}\nSuites: {codename}-backports\nComponents: main\n",
        archive.uri
    );
    if let Some(signed_by) = &archive.signed_by {
        text.push_str(&sources::deb822_signed_by(signed_by));
        text.push('\n');
    }
    text
}

/// The apt-get commands `setup` runs, in order.
pub fn apt_commands(codename: &str) -> Vec<Vec<String>> {
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let backports = format!("{codename}-backports");
    vec![
        words(&["apt-get", "update"]),
        words(&[
            "apt-get",
            "install",
            "-y",
            "-t",
            &backports,
            "qemu-system-arm",
        ]),
        words(&["apt-get", "install", "-y", "mtools", "dosfstools", "fdisk"]),
    ]
}

/// The list under `key` (`components`, `targets`) in a `rust-toolchain.toml`.
pub fn toolchain_list(toml: &str, key: &str) -> Vec<String> {
    let Some(line) = toml.lines().find(|l| {
        l.split_once('=')
            .is_some_and(|(name, _)| name.trim() == key)
    }) else {
        return Vec::new();
    };
    let value = line.split_once('=').map(|(_, v)| v).unwrap_or("");
    let inner = value.trim().trim_start_matches('[').trim_end_matches(']');
    inner
        .split(',')
        .map(|item| item.trim().trim_matches('"').to_string())
        .filter(|item| !item.is_empty())
        .collect()
}

/// Makes sure the toolchain of `rust-toolchain.toml`, its components and targets are installed.
fn rust_toolchain(root: &Path) -> Result<()> {
    if system::which("rustup").is_none() {
        say!(
            "rustup is not on PATH here (as with sudo); the Rust toolchain is checked when you run \
             `cargo xtask setup` as yourself"
        );
        return Ok(());
    }
    let toml_path = root.join("rust-toolchain.toml");
    let toml = fs::read_to_string(&toml_path).map_err(|e| Error::io("read", &toml_path, e))?;
    let mut steps = vec![vec![
        "rustup".to_string(),
        "toolchain".into(),
        "install".into(),
    ]];
    for (key, verb) in [("components", "component"), ("targets", "target")] {
        let items = toolchain_list(&toml, key);
        if !items.is_empty() {
            let mut step = vec!["rustup".to_string(), verb.to_string(), "add".to_string()];
            step.extend(items);
            steps.push(step);
        }
    }
    for step in steps {
        say!("{}", process::quote_all(&step));
        let mut cmd = Command::new(&step[0]);
        cmd.args(&step[1..]).current_dir(root);
        process::output(&mut cmd, "installing the Rust toolchain")
            .hint("check `rustup show` in the workspace")?;
    }
    Ok(())
}

/// `cargo xtask setup`.
pub fn setup(layout: &Layout) -> Result<()> {
    let codename = system::codename()?;
    let archive = system::debian_archive(&codename)?;
    let source = backports_source(&codename, &archive);
    let apt = apt_commands(&codename);

    rust_toolchain(layout.root())?;

    if !system::is_root() {
        let mut commands = vec![format!(
            "sudo tee {BACKPORTS_SOURCE} >/dev/null <<'EOF'\n{}EOF",
            source
        )];
        commands.extend(
            apt.iter()
                .map(|c| format!("sudo {}", process::quote_all(c))),
        );
        return Err(Error::NotRoot { commands });
    }

    say!("writing {BACKPORTS_SOURCE}");
    fs::write(BACKPORTS_SOURCE, &source).map_err(|e| Error::io("write", BACKPORTS_SOURCE, e))?;
    for step in &apt {
        say!("{}", process::quote_all(step));
        let mut cmd = Command::new(&step[0]);
        cmd.args(&step[1..])
            .env("DEBIAN_FRONTEND", "noninteractive");
        process::run(&mut cmd, "installing the host packages").hint(format!(
            "check that apt works on this host (`apt-get update`) and that {codename}-backports \
             exists on {}",
            archive.uri
        ))?;
    }
    prereq::everything()?;
    say!("the host is ready: QEMU, sfdisk, mkfs.vfat and mcopy are installed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::SignedBy;

    #[test]
    fn the_backports_source_reuses_the_archive_and_keyring() {
        let archive = DebianArchive {
            uri: "http://archive.example/debian".into(),
            signed_by: Some(SignedBy::Keyring("/usr/share/keyrings/k.gpg".into())),
        };
        let text = backports_source("bookworm", &archive);
        let entries = sources::parse_deb822(&text);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].uris, ["http://archive.example/debian"]);
        assert_eq!(entries[0].suites, ["bookworm-backports"]);
        assert_eq!(entries[0].components, ["main"]);
        assert_eq!(entries[0].signed_by, archive.signed_by);
    }

    #[test]
    fn qemu_comes_from_backports() {
        let commands = apt_commands("bookworm");
        assert_eq!(
            process::quote_all(&commands[1]),
            "apt-get install -y -t bookworm-backports qemu-system-arm"
        );
    }

    #[test]
    fn toolchain_lists_are_read_from_the_toml() {
        let toml =
            "[toolchain]\nchannel = \"1.95.0\"\ncomponents = [\"rustfmt\", \"llvm-tools\"]\n\
                    targets = [\"aarch64-unknown-none-softfloat\"]\n";
        assert_eq!(
            toolchain_list(toml, "components"),
            ["rustfmt", "llvm-tools"]
        );
        assert_eq!(
            toolchain_list(toml, "targets"),
            ["aarch64-unknown-none-softfloat"]
        );
        assert!(toolchain_list(toml, "profile").is_empty());
    }
}
