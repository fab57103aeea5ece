//! The file-system namespace: the initramfs read-only at `/`, a RAM file system at `/tmp`, devices
//! at `/dev`; and blocking on files that have nothing to give yet.
//!
//! The logic (paths, mounts, rofs, tmpfs, pipes, descriptor tables) is `keel-vfs`, tested on the
//! host; this module feeds it the initramfs, supplies the console tty and the wait queues that
//! turn a node's `EAGAIN` into sleeping until the node calls [`keel_vfs::wake`].

pub mod tty;

use alloc::sync::Arc;
use alloc::vec::Vec;

use keel_abi::types::FileKind;
use keel_abi::Errno;
use keel_vfs::{DevFs, NullDev, OpenFile, RoEntry, TmpFs, Vfs, Wake};
use spin::Once;

use crate::sched::WaitQueue;

pub use keel_vfs::FdTable;

/// Most bytes `/tmp` may hold.
const TMP_LIMIT: u64 = 64 << 20;
/// Wait queues for blocked file operations, chosen by wait key.
const BUCKETS: usize = 64;

static VFS: Once<Vfs> = Once::new();
static DEV: Once<Arc<DevFs>> = Once::new();
static TMP: Once<TmpFs> = Once::new();
static QUEUES: [WaitQueue; BUCKETS] = [const { WaitQueue::new() }; BUCKETS];

struct KernelWaker;

impl Wake for KernelWaker {
    fn wake(&self, key: usize) {
        QUEUES[bucket(key)].wake_all();
    }
}

static WAKER: KernelWaker = KernelWaker;

fn bucket(key: usize) -> usize {
    (key >> 4) % BUCKETS
}

/// The namespace (after [`init`]).
pub fn vfs() -> &'static Vfs {
    VFS.get()
        .expect("the file system is set up before user space starts")
}

/// The device directory mounted at `/dev`.
pub fn devfs() -> &'static Arc<DevFs> {
    DEV.get()
        .expect("the file system is set up before devices register")
}

/// What [`init`] found.
pub struct Report {
    /// Entries in the initramfs.
    pub entries: usize,
    /// Its size in bytes.
    pub bytes: usize,
}

/// Builds the namespace from the initramfs at physical `[start, end)` (if any).
pub fn init(initrd: Option<(u64, u64)>) -> Result<Report, &'static str> {
    keel_vfs::set_waker(&WAKER);
    let mut entries = Vec::new();
    let mut bytes = 0;
    if let Some((start, end)) = initrd {
        let va = crate::mm::phys_to_virt(start);
        // SAFETY: the initramfs is RAM the memory manager left out of the allocator and maps in
        // the direct map; it is never freed or written, so it can be borrowed for the kernel's life.
        let data: &'static [u8] =
            unsafe { core::slice::from_raw_parts(va as *const u8, (end - start) as usize) };
        bytes = data.len();
        let archive = keel_cpio::Archive::new(data);
        for entry in archive.entries() {
            let entry = entry.map_err(|e| {
                log::error!(target: "fs", "initramfs: {e}");
                "the initramfs is not a valid newc cpio archive"
            })?;
            let kind = match entry.file_type() {
                keel_cpio::FileType::Regular => FileKind::File,
                keel_cpio::FileType::Directory => FileKind::Dir,
                keel_cpio::FileType::Symlink => FileKind::Symlink,
                _ => continue,
            };
            let path = keel_cpio::normalize(entry.name);
            entries.push(RoEntry {
                path: if path.is_empty() { "." } else { path },
                kind,
                mode: entry.mode.permissions(),
                data: entry.data,
            });
        }
    }
    for dir in ["dev", "tmp", "proc"] {
        if !entries.iter().any(|e| e.path == dir) {
            entries.push(RoEntry {
                path: dir,
                kind: FileKind::Dir,
                mode: 0o755,
                data: &[],
            });
        }
    }
    let count = entries.len();
    let root = keel_vfs::rofs::build(&entries).map_err(|e| {
        log::error!(target: "fs", "initramfs: {e}");
        "the initramfs cannot be turned into a file tree"
    })?;
    let vfs = Vfs::new(root).map_err(|_| "the initramfs root is not a directory")?;
    let tmp = TMP.call_once(|| TmpFs::new(TMP_LIMIT));
    vfs.mount("/tmp", tmp.root())
        .map_err(|_| "cannot mount /tmp")?;
    let dev = DEV.call_once(DevFs::new);
    vfs.mount("/dev", dev.clone())
        .map_err(|_| "cannot mount /dev")?;
    dev.register("null", NullDev::new())
        .map_err(|_| "cannot register /dev/null")?;
    dev.register("zero", keel_vfs::ZeroDev::new())
        .map_err(|_| "cannot register /dev/zero")?;
    dev.register("console", tty::console())
        .map_err(|_| "cannot register /dev/console")?;
    VFS.call_once(|| vfs);
    Ok(Report {
        entries: count,
        bytes,
    })
}

/// Bytes stored in `/tmp`.
pub fn tmp_usage() -> u64 {
    TMP.get().map_or(0, TmpFs::usage)
}

/// Repeats `op` until it stops saying `EAGAIN`, sleeping on the file's wait key in between
/// (unless the file is non-blocking). A killed thread gets `EINTR`.
pub fn blocking<T>(file: &OpenFile, mut op: impl FnMut() -> Result<T, Errno>) -> Result<T, Errno> {
    match op() {
        Err(Errno::EAGAIN) if !file.is_nonblocking() => {}
        other => return other,
    }
    let Some(key) = file.wait_key() else {
        return Err(Errno::EAGAIN);
    };
    QUEUES[bucket(key)]
        .wait_until(|| match op() {
            Err(Errno::EAGAIN) => None,
            other => Some(other),
        })
        .map_err(|_| Errno::EINTR)?
}

/// Opens `/dev/console` for reading and writing (init's descriptors 0, 1 and 2).
pub fn console_fds() -> Result<FdTable, Errno> {
    let mut table = FdTable::new();
    let file = keel_vfs::open(vfs(), "/", "/dev/console", keel_abi::types::O_RDWR, 0)?;
    for _ in 0..3 {
        table.insert(file.clone())?;
    }
    Ok(table)
}

/// The bytes of a regular file: borrowed when the file system keeps them in memory for good (the
/// initramfs), copied otherwise.
pub enum FileBytes {
    /// Borrowed from the initramfs.
    Static(&'static [u8]),
    /// Read into the heap.
    Owned(Vec<u8>),
}

impl core::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Static(b) => b,
            FileBytes::Owned(v) => v,
        }
    }
}

/// Most bytes a program or module file may have.
pub const MAX_FILE_LOAD: u64 = 32 << 20;

/// Reads a whole regular file (a program to start, a module to load).
pub fn read_file(cwd: &str, path: &str) -> Result<FileBytes, Errno> {
    let node = vfs().resolve(cwd, path)?.node;
    match node.kind() {
        FileKind::File => {}
        FileKind::Dir => return Err(Errno::EISDIR),
        _ => return Err(Errno::EACCES),
    }
    if let Some(bytes) = node.static_bytes() {
        return Ok(FileBytes::Static(bytes));
    }
    let size = node.stat().size;
    if size > MAX_FILE_LOAD {
        return Err(Errno::EFBIG);
    }
    let mut data = alloc::vec![0u8; size as usize];
    let mut done = 0;
    while done < data.len() {
        let n = node.read_at(done as u64, &mut data[done..])?;
        if n == 0 {
            break;
        }
        done += n;
    }
    data.truncate(done);
    Ok(FileBytes::Owned(data))
}

/// Writes every cached block back to its device (the block caches of `/dev/mmcblk0` and the
/// other block devices; the initramfs is read-only and `/tmp` lives only in RAM). Failures are
/// logged by the block layer; the first one is returned.
pub fn sync_all() -> Result<(), keel_abi::Errno> {
    crate::dev::block::sync_all()
}
