//! [`Mmio`]: a mapped block of device registers, unmapped on drop.

use core::marker::PhantomData;
use core::ops::Deref;

use crate::{rt, sys, Error};

/// A device's register block of type `T` (usually made by `tock_registers::register_structs!`),
/// mapped from physical address `phys` for as long as the value lives.
///
/// The kernel maps device memory only (never normal RAM) as device-nGnRE and non-executable, and
/// releases every mapping of a module that is unloaded or fails.
///
/// ```ignore
/// use keel_module::tock_registers::{register_structs, registers::ReadWrite, interfaces::Readable};
///
/// register_structs! {
///     Pl011Registers {
///         (0x00 => dr: ReadWrite<u32>),
///         (0x04 => @END),
///     }
/// }
///
/// let uart = keel_module::Mmio::<Pl011Registers>::map(0x0900_0000, 0x1000)?;
/// let byte = uart.dr.get();
/// ```
pub struct Mmio<T> {
    virt: usize,
    size: usize,
    registers: PhantomData<T>,
}

impl<T> Mmio<T> {
    /// Maps `size` bytes of device memory at `phys` and views its start as a `T`.
    ///
    /// Fails with [`Error::InvalidArgument`] if `size` is smaller than `T` or the mapping is not
    /// aligned for `T`, or with the kernel's error (`EINVAL` for a range that is not device
    /// memory, `ENOMEM`).
    pub fn map(phys: u64, size: usize) -> Result<Self, Error> {
        if size < core::mem::size_of::<T>() {
            return Err(Error::InvalidArgument);
        }
        let mut virt = 0usize;
        // SAFETY: `virt` is valid for writes during the call.
        let status = unsafe { sys::keel_mmio_map(rt::handle(), phys, size, &mut virt) };
        Error::check(status)?;
        let mapping = Mmio {
            virt,
            size,
            registers: PhantomData,
        };
        if virt == 0 || !virt.is_multiple_of(core::mem::align_of::<T>()) {
            // Dropping `mapping` unmaps it again.
            return Err(Error::InvalidArgument);
        }
        Ok(mapping)
    }

    /// The virtual address the registers are mapped at.
    pub fn virt(&self) -> usize {
        self.virt
    }

    /// The size of the mapping in bytes.
    pub fn size(&self) -> usize {
        self.size
    }
}

impl<T> Deref for Mmio<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: `map` checked that the mapping is non-null, aligned for `T` and at least
        // `size_of::<T>()` bytes long; it stays mapped until `self` is dropped. Register types
        // access the memory only through volatile reads and writes of their cells.
        unsafe { &*(self.virt as *const T) }
    }
}

impl<T> Drop for Mmio<T> {
    fn drop(&mut self) {
        // SAFETY: this mapping was made by `keel_mmio_map` with this size and no reference into it
        // outlives `self`. A failure means the kernel already released it: nothing left to do.
        let _ = unsafe { sys::keel_mmio_unmap(rt::handle(), self.virt, self.size) };
    }
}

// SAFETY: `Mmio` maps device memory only (the kernel refuses RAM), and the register types it
// is made for (`tock_registers`) touch that memory only through single volatile reads and writes
// of their cells, which device memory makes atomic per access; they are `!Sync` only because
// they hold an `UnsafeCell`. Sharing a register block between cores and an interrupt handler is
// therefore sound; a read-modify-write that must not interleave is the driver's to lock.
unsafe impl<T> Sync for Mmio<T> {}
// SAFETY: as for `Sync`; the mapping is not tied to a core.
unsafe impl<T> Send for Mmio<T> {}
