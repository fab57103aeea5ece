//! Keel's file-system layer, host-testable and free of anything kernel-specific.
//!
//! # Architecture
//!
//! ```text
//!  syscalls (kernel glue)      FdTable ── Arc<OpenFile> ── Arc<dyn Node>
//!                                 │            │  offset, flags   │
//!  open(vfs, cwd, path, ..) ──► Vfs::resolve ──┘                  │
//!                                 │ mount table                   ▼
//!                    ┌────────────┼──────────────┬─────────────┬──────────┐
//!                  rofs (/)     tmpfs (/tmp)   devfs (/dev)   pipes     (kernel devices)
//! ```
//!
//! Every file-system object is a [`Node`] behind an `Arc<dyn Node>`. A [`Vfs`] holds the root
//! node and a mount table and turns paths into nodes ([`Vfs::resolve`]), handling `.`, `..`
//! across mount points and the POSIX error rules. An [`OpenFile`] is an open file description
//! (node, offset, flags) shared by duplicated descriptors; an [`FdTable`] maps a process's
//! descriptor numbers to them.
//!
//! # Blocking
//!
//! Nothing here blocks or knows about threads. A node that has nothing to give now (an empty
//! pipe, a tty without input, a full pipe for a writer) returns [`Errno::EAGAIN`] and reports
//! a wait key ([`Node::wait_key`]). The kernel installs one [`Wake`] hook with [`set_waker`];
//! nodes call [`wake`] with their key when data arrives or space frees up. The kernel's loop
//! for a blocking call is:
//!
//! ```text
//! loop {
//!     match file.read(buf) {
//!         Err(EAGAIN) if !file.is_nonblocking() => {
//!             let key = file.wait_key();        // Some(..) for every node that can say EAGAIN
//!             let w = waitq.prepare(key);       // register first ...
//!             match file.read(buf) {            // ... then retry, so no wake-up is lost
//!                 Err(EAGAIN) => w.sleep(),     // woken by Wake::wake(key)
//!                 other => { w.cancel(); return other }
//!             }
//!         }
//!         other => return other,
//!     }
//! }
//! ```
//!
//! Paths and names are `&str`: the kernel checks that user bytes are UTF-8 (else `EINVAL`).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod devfs;
pub mod fdtable;
pub mod file;
pub mod node;
pub mod path;
pub mod pipe;
pub mod rofs;
pub mod tmpfs;

#[cfg(test)]
mod tests;

pub use devfs::{DevFs, NullDev, ZeroDev};
pub use fdtable::{FdTable, MAX_FDS};
pub use file::{open, pipe_files, FileId, OpenFile};
pub use keel_abi::errno::Errno;
pub use node::{set_waker, wait_key_of, wake, DirEntryInfo, Node, Wake};
pub use path::{Parent, Resolved, Vfs};
pub use pipe::{pipe, PIPE_CAPACITY};
pub use rofs::RoEntry;
pub use tmpfs::TmpFs;
