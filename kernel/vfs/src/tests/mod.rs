//! Host tests of the whole crate, one file per part, sharing a standard namespace and a
//! counting wake-up hook.

mod devfs_tests;
mod fdtable;
mod open;
mod paths;
mod pipe_tests;
mod random;
mod rofs_tests;
mod tmpfs_tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use keel_abi::types::FileKind;

use crate::{rofs, set_waker, DevFs, NullDev, RoEntry, TmpFs, Vfs, Wake, ZeroDev};

/// Counts wake-ups per key. Installed once for the whole test binary; tests compare counts
/// before and after, and keys of live nodes are unique, so parallel tests do not interfere.
struct CountingWaker {
    counts: Mutex<HashMap<usize, usize>>,
}

impl Wake for CountingWaker {
    fn wake(&self, key: usize) {
        *self.counts.lock().unwrap().entry(key).or_default() += 1;
    }
}

fn waker() -> &'static CountingWaker {
    static WAKER: OnceLock<&'static CountingWaker> = OnceLock::new();
    WAKER.get_or_init(|| {
        let waker: &'static CountingWaker = Box::leak(Box::new(CountingWaker {
            counts: Mutex::new(HashMap::new()),
        }));
        assert!(set_waker(waker));
        waker
    })
}

/// Wake-ups delivered for `key` so far.
fn wakes(key: usize) -> usize {
    *waker().counts.lock().unwrap().get(&key).unwrap_or(&0)
}

/// A namespace as the kernel builds it: rofs root, tmpfs on `/tmp`, devfs on `/dev`.
struct World {
    vfs: Vfs,
    tmp: TmpFs,
    dev: Arc<DevFs>,
}

fn entry(path: &'static str, kind: FileKind, data: &'static [u8]) -> RoEntry<'static> {
    RoEntry {
        path,
        kind,
        mode: if kind == FileKind::Dir { 0o755 } else { 0o644 },
        data,
    }
}

fn world() -> World {
    let root = rofs::build(&[
        entry("bin/sh", FileKind::File, b"#!shell"),
        entry("bin/ls", FileKind::File, b"ls program"),
        entry("etc/motd", FileKind::File, b"welcome to keel\n"),
        entry("tmp", FileKind::Dir, b""),
        entry("dev", FileKind::Dir, b""),
        entry("home/user/notes", FileKind::File, b"notes"),
    ])
    .unwrap();
    let vfs = Vfs::new(root).unwrap();
    let tmp = TmpFs::new(1 << 20);
    vfs.mount("/tmp", tmp.root()).unwrap();
    let dev = DevFs::new();
    dev.register("null", NullDev::new()).unwrap();
    dev.register("zero", ZeroDev::new()).unwrap();
    vfs.mount("/dev", dev.clone()).unwrap();
    World { vfs, tmp, dev }
}

/// Names of a directory's entries, in readdir order.
fn names(node: &dyn crate::Node) -> Vec<String> {
    (0..)
        .map_while(|i| node.readdir(i).unwrap())
        .map(|e| e.name)
        .collect()
}
