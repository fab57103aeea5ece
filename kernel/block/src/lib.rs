//! Keel's block layer, as pure logic tested on the host.
//!
//! A block driver (the SD card) moves whole blocks; programs read and write bytes at any offset
//! of `/dev/mmcblk0` and its partitions. Between the two sits a [`Cache`]: reads fill it with runs
//! of blocks fetched in one multi-block transfer, writes land in it and are written back later
//! (when evicted, on [`Cache::flush`], by `sync` and at power-off), adjacent dirty blocks together.
//! A write-back that fails leaves its blocks dirty, so an acknowledged write is never silently
//! dropped: the error reaches whoever flushes. [`mbr`] reads the partition table and [`Region`]
//! confines a partition's accesses to its blocks.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod cache;
pub mod mbr;

pub use cache::{Cache, CacheStats};

use core::fmt;
use keel_abi::Errno;

/// Why a block operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockError {
    /// There is no medium: no card in the slot, or it was pulled.
    NoMedium,
    /// The device reported an error for the transfer starting at `lba`.
    Io {
        /// The first block of the failed transfer.
        lba: u64,
    },
    /// The device did not answer in time for the transfer starting at `lba`.
    Timeout {
        /// The first block of the failed transfer.
        lba: u64,
    },
    /// An access outside the device or partition.
    OutOfRange {
        /// The first block asked for.
        lba: u64,
        /// Blocks asked for.
        count: u64,
        /// Blocks the device or partition has.
        blocks: u64,
    },
    /// A transfer buffer is not a whole number of blocks.
    Unaligned {
        /// The buffer's length in bytes.
        len: usize,
        /// The block size.
        block_size: usize,
    },
    /// The medium is write-protected.
    ReadOnly,
    /// The driver is gone or failed.
    DriverFailed,
}

impl BlockError {
    /// The error number a system call reports for this error.
    pub fn errno(self) -> Errno {
        match self {
            BlockError::NoMedium => Errno::ENOMEDIUM,
            BlockError::Io { .. } | BlockError::DriverFailed => Errno::EIO,
            BlockError::Timeout { .. } => Errno::ETIMEDOUT,
            BlockError::OutOfRange { .. } => Errno::ENOSPC,
            BlockError::Unaligned { .. } => Errno::EINVAL,
            BlockError::ReadOnly => Errno::EROFS,
        }
    }
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BlockError::NoMedium => write!(f, "no medium (no card in the slot)"),
            BlockError::Io { lba } => write!(f, "I/O error in the transfer at block {lba}"),
            BlockError::Timeout { lba } => {
                write!(f, "the device timed out in the transfer at block {lba}")
            }
            BlockError::OutOfRange { lba, count, blocks } => write!(
                f,
                "blocks {lba}..{} are outside the device's {blocks} blocks",
                lba.saturating_add(count)
            ),
            BlockError::Unaligned { len, block_size } => write!(
                f,
                "a {len}-byte transfer is not a whole number of {block_size}-byte blocks"
            ),
            BlockError::ReadOnly => write!(f, "the medium is write-protected"),
            BlockError::DriverFailed => write!(f, "the driver failed"),
        }
    }
}

/// A device that reads and writes whole blocks: what a block driver offers the block layer.
pub trait BlockDevice {
    /// Bytes per block (512 for SD cards).
    fn block_size(&self) -> usize;
    /// Blocks on the device.
    fn block_count(&self) -> u64;
    /// Reads `buf.len() / block_size` blocks starting at `lba` (one multi-block transfer).
    fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), BlockError>;
    /// Writes `buf.len() / block_size` blocks starting at `lba` (one multi-block transfer).
    fn write_blocks(&mut self, lba: u64, buf: &[u8]) -> Result<(), BlockError>;
    /// Makes written blocks durable (a device with its own cache flushes it).
    fn flush(&mut self) -> Result<(), BlockError> {
        Ok(())
    }
    /// Called by the [`Cache`] between blocks of long work (filling, evicting, copying, a
    /// transfer's bytes gathered): where a kernel lets pending interrupts in. Does nothing by
    /// default.
    fn pause(&mut self) {}
}

/// A window of a device's blocks, such as a partition: `blocks` blocks from `first`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// The window's first block on the device.
    pub first: u64,
    /// Its length in blocks.
    pub blocks: u64,
}

impl Region {
    /// The window's size in bytes, for `block_size`-byte blocks.
    pub fn bytes(&self, block_size: usize) -> u64 {
        self.blocks.saturating_mul(block_size as u64)
    }

    /// Translates an access of `len` bytes at byte `offset` of the window into device bytes,
    /// cut short at the window's end. Returns (device offset, bytes that fit); 0 bytes fit at or
    /// beyond the end.
    pub fn clamp(&self, offset: u64, len: usize, block_size: usize) -> (u64, usize) {
        let size = self.bytes(block_size);
        let fits = size.saturating_sub(offset).min(len as u64) as usize;
        (self.first * block_size as u64 + offset.min(size), fits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_have_errnos_and_sentences() {
        assert_eq!(BlockError::NoMedium.errno(), Errno::ENOMEDIUM);
        assert_eq!(BlockError::Io { lba: 3 }.errno(), Errno::EIO);
        assert_eq!(
            BlockError::OutOfRange {
                lba: 10,
                count: 4,
                blocks: 12
            }
            .to_string(),
            "blocks 10..14 are outside the device's 12 blocks"
        );
        assert!(BlockError::Timeout { lba: 7 }
            .to_string()
            .contains("block 7"));
    }

    #[test]
    fn regions_clamp_accesses_to_their_blocks() {
        let r = Region {
            first: 2048,
            blocks: 100,
        };
        assert_eq!(r.bytes(512), 51_200);
        assert_eq!(r.clamp(0, 512, 512), (2048 * 512, 512));
        assert_eq!(r.clamp(51_000, 512, 512), (2048 * 512 + 51_000, 200));
        assert_eq!(r.clamp(51_200, 512, 512).1, 0);
        assert_eq!(r.clamp(u64::MAX, 512, 512).1, 0);
    }
}
