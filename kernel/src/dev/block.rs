//! The block class: a write-back [`Cache`] per block device between byte-offset reads and writes
//! on `/dev` nodes and the driver's whole-block transfers, MBR partitions as nodes of their own,
//! and [`sync_all`] for `sync` and power-off.
//!
//! ```text
//!  read/write on /dev/mmcblk0p1 ──► Region (partition window) ──► Disk: SleepLock<Cache>
//!        ──► Driver (keel_block::BlockDevice) ──contain──► BlockOps::read/write
//!              0 (done) or -EINPROGRESS ──► sleep on the disk's queue until
//!              keel_block_complete (from the driver's interrupt handler) or the deadline
//!              (then BlockOps::abort and ETIMEDOUT); a failed transfer is retried once
//! ```
//!
//! Every access to a disk holds its lock, a lock that sleeps rather than spins: a transfer waits
//! for an interrupt, and the thread waiting holds the lock, so a device has one transfer at a
//! time. Nothing here runs in interrupt context except [`complete`].

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use keel_abi::device::{BlockGeometry, BlockOps, BLOCK_TRANSFER_TIMEOUT_MS};
use keel_abi::Errno;
use keel_block::{mbr, BlockError, Cache, Region};

use super::{status_result, Class, Device};
use crate::sched::WaitQueue;
use crate::sync::IrqMutex;

/// Blocks a disk's cache holds (256 KiB of 512-byte blocks).
const CACHE_BLOCKS: usize = 512;
/// Most blocks per transfer (64 KiB of 512-byte blocks).
const MAX_RUN: usize = 128;
/// No transfer is waiting for its completion.
const IDLE: i64 = i64::MIN;
/// A started transfer has not completed yet.
const PENDING: i64 = i64::MIN + 1;

/// A lock that puts its waiters to sleep: held across device transfers.
pub struct SleepLock<T> {
    held: AtomicBool,
    queue: WaitQueue,
    value: core::cell::UnsafeCell<T>,
}

// SAFETY: `value` is only reached through a guard, and `held` admits one guard at a time.
unsafe impl<T: Send> Sync for SleepLock<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for SleepLock<T> {}

/// Access to a [`SleepLock`]'s value; dropping it lets the next waiter in.
pub struct SleepGuard<'a, T> {
    lock: &'a SleepLock<T>,
}

impl<T> SleepLock<T> {
    /// A free lock around `value`.
    pub fn new(value: T) -> SleepLock<T> {
        SleepLock {
            held: AtomicBool::new(false),
            queue: WaitQueue::new(),
            value: core::cell::UnsafeCell::new(value),
        }
    }

    /// Takes the lock, sleeping while another thread holds it; `EINTR` if the thread is killed
    /// while it waits.
    pub fn lock(&self) -> Result<SleepGuard<'_, T>, Errno> {
        self.queue
            .wait_until(|| {
                self.held
                    .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .ok()
            })
            .map_err(|_| Errno::EINTR)?;
        Ok(SleepGuard { lock: self })
    }
}

impl<T> SleepLock<T> {
    /// Takes the lock if it is free, without waiting.
    pub fn try_lock(&self) -> Option<SleepGuard<'_, T>> {
        self.held
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| SleepGuard { lock: self })
    }
}

impl<T> core::ops::Deref for SleepGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard is the only holder of the lock.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> core::ops::DerefMut for SleepGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard is the only holder of the lock.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SleepGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.held.store(false, Ordering::Release);
        self.lock.queue.wake_one();
    }
}

/// The kernel's state for one block device.
pub struct Disk {
    cache: SleepLock<Cache>,
    /// The status `keel_block_complete` reported, [`PENDING`] while a transfer runs, [`IDLE`].
    done: AtomicI64,
    /// Where the thread waiting for a transfer sleeps.
    waiter: WaitQueue,
    /// The `/dev` names of the device's partitions.
    partitions: IrqMutex<Vec<String>>,
}

impl Disk {
    /// The state for a device of `geometry`.
    pub fn new(geometry: &BlockGeometry) -> Disk {
        Disk {
            cache: SleepLock::new(Cache::new(
                geometry.block_size as usize,
                CACHE_BLOCKS,
                MAX_RUN,
            )),
            done: AtomicI64::new(IDLE),
            waiter: WaitQueue::new(),
            partitions: IrqMutex::new(Vec::new()),
        }
    }
}

/// The driver of one device, as `keel_block` sees it.
struct Driver<'a> {
    dev: &'a Device,
    ops: &'a BlockOps,
    geometry: &'a BlockGeometry,
    disk: &'a Disk,
}

impl Driver<'_> {
    /// One transfer: starts it and, when the driver says `EINPROGRESS`, sleeps until it
    /// completes or its deadline passes.
    fn transfer(&self, write: bool, lba: u64, buf: usize, count: u32) -> Result<(), Errno> {
        let op = if write {
            self.ops.write as usize
        } else {
            self.ops.read as usize
        };
        self.disk.done.store(PENDING, Ordering::SeqCst);
        let started = self.dev.call(op, lba, buf as u64, count as u64)? as u32 as i32;
        if started != -(Errno::EINPROGRESS.0 as i32) {
            self.disk.done.store(IDLE, Ordering::SeqCst);
            return status_result(started).map(|_| ());
        }
        let ticks = BLOCK_TRANSFER_TIMEOUT_MS * crate::arch::counter_frequency() / 1000;
        let deadline = crate::arch::counter().saturating_add(ticks);
        let disk = self.disk;
        let status = disk.waiter.wait_until_deadline(deadline, || {
            let s = disk.done.load(Ordering::SeqCst);
            (s != PENDING).then_some(s)
        });
        disk.done.store(IDLE, Ordering::SeqCst);
        match status {
            Some(s) => status_result(s as i32).map(|_| ()),
            None => {
                log::warn!(target: "block", "/dev/{}: transfer at block {lba} timed out", self.dev.name);
                let _ = self.dev.call(self.ops.abort as usize, 0, 0, 0);
                Err(Errno::ETIMEDOUT)
            }
        }
    }

    /// A transfer, retried once after a device error or a timeout (the driver resets its
    /// controller's lines when a transfer fails).
    fn transfer_retried(
        &self,
        write: bool,
        lba: u64,
        buf: usize,
        len: usize,
    ) -> Result<(), BlockError> {
        let count = (len / self.geometry.block_size as usize) as u32;
        let mut result = self.transfer(write, lba, buf, count);
        if matches!(result, Err(Errno::EIO | Errno::ETIMEDOUT)) && self.dev.usable().is_ok() {
            result = self.transfer(write, lba, buf, count);
        }
        result.map_err(|e| error_of(e, lba))
    }
}

/// The block error for errno `e` of a transfer at `lba`.
fn error_of(e: Errno, lba: u64) -> BlockError {
    match e {
        Errno::ENOMEDIUM => BlockError::NoMedium,
        Errno::ETIMEDOUT => BlockError::Timeout { lba },
        Errno::EROFS => BlockError::ReadOnly,
        Errno::ENODEV => BlockError::DriverFailed,
        _ => BlockError::Io { lba },
    }
}

impl keel_block::BlockDevice for Driver<'_> {
    fn block_size(&self) -> usize {
        self.geometry.block_size as usize
    }

    fn block_count(&self) -> u64 {
        self.geometry.blocks
    }

    fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        self.transfer_retried(false, lba, buf.as_mut_ptr() as usize, buf.len())
    }

    fn write_blocks(&mut self, lba: u64, buf: &[u8]) -> Result<(), BlockError> {
        self.transfer_retried(true, lba, buf.as_ptr() as usize, buf.len())
    }

    fn pause(&mut self) {
        // The cache's users may sleep (a transfer does): no lock an interrupt handler takes is
        // held here, only the disk's sleeping lock.
        crate::sync::interrupt_window();
    }
}

/// The parts of a block device's class.
fn parts(dev: &Device) -> Option<(&BlockOps, &BlockGeometry, &Disk)> {
    match &dev.class {
        Class::Block {
            ops,
            geometry,
            disk,
        } => Some((ops, geometry, disk)),
        _ => None,
    }
}

/// A read or a write at a byte offset.
pub enum Io<'a> {
    /// Read into the buffer.
    Read(&'a mut [u8]),
    /// Write the buffer.
    Write(&'a [u8]),
}

/// Reads or writes at byte `offset` of `region` (the whole device, or a partition) through the
/// device's cache. Past the end, reads give 0 bytes and writes `ENOSPC`.
pub fn io(dev: &Device, region: Option<Region>, offset: u64, io: Io<'_>) -> Result<usize, Errno> {
    let (ops, geometry, disk) = parts(dev).ok_or(Errno::EINVAL)?;
    let bs = geometry.block_size as usize;
    let region = region.unwrap_or(Region {
        first: 0,
        blocks: geometry.blocks,
    });
    let len = match &io {
        Io::Read(b) => b.len(),
        Io::Write(b) => b.len(),
    };
    if len == 0 {
        return Ok(0);
    }
    let (device_offset, fits) = region.clamp(offset, len, bs);
    if fits == 0 {
        return match io {
            Io::Read(_) => Ok(0),
            Io::Write(_) => Err(Errno::ENOSPC),
        };
    }
    let mut driver = Driver {
        dev,
        ops,
        geometry,
        disk,
    };
    let mut cache = disk.cache.lock()?;
    dev.usable()?;
    let result = match io {
        Io::Read(buf) => cache.read(&mut driver, device_offset, &mut buf[..fits]),
        Io::Write(buf) => cache.write(&mut driver, device_offset, &buf[..fits]),
    };
    result.map_err(BlockError::errno)
}

/// Writes the dirty blocks of `dev` back. Errors are logged and returned.
pub fn flush(dev: &Device) -> Result<(), Errno> {
    let Some((ops, geometry, disk)) = parts(dev) else {
        return Ok(());
    };
    let mut cache = disk.cache.lock()?;
    if cache.dirty() == 0 {
        return Ok(());
    }
    let dirty = cache.dirty();
    if let Err(e) = dev.usable() {
        let lost = cache.discard();
        log::error!(target: "block", "/dev/{}: {lost} written blocks lost: the driver is gone", dev.name);
        return Err(e);
    }
    let mut driver = Driver {
        dev,
        ops,
        geometry,
        disk,
    };
    match cache.flush(&mut driver) {
        Ok(()) => {
            log::debug!(target: "block", "/dev/{}: {dirty} blocks written back", dev.name);
            Ok(())
        }
        Err(e) => {
            log::error!(target: "block", "/dev/{}: write-back failed: {e}", dev.name);
            if e == BlockError::NoMedium {
                let lost = cache.discard();
                log::error!(target: "block", "/dev/{}: {lost} written blocks lost with the medium", dev.name);
            }
            Err(e.errno())
        }
    }
}

/// Writes the dirty blocks of `module`'s block devices back (before it is unloaded; may sleep).
pub fn flush_module(module: crate::module::ModuleId) {
    let devices: Vec<Arc<Device>> = super::DEVICES
        .lock()
        .iter()
        .filter(|d| d.module == module && parts(d).is_some())
        .cloned()
        .collect();
    for dev in devices {
        let _ = flush(&dev);
    }
}

/// Whether `dev` has no transfer running and no written blocks the device lacks: what unloading
/// its driver needs, checked without sleeping.
pub fn settled(dev: &Device) -> bool {
    match parts(dev) {
        Some((_, _, disk)) => disk.cache.try_lock().is_some_and(|c| c.dirty() == 0),
        None => true,
    }
}

/// Writes every block device's dirty blocks back (`sync`, power-off). Returns the first error.
pub fn sync_all() -> Result<(), Errno> {
    let devices: Vec<Arc<Device>> = super::DEVICES
        .lock()
        .iter()
        .filter(|d| parts(d).is_some())
        .cloned()
        .collect();
    let mut result = Ok(());
    for dev in devices {
        if let Err(e) = flush(&dev) {
            result = result.and(Err(e));
        }
    }
    result
}

/// Ends the transfer of block device `id` of `module` (the `keel_block_complete` export; any
/// context).
pub fn complete(module: crate::module::ModuleId, id: u32, status: i32) -> Result<(), Errno> {
    let dev = super::find(module, id).ok_or(Errno::ENOENT)?;
    let (_, _, disk) = parts(&dev).ok_or(Errno::EINVAL)?;
    disk.done
        .compare_exchange(
            PENDING,
            status.min(0) as i64,
            Ordering::SeqCst,
            Ordering::SeqCst,
        )
        .map_err(|_| Errno::EINVAL)?;
    disk.waiter.wake_all();
    Ok(())
}

/// Reads the partition table of device `id` and adds a node per partition (in the work thread,
/// after the device registered: reading it calls its driver).
pub fn scan_partitions(id: usize) {
    let Some(dev) = super::DEVICES
        .lock()
        .iter()
        .find(|d| d.id as usize == id)
        .cloned()
    else {
        return;
    };
    let Some((_, geometry, disk)) = parts(&dev) else {
        return;
    };
    let mut first = alloc::vec![0u8; geometry.block_size as usize];
    match io(&dev, None, 0, Io::Read(&mut first)) {
        Ok(n) if n == first.len() => {}
        Ok(_) => return,
        Err(e) => {
            log::warn!(target: "block", "/dev/{}: reading the partition table: {}", dev.name, e.name().unwrap_or("error"));
            return;
        }
    }
    let table = match mbr::parse(&first, geometry.blocks) {
        Ok(table) => table,
        Err(mbr::MbrError::NoSignature) => return,
        Err(e) => {
            log::warn!(target: "block", "/dev/{}: {e}", dev.name);
            return;
        }
    };
    for part in table.iter().flatten() {
        let name = mbr::partition_name(&dev.name, part.number);
        let node = Arc::new(super::DevNode {
            dev: dev.clone(),
            region: Some(part.region),
        });
        if dev.usable().is_err() {
            return;
        }
        match crate::fs::devfs().register(&name, node) {
            Ok(()) => {
                log::info!(target: "dev", "/dev/{name} registered: type {:#04x}, {} blocks from block {}", part.kind, part.region.blocks, part.region.first);
                disk.partitions.lock().push(name);
                if dev.usable().is_err() {
                    // The device went while this node was added: take the nodes away again.
                    remove_partitions(&dev);
                    return;
                }
            }
            Err(e) => log::warn!(target: "dev", "/dev/{name}: {}", e.name().unwrap_or("error")),
        }
    }
}

/// Removes the partition nodes of `dev`.
pub fn remove_partitions(dev: &Device) {
    if let Some((_, _, disk)) = parts(dev) {
        for name in core::mem::take(&mut *disk.partitions.lock()) {
            let _ = crate::fs::devfs().unregister(&name);
        }
    }
}
