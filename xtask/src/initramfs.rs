//! The initramfs: a `newc` cpio archive of everything user space starts with.
//!
//! `target/dist/<board>/initramfs.cpio` is assembled from these inputs, each later one overriding
//! the earlier ones where paths meet:
//!
//! 1. empty `/dev`, `/proc` and `/tmp`, for the kernel to mount on;
//! 2. `modules/rootfs/`, copied to `/` as it is (`/etc/inittab`, `/etc/motd`, ...);
//! 3. the user programs of `modules/services/` (`/sbin/init`, `/bin/NAME`);
//! 4. the kernel modules in `target/dist/<board>/modules/`, at `/lib/modules/`;
//! 5. the `--add HOST:GUEST` options, in command-line order.
//!
//! The archive is deterministic: the same inputs give the same bytes. Entries are sorted by path,
//! owned by root, dated 0, and host permissions are reduced to 0755 (any execute bit) or 0644.

use std::fs;
use std::path::{Path, PathBuf};

use keel_cpio::{Builder, WriteErrorKind};

use crate::cli::{Addition, Board};
use crate::error::{Error, Result};
use crate::files::create_dir;
use crate::layout::Layout;
use crate::userland::{self, Program};

/// The empty directories the kernel mounts on, and their permissions.
pub const MOUNT_POINTS: [(&str, u32); 3] = [("/dev", 0o755), ("/proc", 0o555), ("/tmp", 0o1777)];
/// Where kernel modules go in the initramfs.
pub const MODULES_DIR: &str = "/lib/modules";

/// One input of the archive: a host file or directory and where it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// The file or directory on the host. A directory is copied with everything in it.
    pub host: PathBuf,
    /// Its absolute path in the initramfs (`/` puts a directory's contents at the root).
    pub guest: String,
    /// Where the input comes from, for messages: "modules/rootfs", "`--add a:/b`", ...
    pub origin: String,
}

impl Input {
    /// The input made from a `--add` option.
    pub fn addition(addition: &Addition) -> Input {
        Input {
            host: addition.host.clone(),
            guest: addition.guest.clone(),
            origin: format!("`--add {}:{}`", addition.host.display(), addition.guest),
        }
    }
}

/// Everything that goes into a board's initramfs, lowest precedence first (see the module
/// documentation). Optional inputs that do not exist are left out; to add a new kind of input,
/// push it here.
pub fn inputs(
    layout: &Layout,
    board: Board,
    programs: &[Program],
    additions: &[Addition],
) -> Vec<Input> {
    let mut inputs = Vec::new();
    let rootfs = layout.rootfs();
    if rootfs.is_dir() {
        inputs.push(Input {
            origin: layout.show(&rootfs).display().to_string(),
            host: rootfs,
            guest: "/".to_string(),
        });
    }
    inputs.extend(programs.iter().map(|program| Input {
        host: program.host.clone(),
        guest: program.guest.clone(),
        origin: format!("the user program `{}`", program.name),
    }));
    let modules = layout.modules_dist(board);
    if modules.is_dir() {
        inputs.push(Input {
            origin: layout.show(&modules).display().to_string(),
            host: modules,
            guest: MODULES_DIR.to_string(),
        });
    }
    inputs.extend(additions.iter().map(Input::addition));
    inputs
}

/// Fails unless the host path of every `--add` exists, so a typo is reported before anything is
/// built.
pub fn check_additions(additions: &[Addition]) -> Result<()> {
    for addition in additions {
        if fs::metadata(&addition.host).is_err() {
            let input = Input::addition(addition);
            return Err(Error::Initramfs {
                reason: format!("{} does not exist", addition.host.display()),
                input: input.origin,
                hint: "the host path is taken relative to the directory cargo xtask runs in"
                    .to_string(),
            });
        }
    }
    Ok(())
}

/// The archive holding the mount points and `inputs`, in order.
pub fn assemble(inputs: &[Input]) -> Result<Vec<u8>> {
    let mut builder = Builder::new();
    for (path, permissions) in MOUNT_POINTS {
        builder
            .dir(path, permissions)
            .map_err(|e| rejected("the mount points", e))?;
    }
    for input in inputs {
        add(&mut builder, input, &input.host, &input.guest, true)?;
    }
    Ok(builder.build())
}

/// An input that cannot go into the archive; the hint is about the host side.
fn refused(origin: &str, reason: String) -> Error {
    Error::Initramfs {
        input: origin.to_string(),
        reason,
        hint: "the initramfs takes regular files, directories and symbolic links with UTF-8 names"
            .to_string(),
    }
}

/// A path the archive builder refused.
fn rejected(origin: &str, error: keel_cpio::WriteError) -> Error {
    let hint = match error.kind {
        WriteErrorKind::TypeConflict { .. } | WriteErrorKind::ParentNotDirectory { .. } => {
            "a later input may replace a file or symlink, but not turn a directory into a file \
             or a file into a directory; choose another guest path"
        }
        _ => "guest paths are absolute and have no empty, `.` or `..` components",
    };
    Error::Initramfs {
        input: origin.to_string(),
        reason: error.to_string(),
        hint: hint.to_string(),
    }
}

/// `GUEST/name`, without doubling the `/` at the root.
fn join(guest: &str, name: &str) -> String {
    format!("{}/{name}", guest.trim_end_matches('/'))
}

/// Adds `host` at `guest`; directories recursively. Symbolic links are kept as links, except the
/// top-level path of an input (`top`), which is followed.
fn add(builder: &mut Builder, input: &Input, host: &Path, guest: &str, top: bool) -> Result<()> {
    let metadata = if top {
        fs::metadata(host)
    } else {
        fs::symlink_metadata(host)
    };
    let metadata = metadata.map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            refused(&input.origin, format!("{} does not exist", host.display()))
        }
        _ => Error::io("read the metadata of", host, e),
    })?;
    let kind = metadata.file_type();
    if kind.is_dir() {
        return add_dir(builder, input, host, guest);
    }
    let result = if kind.is_file() {
        use std::os::unix::fs::PermissionsExt;
        let permissions = if metadata.permissions().mode() & 0o111 != 0 {
            0o755
        } else {
            0o644
        };
        let data = fs::read(host).map_err(|e| Error::io("read", host, e))?;
        builder.file(guest, permissions, data)
    } else if kind.is_symlink() {
        let target = fs::read_link(host).map_err(|e| Error::io("read the link", host, e))?;
        let target = target.to_str().ok_or_else(|| {
            refused(
                &input.origin,
                format!("the target of the link {} is not UTF-8", host.display()),
            )
        })?;
        builder.symlink(guest, target)
    } else {
        return Err(refused(
            &input.origin,
            format!(
                "{} is not a regular file, directory or symbolic link",
                host.display()
            ),
        ));
    };
    result.map_err(|e| rejected(&input.origin, e))
}

/// Adds directory `host` at `guest` with everything in it, in name order.
fn add_dir(builder: &mut Builder, input: &Input, host: &Path, guest: &str) -> Result<()> {
    if !keel_cpio::normalize(guest).is_empty() {
        builder
            .dir(guest, 0o755)
            .map_err(|e| rejected(&input.origin, e))?;
    }
    let mut children = Vec::new();
    for entry in fs::read_dir(host).map_err(|e| Error::io("list the folder", host, e))? {
        let entry = entry.map_err(|e| Error::io("list the folder", host, e))?;
        let name = entry.file_name().into_string().map_err(|name| {
            refused(
                &input.origin,
                format!("the name {name:?} in {} is not UTF-8", host.display()),
            )
        })?;
        children.push(name);
    }
    children.sort();
    for name in children {
        add(
            builder,
            input,
            &host.join(&name),
            &join(guest, &name),
            false,
        )?;
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file, so `path` is never left half-written.
fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".part");
    let partial = PathBuf::from(partial);
    fs::write(&partial, bytes).map_err(|e| Error::io("write", &partial, e))?;
    fs::rename(&partial, path).map_err(|e| Error::io("replace", path, e))
}

/// Assembles the initramfs of `board` from already built `programs` and writes it to
/// `target/dist/<board>/initramfs.cpio`; returns its path.
pub fn install(
    layout: &Layout,
    board: Board,
    programs: &[Program],
    additions: &[Addition],
) -> Result<PathBuf> {
    install_at(layout, board, programs, additions, &layout.initramfs(board))
}

/// As [`install`], but writes the archive to `path`.
pub fn install_at(
    layout: &Layout,
    board: Board,
    programs: &[Program],
    additions: &[Addition],
    path: &Path,
) -> Result<PathBuf> {
    let inputs = inputs(layout, board, programs, additions);
    let bytes = assemble(&inputs)?;
    let path = path.to_path_buf();
    if let Some(dir) = path.parent() {
        create_dir(dir)?;
    }
    write(&path, &bytes)?;
    let entries = keel_cpio::Archive::new(&bytes)
        .validate()
        .map_err(|e| refused("the assembled archive", e.to_string()))?;
    say!(
        "initramfs for {}: {entries} entries, {} bytes, {} user programs, in {}",
        board.dist_name(),
        bytes.len(),
        programs.len(),
        layout.show(&path).display()
    );
    Ok(path)
}

/// `cargo xtask build`'s initramfs step: builds the user programs and writes the initramfs of
/// `board`; returns its path.
pub fn build(layout: &Layout, board: Board, additions: &[Addition]) -> Result<PathBuf> {
    check_additions(additions)?;
    let programs = userland::build(layout)?;
    install(layout, board, &programs, additions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_cpio::{Archive, FileType};

    /// A fresh scratch folder for one test.
    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("keel-initramfs-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn write_file(path: &Path, bytes: &[u8], mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    fn input(host: &Path, guest: &str) -> Input {
        Input {
            host: host.to_path_buf(),
            guest: guest.to_string(),
            origin: format!("test input {guest}"),
        }
    }

    /// (path, type, permissions, data) of every entry.
    fn listing(bytes: &[u8]) -> Vec<(String, FileType, u32, Vec<u8>)> {
        Archive::new(bytes)
            .entries()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().to_string(),
                    e.file_type(),
                    e.mode.permissions(),
                    e.data.to_vec(),
                )
            })
            .collect()
    }

    #[test]
    fn inputs_are_layered_and_read_back_with_keel_cpio() {
        let dir = scratch("layers");
        let rootfs = dir.join("rootfs");
        write_file(&rootfs.join("etc/inittab"), b"respawn:/bin/sh\n", 0o664);
        write_file(&rootfs.join("etc/motd"), b"old motd\n", 0o600);
        std::os::unix::fs::symlink("/sbin/init", rootfs.join("init")).unwrap();
        write_file(&dir.join("build/init"), b"\x7fELF init", 0o775);
        write_file(&dir.join("build/sh"), b"\x7fELF sh", 0o700);
        write_file(&dir.join("mods/uart-pl011.ko"), b"\x7fELF ko", 0o644);
        write_file(&dir.join("extra/motd"), b"new motd\n", 0o644);
        write_file(&dir.join("extra/tree/a/b.txt"), b"b", 0o644);

        let inputs = [
            input(&rootfs, "/"),
            input(&dir.join("build/init"), "/sbin/init"),
            input(&dir.join("build/sh"), "/bin/sh"),
            input(&dir.join("mods"), MODULES_DIR),
            input(&dir.join("extra/motd"), "/etc/motd"),
            input(&dir.join("extra/tree"), "/opt/tree/"),
        ];
        let bytes = assemble(&inputs).unwrap();
        let dir_755 = |p: &str| (p.to_string(), FileType::Directory, 0o755, Vec::new());
        let file =
            |p: &str, mode, data: &[u8]| (p.to_string(), FileType::Regular, mode, data.to_vec());
        assert_eq!(
            listing(&bytes),
            [
                dir_755("bin"),
                file("bin/sh", 0o755, b"\x7fELF sh"),
                dir_755("dev"),
                dir_755("etc"),
                file("etc/inittab", 0o644, b"respawn:/bin/sh\n"),
                file("etc/motd", 0o644, b"new motd\n"),
                (
                    "init".into(),
                    FileType::Symlink,
                    0o777,
                    b"/sbin/init".to_vec()
                ),
                dir_755("lib"),
                dir_755("lib/modules"),
                file("lib/modules/uart-pl011.ko", 0o644, b"\x7fELF ko"),
                dir_755("opt"),
                dir_755("opt/tree"),
                dir_755("opt/tree/a"),
                file("opt/tree/a/b.txt", 0o644, b"b"),
                ("proc".into(), FileType::Directory, 0o555, Vec::new()),
                dir_755("sbin"),
                file("sbin/init", 0o755, b"\x7fELF init"),
                ("tmp".into(), FileType::Directory, 0o1777, Vec::new()),
            ]
        );
        // Same inputs, same bytes.
        assert_eq!(assemble(&inputs).unwrap(), bytes);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn with_nothing_but_the_mount_points() {
        let bytes = assemble(&[]).unwrap();
        let paths: Vec<String> = listing(&bytes).into_iter().map(|e| e.0).collect();
        assert_eq!(paths, ["dev", "proc", "tmp"]);
    }

    #[test]
    fn missing_host_paths_and_type_conflicts_name_the_input() {
        let dir = scratch("errors");
        let missing = Addition {
            host: dir.join("nope"),
            guest: "/nope".into(),
        };
        let message = check_additions(std::slice::from_ref(&missing))
            .unwrap_err()
            .to_string();
        assert!(message.starts_with("could not put `--add "), "{message}");
        assert!(
            message.contains("nope:/nope` into the initramfs"),
            "{message}"
        );
        assert!(message.contains("does not exist"), "{message}");

        write_file(&dir.join("file"), b"x", 0o644);
        let message = assemble(&[input(&dir.join("file"), "/tmp")])
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("test input /tmp") && message.contains("already a directory"),
            "{message}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_repository_rootfs_has_inittab_and_motd() {
        let layout = Layout::discover();
        let inputs = inputs(&layout, Board::Virt, &[], &[]);
        let bytes = assemble(&inputs).unwrap();
        let archive = Archive::new(&bytes);
        let inittab = archive.find("/etc/inittab").unwrap().unwrap();
        let text = std::str::from_utf8(inittab.data).unwrap();
        assert!(text
            .lines()
            .any(|l| l.starts_with("respawn:") || l.starts_with("once:")));
        assert!(archive.find("/etc/motd").unwrap().is_some());
    }
}
