//! Path resolution and mounts.

use keel_abi::types::{FileKind, NAME_MAX, PATH_MAX};
use keel_abi::Errno;

use super::world;
use crate::TmpFs;

fn path_of(w: &super::World, cwd: &str, path: &str) -> Result<String, Errno> {
    w.vfs.resolve(cwd, path).map(|r| r.path)
}

#[test]
fn absolute_relative_dot_dotdot() {
    let w = world();
    assert_eq!(path_of(&w, "/", "/").unwrap(), "/");
    assert_eq!(path_of(&w, "/", "/bin/sh").unwrap(), "/bin/sh");
    assert_eq!(path_of(&w, "/bin", "sh").unwrap(), "/bin/sh");
    assert_eq!(
        path_of(&w, "/home/user", "../../etc/./motd").unwrap(),
        "/etc/motd"
    );
    assert_eq!(path_of(&w, "/", "..").unwrap(), "/");
    assert_eq!(path_of(&w, "/", "/../../..").unwrap(), "/");
    assert_eq!(path_of(&w, "/bin", ".").unwrap(), "/bin");
    assert_eq!(path_of(&w, "/bin", "/etc").unwrap(), "/etc");
    assert_eq!(path_of(&w, "/", "//bin///sh").unwrap(), "/bin/sh");
    assert_eq!(path_of(&w, "/", "bin/").unwrap(), "/bin");
    assert_eq!(path_of(&w, "/", "./bin/.//").unwrap(), "/bin");
    let sh = w.vfs.resolve("/", "/bin/sh").unwrap().node;
    assert_eq!(sh.static_bytes(), Some(&b"#!shell"[..]));
}

#[test]
fn error_cases() {
    let w = world();
    assert_eq!(path_of(&w, "/", "").unwrap_err(), Errno::ENOENT);
    assert_eq!(path_of(&w, "/", "/nope").unwrap_err(), Errno::ENOENT);
    assert_eq!(path_of(&w, "/", "/bin/nope/x").unwrap_err(), Errno::ENOENT);
    assert_eq!(path_of(&w, "/", "/bin/sh/").unwrap_err(), Errno::ENOTDIR);
    assert_eq!(path_of(&w, "/", "/bin/sh/.").unwrap_err(), Errno::ENOTDIR);
    assert_eq!(path_of(&w, "/", "/bin/sh/..").unwrap_err(), Errno::ENOTDIR);
    assert_eq!(path_of(&w, "/", "/bin/sh/x").unwrap_err(), Errno::ENOTDIR);
    assert_eq!(path_of(&w, "/", "/a\0b").unwrap_err(), Errno::EINVAL);
    let long_name = "n".repeat(NAME_MAX + 1);
    assert_eq!(
        path_of(&w, "/", &long_name).unwrap_err(),
        Errno::ENAMETOOLONG
    );
    assert_eq!(
        path_of(&w, "/", &format!("/bin/{long_name}/x")).unwrap_err(),
        Errno::ENAMETOOLONG
    );
    let max_name = "n".repeat(NAME_MAX);
    assert_eq!(path_of(&w, "/", &max_name).unwrap_err(), Errno::ENOENT);
    let long_path = "/".repeat(PATH_MAX + 1);
    assert_eq!(
        path_of(&w, "/", &long_path).unwrap_err(),
        Errno::ENAMETOOLONG
    );
    let max_path = "/".repeat(PATH_MAX);
    assert_eq!(path_of(&w, "/", &max_path).unwrap(), "/");
    // The working directory is walked too.
    assert_eq!(path_of(&w, "/gone", "x").unwrap_err(), Errno::ENOENT);
}

#[test]
fn canonical_path_limit_after_joining_cwd() {
    let w = world();
    let name = "d".repeat(100);
    let mut cwd = String::from("/tmp");
    // Build a deep tree whose canonical path passes PATH_MAX.
    loop {
        match w.vfs.mkdir(&cwd, &name, 0o755) {
            Ok(()) => cwd = format!("{cwd}/{name}"),
            Err(e) => {
                assert_eq!(e, Errno::ENAMETOOLONG);
                break;
            }
        }
    }
    // The deepest directory is still reachable, and the next level could not be made.
    assert!(cwd.len() <= PATH_MAX && cwd.len() + 1 + name.len() > PATH_MAX);
    assert_eq!(path_of(&w, &cwd, ".").unwrap(), cwd);
    assert_eq!(
        w.vfs.resolve_parent(&cwd, &name).unwrap_err(),
        Errno::ENAMETOOLONG
    );
}

#[test]
fn mounts_and_dotdot_across_them() {
    let w = world();
    let tmp = w.vfs.resolve("/", "/tmp").unwrap();
    assert_eq!(tmp.node.stat().dev, w.tmp.root().stat().dev);
    w.vfs.mkdir("/", "/tmp/a", 0o755).unwrap();
    w.vfs.mkdir("/tmp/a", "b", 0o755).unwrap();
    assert_eq!(path_of(&w, "/tmp/a/b", "../..").unwrap(), "/tmp");
    assert_eq!(path_of(&w, "/tmp/a/b", "../../..").unwrap(), "/");
    assert_eq!(path_of(&w, "/tmp", "../etc/motd").unwrap(), "/etc/motd");
    assert_eq!(
        path_of(&w, "/tmp/a", "../../dev/null").unwrap(),
        "/dev/null"
    );
    // A nested mount inside tmpfs.
    let inner = TmpFs::new(100);
    w.vfs.mount("/tmp/a/b", inner.root()).unwrap();
    w.vfs
        .create("/", "/tmp/a/b/f", FileKind::File, 0o644)
        .unwrap();
    assert_eq!(inner.root().lookup("f").unwrap().kind(), FileKind::File);
    assert_eq!(path_of(&w, "/tmp/a/b", "..").unwrap(), "/tmp/a");
    assert_eq!(w.vfs.unmount("/tmp").unwrap_err(), Errno::EBUSY);
    assert_eq!(w.vfs.unlink("/", "/tmp/a/b").unwrap_err(), Errno::EBUSY);
    assert_eq!(
        w.vfs.mount("/tmp/a/b", inner.root()).unwrap_err(),
        Errno::EBUSY
    );
    assert_eq!(w.vfs.mount("/", inner.root()).unwrap_err(), Errno::EBUSY);
    assert_eq!(
        w.vfs.mount("/bin/sh", inner.root()).unwrap_err(),
        Errno::ENOTDIR
    );
    assert_eq!(
        w.vfs.mount("/nope", inner.root()).unwrap_err(),
        Errno::ENOENT
    );
    assert_eq!(
        w.vfs
            .mount("/home", w.vfs.resolve("/", "/bin/sh").unwrap().node)
            .unwrap_err(),
        Errno::ENOTDIR
    );
    w.vfs.unmount("/tmp/a/b").unwrap();
    assert_eq!(path_of(&w, "/", "/tmp/a/b/f").unwrap_err(), Errno::ENOENT);
    assert_eq!(w.vfs.unmount("/tmp/a").unwrap_err(), Errno::EINVAL);
    assert_eq!(w.vfs.mount_points(), vec!["/tmp", "/dev"]);
}

#[test]
fn resolve_parent_and_dir() {
    let w = world();
    let p = w.vfs.resolve_parent("/bin", "../tmp/new//").unwrap();
    assert_eq!((p.dir_path.as_str(), p.name.as_str()), ("/tmp", "new"));
    assert!(p.trailing_slash);
    assert_eq!(p.path(), "/tmp/new");
    let p = w.vfs.resolve_parent("/tmp", "x").unwrap();
    assert_eq!((p.dir_path.as_str(), p.name.as_str()), ("/tmp", "x"));
    let p = w.vfs.resolve_parent("/", "/x").unwrap();
    assert_eq!((p.dir_path.as_str(), p.path().as_str()), ("/", "/x"));
    assert!(!p.trailing_slash);
    assert_eq!(w.vfs.resolve_parent("/", "/").unwrap_err(), Errno::EBUSY);
    assert_eq!(
        w.vfs.resolve_parent("/", "/tmp/.").unwrap_err(),
        Errno::EINVAL
    );
    assert_eq!(w.vfs.resolve_parent("/", "..").unwrap_err(), Errno::EINVAL);
    assert_eq!(
        w.vfs.resolve_parent("/", "/nope/x").unwrap_err(),
        Errno::ENOENT
    );
    assert_eq!(
        w.vfs.resolve_parent("/", "/bin/sh/x").unwrap_err(),
        Errno::ENOTDIR
    );
    assert_eq!(w.vfs.resolve_parent("/", "").unwrap_err(), Errno::ENOENT);
    let long_name = "n".repeat(NAME_MAX + 1);
    assert_eq!(
        w.vfs
            .resolve_parent("/", &format!("/tmp/{long_name}"))
            .unwrap_err(),
        Errno::ENAMETOOLONG
    );
    assert_eq!(
        w.vfs.resolve_dir("/", "/bin/sh").unwrap_err(),
        Errno::ENOTDIR
    );
    assert_eq!(w.vfs.resolve_dir("/", "/tmp/../bin").unwrap().path, "/bin");
}

#[test]
fn vfs_mkdir_unlink_stat() {
    let w = world();
    assert_eq!(w.vfs.mkdir("/", "/", 0o755).unwrap_err(), Errno::EEXIST);
    assert_eq!(
        w.vfs.mkdir("/", "/tmp/.", 0o755).unwrap_err(),
        Errno::EEXIST
    );
    assert_eq!(w.vfs.mkdir("/", "/tmp", 0o755).unwrap_err(), Errno::EEXIST);
    assert_eq!(
        w.vfs.mkdir("/", "/bin/new", 0o755).unwrap_err(),
        Errno::EROFS
    );
    assert_eq!(
        w.vfs.mkdir("/", "/dev/new", 0o755).unwrap_err(),
        Errno::EPERM
    );
    w.vfs.mkdir("/", "/tmp/d/", 0o700).unwrap();
    let st = w.vfs.stat("/tmp", "d").unwrap();
    assert_eq!((st.kind, st.mode), (FileKind::Dir as u32, 0o700));
    assert_eq!(
        w.vfs
            .create("/", "/tmp/f/", FileKind::File, 0o644)
            .unwrap_err(),
        Errno::EISDIR
    );
    w.vfs.create("/", "/tmp/f", FileKind::File, 0o644).unwrap();
    assert_eq!(w.vfs.unlink("/", "/tmp/f/").unwrap_err(), Errno::ENOTDIR);
    w.vfs.unlink("/", "/tmp/f").unwrap();
    w.vfs.unlink("/", "/tmp/d/").unwrap();
    assert_eq!(w.vfs.unlink("/", "/tmp/d").unwrap_err(), Errno::ENOENT);
    assert_eq!(w.vfs.unlink("/", "/tmp").unwrap_err(), Errno::EBUSY);
    assert_eq!(w.vfs.unlink("/", "/").unwrap_err(), Errno::EBUSY);
    assert_eq!(w.vfs.unlink("/", "/bin/sh").unwrap_err(), Errno::EROFS);
    assert_eq!(w.vfs.unlink("/", "/dev/null").unwrap_err(), Errno::EPERM);
}
