//! `ramdisk`: a block device of 512-byte blocks held in RAM, as `/dev/ramN`; its contents go
//! with the module.
//!
//! ```text
//! insmod /lib/modules/ramdisk.ko size_kib=64
//! ```
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;

use keel_module::abi::device::BlockGeometry;
use keel_module::device::BlockDevice;
use keel_module::{Device, Error, Result};

keel_module::module! {
    name: "ramdisk",
    version: "0.1.0",
    license: "MIT OR Apache-2.0",
    author: "Keel",
    description: "A block device in RAM",
    depends: [],
    compatible: [],
    params: {
        size_kib: u32 = 64 => "size in KiB, 1 to 65536",
    },
    init: init,
    exit: exit,
}

/// Bytes per block.
const BLOCK: usize = 512;
/// The largest disk, in KiB.
const MAX_KIB: u32 = 64 * 1024;

/// The disk's bytes.
struct RamDisk {
    bytes: spin::Mutex<Vec<u8>>,
    blocks: u64,
}

impl RamDisk {
    /// The byte range of `len` bytes at block `lba`, if it lies on the disk.
    fn range(&self, lba: u64, len: usize) -> Result<core::ops::Range<usize>> {
        let start = usize::try_from(lba)
            .ok()
            .and_then(|b| b.checked_mul(BLOCK))
            .ok_or(Error::InvalidArgument)?;
        let end = start.checked_add(len).ok_or(Error::InvalidArgument)?;
        if !len.is_multiple_of(BLOCK) || end > self.blocks as usize * BLOCK {
            return Err(Error::InvalidArgument);
        }
        Ok(start..end)
    }
}

impl BlockDevice for RamDisk {
    fn geometry(&self) -> Result<BlockGeometry> {
        Ok(BlockGeometry {
            block_size: BLOCK as u32,
            reserved: 0,
            blocks: self.blocks,
        })
    }

    fn read(&self, lba: u64, buf: &mut [u8]) -> Result {
        let range = self.range(lba, buf.len())?;
        buf.copy_from_slice(&self.bytes.lock()[range]);
        Ok(())
    }

    fn write(&self, lba: u64, buf: &[u8]) -> Result {
        let range = self.range(lba, buf.len())?;
        self.bytes.lock()[range].copy_from_slice(buf);
        Ok(())
    }
}

static DEVICE: spin::Mutex<Option<Device<RamDisk>>> = spin::Mutex::new(None);

fn init() -> Result {
    let kib = params::size_kib();
    if kib == 0 || kib > MAX_KIB {
        log::error!("size_kib={kib}: use 1..={MAX_KIB}");
        return Err(Error::InvalidArgument);
    }
    let len = kib as usize * 1024;
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(len).map_err(|_| Error::NoMemory)?;
    bytes.resize(len, 0);
    let disk = Arc::new(RamDisk {
        bytes: spin::Mutex::new(bytes),
        blocks: (len / BLOCK) as u64,
    });
    let device = Device::block("ram#", disk)?;
    log::info!("{kib} KiB in {} blocks of {BLOCK} bytes", len / BLOCK);
    *DEVICE.lock() = Some(device);
    Ok(())
}

fn exit() {
    drop(DEVICE.lock().take());
}
