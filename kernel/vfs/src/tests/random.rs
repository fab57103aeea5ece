//! Deterministic random operations on a tmpfs, checked against a shadow model, then random
//! garbage through every entry point, checked for panics and for the usage counter.

use std::collections::BTreeMap;
use std::sync::Arc;

use keel_abi::types::{
    FileKind, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_NONBLOCK, O_RDONLY, O_RDWR, O_TRUNC,
    O_WRONLY, SEEK_SET,
};
use keel_abi::Errno;

use keel_core::xorshift::XorShift as Rng;

use super::entry;
use crate::{open, pipe_files, rofs, FdTable, Node, TmpFs, Vfs};

const LIMIT: u64 = 3000;

#[derive(Clone, Debug, PartialEq)]
enum Model {
    Dir,
    File(Vec<u8>),
}

/// The expected tree: relative paths under `/tmp` ("a", "a/b") to what they are.
struct Shadow {
    tree: BTreeMap<String, Model>,
}

impl Shadow {
    fn used(&self) -> u64 {
        self.tree
            .values()
            .map(|m| match m {
                Model::File(data) => data.len() as u64,
                Model::Dir => 0,
            })
            .sum()
    }

    /// The errors a walk to `path`'s directory gives.
    fn check_ancestors(&self, path: &str) -> Result<(), Errno> {
        let mut prefix = String::new();
        let components: Vec<&str> = path.split('/').collect();
        for c in &components[..components.len() - 1] {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(c);
            match self.tree.get(&prefix) {
                None => return Err(Errno::ENOENT),
                Some(Model::File(_)) => return Err(Errno::ENOTDIR),
                Some(Model::Dir) => {}
            }
        }
        Ok(())
    }

    fn children(&self, dir: &str) -> Vec<String> {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        self.tree
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter(|rest| !rest.is_empty() && !rest.contains('/'))
            .map(String::from)
            .collect()
    }

    /// What a write of `len` bytes at `start` into a file of `cur` bytes returns.
    fn expect_write(&self, cur: usize, start: usize, len: usize) -> Result<usize, Errno> {
        let end = start + len;
        if len == 0 {
            return Ok(0);
        }
        if end <= cur {
            return Ok(len);
        }
        let avail = LIMIT - self.used();
        let granted = ((end - cur) as u64).min(avail) as usize;
        if cur + granted <= start {
            return Err(Errno::ENOSPC);
        }
        Ok(cur + granted - start)
    }
}

fn random_path(rng: &mut Rng) -> String {
    let depth = 1 + rng.below(3);
    (0..depth)
        .map(|_| *rng.pick(&["a", "b", "c"]))
        .collect::<Vec<_>>()
        .join("/")
}

/// The same path spelled one of several equivalent ways, with the working directory to use.
fn spell(rng: &mut Rng, path: &str) -> (&'static str, String) {
    match rng.below(6) {
        0 => ("/", format!("/tmp/{path}")),
        1 => ("/tmp", path.to_string()),
        2 => ("/", format!("//tmp//{}", path.replace('/', "//"))),
        3 => ("/tmp", format!("./{}", path.replace('/', "/./"))),
        4 => ("/bin", format!("../tmp/{path}")),
        _ => ("/etc", format!("/bin/../tmp/./{path}")),
    }
}

fn namespace() -> (Vfs, TmpFs) {
    let root = rofs::build(&[
        entry("bin/sh", FileKind::File, b"sh"),
        entry("etc/motd", FileKind::File, b"hi"),
        entry("tmp", FileKind::Dir, b""),
    ])
    .unwrap();
    let vfs = Vfs::new(root).unwrap();
    let tmp = TmpFs::new(LIMIT);
    vfs.mount("/tmp", tmp.root()).unwrap();
    (vfs, tmp)
}

#[test]
fn random_operations_match_the_shadow_model() {
    let (vfs, tmp) = namespace();
    let mut shadow = Shadow {
        tree: BTreeMap::new(),
    };
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    let mut outcomes = BTreeMap::<String, usize>::new();
    for step in 0..20_000 {
        let path = random_path(&mut rng);
        let (cwd, spelled) = spell(&mut rng, &path);
        let op = rng.below(8);
        let result: Result<(), Errno> = match op {
            0 | 1 => {
                let expected =
                    shadow
                        .check_ancestors(&path)
                        .and_then(|()| match shadow.tree.get(&path) {
                            Some(_) => Err(Errno::EEXIST),
                            None => Ok(()),
                        });
                let got = vfs.mkdir(cwd, &spelled, 0o755);
                assert_eq!(got, expected, "step {step}: mkdir {spelled}");
                if got.is_ok() {
                    shadow.tree.insert(path.clone(), Model::Dir);
                }
                got
            }
            2 | 3 => {
                let trunc = rng.below(4) == 0;
                let append = rng.below(4) == 0;
                let flags = O_WRONLY
                    | O_CREAT
                    | if trunc { O_TRUNC } else { 0 }
                    | if append { O_APPEND } else { 0 };
                let expected_open =
                    shadow
                        .check_ancestors(&path)
                        .and_then(|()| match shadow.tree.get(&path) {
                            Some(Model::Dir) => Err(Errno::EISDIR),
                            _ => Ok(()),
                        });
                match open(&vfs, cwd, &spelled, flags, 0o644) {
                    Err(e) => {
                        assert_eq!(Err(e), expected_open, "step {step}: open {spelled}");
                        Err(e)
                    }
                    Ok(file) => {
                        assert_eq!(expected_open, Ok(()), "step {step}: open {spelled}");
                        let entry = shadow
                            .tree
                            .entry(path.clone())
                            .or_insert(Model::File(Vec::new()));
                        if trunc {
                            *entry = Model::File(Vec::new());
                        }
                        let cur = match &shadow.tree[&path] {
                            Model::File(d) => d.len(),
                            Model::Dir => unreachable!(),
                        };
                        let offset = rng.below(1200) as usize;
                        let len = rng.below(700) as usize;
                        let byte = rng.next_u64() as u8;
                        let data = vec![byte; len];
                        file.seek(offset as i64, SEEK_SET).unwrap();
                        let start = if append { cur } else { offset };
                        let expected = shadow.expect_write(cur, start, len);
                        let got = file.write(&data);
                        assert_eq!(got, expected, "step {step}: write {spelled}");
                        if let Ok(n) = got {
                            if let Some(Model::File(d)) = shadow.tree.get_mut(&path) {
                                if d.len() < start + n {
                                    d.resize(start + n, 0);
                                }
                                d[start..start + n].copy_from_slice(&data[..n]);
                            }
                        }
                        got.map(|_| ())
                    }
                }
            }
            4 => {
                let len = rng.below(1500) as usize;
                let expected_open =
                    shadow
                        .check_ancestors(&path)
                        .and_then(|()| match shadow.tree.get(&path) {
                            None => Err(Errno::ENOENT),
                            Some(Model::Dir) => Err(Errno::EISDIR),
                            Some(Model::File(_)) => Ok(()),
                        });
                let got = open(&vfs, cwd, &spelled, O_RDWR, 0).and_then(|f| f.truncate(len as u64));
                let expected = expected_open.and_then(|()| {
                    let cur = match &shadow.tree[&path] {
                        Model::File(d) => d.len(),
                        Model::Dir => unreachable!(),
                    };
                    if len > cur && (len - cur) as u64 > LIMIT - shadow.used() {
                        Err(Errno::ENOSPC)
                    } else {
                        Ok(())
                    }
                });
                assert_eq!(got, expected, "step {step}: truncate {spelled} to {len}");
                if got.is_ok() {
                    if let Some(Model::File(d)) = shadow.tree.get_mut(&path) {
                        d.resize(len, 0);
                    }
                }
                got
            }
            5 => {
                let expected =
                    shadow
                        .check_ancestors(&path)
                        .and_then(|()| match shadow.tree.get(&path) {
                            None => Err(Errno::ENOENT),
                            Some(Model::Dir) if !shadow.children(&path).is_empty() => {
                                Err(Errno::ENOTEMPTY)
                            }
                            Some(_) => Ok(()),
                        });
                let got = vfs.unlink(cwd, &spelled);
                assert_eq!(got, expected, "step {step}: unlink {spelled}");
                if got.is_ok() {
                    shadow.tree.remove(&path);
                }
                got
            }
            6 => {
                let expected = shadow
                    .check_ancestors(&path)
                    .and_then(|()| shadow.tree.get(&path).cloned().ok_or(Errno::ENOENT));
                let got = vfs.stat(cwd, &spelled);
                match (&got, &expected) {
                    (Ok(st), Ok(Model::File(d))) => {
                        assert_eq!(st.kind, FileKind::File as u32);
                        assert_eq!(st.size, d.len() as u64, "step {step}: stat {spelled}");
                    }
                    (Ok(st), Ok(Model::Dir)) => {
                        assert_eq!(st.kind, FileKind::Dir as u32);
                        assert_eq!(st.size, shadow.children(&path).len() as u64);
                    }
                    (Err(a), Err(b)) => assert_eq!(a, b, "step {step}: stat {spelled}"),
                    _ => panic!("step {step}: stat {spelled}: {got:?} vs {expected:?}"),
                }
                got.map(|_| ())
            }
            _ => {
                let expected = shadow
                    .check_ancestors(&path)
                    .and_then(|()| shadow.tree.get(&path).cloned().ok_or(Errno::ENOENT));
                let file = open(&vfs, cwd, &spelled, O_RDONLY, 0);
                match (file, expected) {
                    (Ok(f), Ok(Model::File(d))) => {
                        let mut buf = vec![0u8; 4096];
                        let n = f.read(&mut buf).unwrap();
                        assert_eq!(&buf[..n], &d[..], "step {step}: read {spelled}");
                        Ok(())
                    }
                    (Ok(f), Ok(Model::Dir)) => {
                        assert_eq!(f.read(&mut [0; 4]), Err(Errno::EISDIR));
                        let mut names = Vec::new();
                        while let Some(e) = f.readdir().unwrap() {
                            names.push(e.name);
                        }
                        assert_eq!(names, shadow.children(&path), "step {step}: readdir");
                        Ok(())
                    }
                    (Err(a), Err(b)) => {
                        assert_eq!(a, b, "step {step}: open {spelled}");
                        Err(a)
                    }
                    (got, expected) => panic!(
                        "step {step}: open {spelled}: {:?} vs {expected:?}",
                        got.err()
                    ),
                }
            }
        };
        let key = match result {
            Ok(()) => format!("{op} ok"),
            Err(e) => format!("{op} {}", e.name().unwrap_or("?")),
        };
        *outcomes.entry(key).or_default() += 1;
        assert_eq!(tmp.usage(), shadow.used(), "step {step}: usage");
        assert!(tmp.usage() <= LIMIT);
    }
    // Every kind of outcome the model knows happened at least once.
    for key in [
        "0 ok",
        "0 EEXIST",
        "0 ENOENT",
        "0 ENOTDIR",
        "2 ok",
        "2 ENOSPC",
        "2 EISDIR",
        "4 ENOSPC",
        "5 ok",
        "5 ENOTEMPTY",
        "5 ENOENT",
        "7 ok",
    ] {
        assert!(outcomes.contains_key(key), "never saw {key}: {outcomes:?}");
    }
    // Remove everything, deepest first: the counter returns to 0.
    let paths: Vec<String> = shadow.tree.keys().rev().cloned().collect();
    for path in paths {
        vfs.unlink("/tmp", &path).unwrap();
    }
    assert_eq!(tmp.usage(), 0);
    assert_eq!(tmp.root().readdir(0).unwrap(), None);
}

/// A random path made of awkward pieces.
fn garbage_path(rng: &mut Rng) -> String {
    let long = "L".repeat(113);
    let pieces = [
        "a",
        "b",
        "..",
        ".",
        "",
        "/",
        "//",
        "tmp",
        "bin",
        "sh",
        "dev",
        "\0",
        "é",
        long.as_str(),
    ];
    let count = rng.below(8);
    let mut path = String::new();
    if rng.below(2) == 0 {
        path.push('/');
    }
    for i in 0..count {
        if i > 0 {
            path.push('/');
        }
        let piece: &&str = rng.pick(&pieces);
        path.push_str(piece);
    }
    if rng.below(50) == 0 {
        path = "/a".repeat(600);
    }
    path
}

/// Bytes of every file reachable from `node`.
fn tree_bytes(node: &Arc<dyn Node>) -> u64 {
    match node.kind() {
        FileKind::Dir => (0..)
            .map_while(|i| node.readdir(i).unwrap())
            .map(|e| tree_bytes(&node.lookup(&e.name).unwrap()))
            .sum(),
        _ => node.stat().size,
    }
}

/// Removes everything below `node`.
fn remove_all(node: &Arc<dyn Node>) {
    while let Some(e) = node.readdir(0).unwrap() {
        let child = node.lookup(&e.name).unwrap();
        if child.kind() == FileKind::Dir {
            remove_all(&child);
        }
        node.unlink(&e.name).unwrap();
    }
}

#[test]
fn random_garbage_never_panics_and_usage_stays_true() {
    let (vfs, tmp) = namespace();
    let mut fds = FdTable::new();
    let mut rng = Rng::new(0x1234_5678_9abc_def1);
    let cwds = ["/", "/tmp", "/tmp", "/tmp/a", "/bin", "/nope", "/tmp/a/b"];
    let flag_bits = [
        O_RDONLY,
        O_WRONLY,
        O_RDWR,
        3,
        O_CREAT,
        O_EXCL,
        O_TRUNC,
        O_APPEND,
        O_NONBLOCK,
        O_DIRECTORY,
    ];
    let mut peak = 0;
    for _ in 0..30_000 {
        let cwd = *rng.pick(&cwds);
        // Half the paths are plausible ones under /tmp, so files fill up.
        let path = if rng.below(2) == 0 {
            format!("/tmp/{}", random_path(&mut rng))
        } else {
            garbage_path(&mut rng)
        };
        // Mostly descriptors that are open, sometimes any number.
        let open_fds = fds.open_fds();
        let fd = if !open_fds.is_empty() && rng.below(5) != 0 {
            *rng.pick(&open_fds)
        } else {
            rng.below(70) as i32 - 3
        };
        let mut buf = vec![0u8; rng.below(600) as usize];
        match rng.below(14) {
            0 => {
                let mut flags = if rng.below(2) == 0 {
                    O_RDWR | O_CREAT
                } else {
                    0
                };
                for _ in 0..rng.below(4) {
                    flags |= rng.pick(&flag_bits);
                }
                if rng.below(20) == 0 {
                    flags = rng.next_u64();
                }
                if let Ok(file) = open(&vfs, cwd, &path, flags, rng.next_u64() as u32) {
                    let _ = fds.insert(file);
                }
            }
            1 => drop(vfs.mkdir(cwd, &path, 0o755)),
            2 => drop(vfs.unlink(cwd, &path)),
            3 => drop(vfs.stat(cwd, &path)),
            4 => drop(vfs.resolve_parent(cwd, &path)),
            5 => {
                if let Ok(f) = fds.get(fd) {
                    let _ = f.read(&mut buf);
                }
            }
            6 => {
                if let Ok(f) = fds.get(fd) {
                    buf.fill(rng.next_u64() as u8);
                    let _ = f.write(&buf);
                }
            }
            7 => {
                if let Ok(f) = fds.get(fd) {
                    let offset = match rng.below(3) {
                        0 => rng.below(5000) as i64,
                        1 => rng.next_u64() as i64,
                        _ => -(rng.below(100) as i64),
                    };
                    let _ = f.seek(offset, rng.below(4));
                }
            }
            8 => {
                if let Ok(f) = fds.get(fd) {
                    let len = if rng.below(4) == 0 {
                        rng.next_u64()
                    } else {
                        rng.below(4000)
                    };
                    let _ = f.truncate(len);
                }
            }
            9 => drop(fds.dup2(fd, rng.below(70) as i32 - 3)),
            10 => drop(fds.close(fd)),
            11 => {
                if let Ok(f) = fds.get(fd) {
                    let _ = f.readdir();
                    let _ = f.stat();
                    let _ = f.ioctl(rng.next_u64(), rng.next_u64());
                }
            }
            12 => {
                if rng.below(10) == 0 {
                    if let Ok((r, w)) = pipe_files(rng.below(64) as usize) {
                        let _ = fds.insert(r);
                        let _ = fds.insert(w);
                    }
                }
            }
            _ => drop(vfs.resolve(cwd, &path)),
        }
        assert!(tmp.usage() <= LIMIT);
        peak = peak.max(tmp.usage());
        if rng.below(500) == 0 {
            fds.close_all();
            assert_eq!(tmp.usage(), tree_bytes(&tmp.root()));
        }
    }
    assert!(
        peak > LIMIT / 2,
        "the garbage hardly reached a file: {peak}"
    );
    fds.close_all();
    assert_eq!(tmp.usage(), tree_bytes(&tmp.root()));
    remove_all(&tmp.root());
    assert_eq!(tmp.usage(), 0);
}
