//! A process's descriptor table: numbers 0..[`MAX_FDS`] mapped to shared open files.

use alloc::sync::Arc;
use alloc::vec::Vec;

use keel_abi::Errno;

use crate::file::OpenFile;

/// Descriptors per process.
pub const MAX_FDS: usize = 64;

/// Descriptor numbers mapped to [`OpenFile`]s. Several numbers (in one table or, after
/// [`FdTable::clone_for_spawn`], in several) may share one open file and its offset.
///
/// Closing drops a reference; the open file is released when its last reference goes, which
/// may wake waiters (a pipe's other end). The kernel should not hold locks that its
/// [`crate::Wake`] hook takes while closing.
pub struct FdTable {
    slots: [Option<Arc<OpenFile>>; MAX_FDS],
}

impl Default for FdTable {
    fn default() -> Self {
        Self::new()
    }
}

impl FdTable {
    /// An empty table.
    pub fn new() -> FdTable {
        FdTable {
            slots: [const { None }; MAX_FDS],
        }
    }

    fn slot(fd: i32) -> Result<usize, Errno> {
        usize::try_from(fd)
            .ok()
            .filter(|&i| i < MAX_FDS)
            .ok_or(Errno::EBADF)
    }

    /// The open file behind `fd` (`EBADF` if none).
    pub fn get(&self, fd: i32) -> Result<Arc<OpenFile>, Errno> {
        self.slots[Self::slot(fd)?].clone().ok_or(Errno::EBADF)
    }

    /// Puts `file` at the lowest free number and returns it (`EMFILE` if the table is full).
    pub fn insert(&mut self, file: Arc<OpenFile>) -> Result<i32, Errno> {
        let index = self
            .slots
            .iter()
            .position(Option::is_none)
            .ok_or(Errno::EMFILE)?;
        self.slots[index] = Some(file);
        Ok(index as i32)
    }

    /// Makes `new` refer to the open file of `old` (closing what `new` held) and returns
    /// `new`. Errors: `EBADF` if `old` is not open or `new` is out of range. `dup2(fd, fd)`
    /// only checks `fd`.
    pub fn dup2(&mut self, old: i32, new: i32) -> Result<i32, Errno> {
        let file = self.get(old)?;
        let slot = Self::slot(new)?;
        if old != new {
            self.slots[slot] = Some(file);
        }
        Ok(new)
    }

    /// Puts another reference to `old`'s open file at the lowest free number.
    pub fn dup(&mut self, old: i32) -> Result<i32, Errno> {
        let file = self.get(old)?;
        self.insert(file)
    }

    /// Closes `fd` (`EBADF` if it is not open).
    pub fn close(&mut self, fd: i32) -> Result<(), Errno> {
        self.slots[Self::slot(fd)?]
            .take()
            .map(drop)
            .ok_or(Errno::EBADF)
    }

    /// Closes every descriptor.
    pub fn close_all(&mut self) {
        for slot in self.slots.iter_mut() {
            *slot = None;
        }
    }

    /// A child's table whose 0, 1 and 2 share the open files of the parent's `fds[0]`,
    /// `fds[1]`, `fds[2]`; -1 leaves that number closed. Errors: `EBADF` if another number is
    /// not open here.
    pub fn clone_for_spawn(&self, fds: &[i32; 3]) -> Result<FdTable, Errno> {
        let mut child = FdTable::new();
        for (slot, &fd) in child.slots.iter_mut().zip(fds) {
            if fd != -1 {
                *slot = Some(self.get(fd)?);
            }
        }
        Ok(child)
    }

    /// Number of open descriptors.
    pub fn count(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// The open descriptor numbers, lowest first.
    pub fn open_fds(&self) -> Vec<i32> {
        (0..MAX_FDS as i32)
            .filter(|&fd| self.slots[fd as usize].is_some())
            .collect()
    }
}
