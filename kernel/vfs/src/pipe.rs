//! Pipes: a ring buffer with a reading end and a writing end.
//!
//! Each end is a [`Node`]. The ends count how many open file descriptions refer to them
//! through [`Node::open`] and [`Node::release`] (an [`crate::OpenFile`] calls them when it is
//! made and when its last reference drops), so:
//!
//! - read returns what is buffered; `EAGAIN` when empty while a writer is open; 0 (end of
//!   file) when empty and no writer is open;
//! - write writes what fits; `EAGAIN` when full; `EPIPE` when no reader is open.
//!
//! Wake-ups ([`crate::wake`]): the reading end's [`Node::wait_key`] is woken when data arrives
//! or the last writer closes; the writing end's key when space frees up or the last reader
//! closes. The two keys differ, so readers and writers wait apart.
//!
//! Use [`crate::pipe_files`] to get both ends already opened.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use keel_abi::types::{FileKind, Stat};
use keel_abi::Errno;
use spin::Mutex;

use crate::node::{make_stat, wait_key_of, wake, Node};

/// The default capacity of a pipe in bytes.
pub const PIPE_CAPACITY: usize = 64 * 1024;

/// [`Stat::dev`] of every pipe.
const PIPE_DEV: u64 = 0;

struct Shared {
    ino: u64,
    capacity: usize,
    state: Mutex<State>,
}

struct State {
    /// Buffered bytes; grows on demand up to `capacity`.
    data: VecDeque<u8>,
    readers: usize,
    writers: usize,
}

impl Shared {
    fn reader_key(&self) -> usize {
        wait_key_of(self)
    }

    /// One past the reader's key: still inside this allocation, so no other live node has it.
    fn writer_key(&self) -> usize {
        wait_key_of(self) + 1
    }

    fn stat(&self) -> Stat {
        let size = self.state.lock().data.len() as u64;
        make_stat(FileKind::Pipe, 0o600, size, self.ino, PIPE_DEV)
    }
}

/// Creates a pipe holding up to `capacity` bytes (at least 1) and returns its (reading,
/// writing) ends, neither open yet: wrap them in [`crate::OpenFile`]s (or call
/// [`Node::open`]) before use, or the reader sees end of file and the writer `EPIPE`.
pub fn pipe(capacity: usize) -> (Arc<dyn Node>, Arc<dyn Node>) {
    static NEXT_INO: AtomicU64 = AtomicU64::new(1);
    let shared = Arc::new(Shared {
        ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
        capacity: capacity.max(1),
        state: Mutex::new(State {
            data: VecDeque::new(),
            readers: 0,
            writers: 0,
        }),
    });
    (
        Arc::new(PipeReader {
            shared: shared.clone(),
        }),
        Arc::new(PipeWriter { shared }),
    )
}

/// The reading end.
struct PipeReader {
    shared: Arc<Shared>,
}

/// The writing end.
struct PipeWriter {
    shared: Arc<Shared>,
}

impl Node for PipeReader {
    fn kind(&self) -> FileKind {
        FileKind::Pipe
    }

    fn stat(&self) -> Stat {
        self.shared.stat()
    }

    fn read_at(&self, _offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut state = self.shared.state.lock();
        if state.data.is_empty() {
            return if state.writers == 0 {
                Ok(0)
            } else {
                Err(Errno::EAGAIN)
            };
        }
        let n = state.data.len().min(buf.len());
        for (dst, src) in buf.iter_mut().zip(state.data.drain(..n)) {
            *dst = src;
        }
        if state.data.is_empty() {
            // Give the memory back while the pipe sits empty.
            state.data = VecDeque::new();
        }
        drop(state);
        wake(self.shared.writer_key());
        Ok(n)
    }

    fn write_at(&self, _offset: u64, _buf: &[u8]) -> Result<usize, Errno> {
        Err(Errno::EBADF)
    }

    fn open(&self, _file: crate::file::FileId, _flags: u64) -> Result<(), Errno> {
        self.shared.state.lock().readers += 1;
        Ok(())
    }

    fn release(&self, _file: crate::file::FileId, _flags: u64) {
        let mut state = self.shared.state.lock();
        state.readers = state.readers.saturating_sub(1);
        let last = state.readers == 0;
        drop(state);
        if last {
            wake(self.shared.writer_key());
        }
    }

    fn wait_key(&self) -> Option<usize> {
        Some(self.shared.reader_key())
    }
}

impl Node for PipeWriter {
    fn kind(&self) -> FileKind {
        FileKind::Pipe
    }

    fn stat(&self) -> Stat {
        self.shared.stat()
    }

    fn read_at(&self, _offset: u64, _buf: &mut [u8]) -> Result<usize, Errno> {
        Err(Errno::EBADF)
    }

    fn write_at(&self, _offset: u64, buf: &[u8]) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut state = self.shared.state.lock();
        if state.readers == 0 {
            return Err(Errno::EPIPE);
        }
        let space = self.shared.capacity.saturating_sub(state.data.len());
        if space == 0 {
            return Err(Errno::EAGAIN);
        }
        let n = space.min(buf.len());
        if state.data.try_reserve(n).is_err() {
            return Err(Errno::ENOMEM);
        }
        state.data.extend(&buf[..n]);
        drop(state);
        wake(self.shared.reader_key());
        Ok(n)
    }

    fn open(&self, _file: crate::file::FileId, _flags: u64) -> Result<(), Errno> {
        self.shared.state.lock().writers += 1;
        Ok(())
    }

    fn release(&self, _file: crate::file::FileId, _flags: u64) {
        let mut state = self.shared.state.lock();
        state.writers = state.writers.saturating_sub(1);
        let last = state.writers == 0;
        drop(state);
        if last {
            wake(self.shared.reader_key());
        }
    }

    fn wait_key(&self) -> Option<usize> {
        Some(self.shared.writer_key())
    }
}
