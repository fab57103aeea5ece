//! [`IrqMutex`]: a spin lock that masks interrupts on this core while held, for state an
//! interrupt handler shares with code that runs with interrupts enabled (a driver's ring buffers).
//!
//! A plain spin lock deadlocks when the interrupt handler that wants it interrupts the holder on
//! the same core; masking interrupts first rules that out. Critical sections must be short and
//! must not call anything that blocks.
//!
//! ```ignore
//! static RX: keel_module::sync::IrqMutex<Ring> = keel_module::sync::IrqMutex::new(Ring::new());
//! RX.lock().push(byte); // in the handler and in thread context alike
//! ```

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

/// A spin lock taken with this core's IRQs masked.
pub struct IrqMutex<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock gives one holder at a time access to `value`, which is `Send`.
unsafe impl<T: Send> Sync for IrqMutex<T> {}
// SAFETY: as for `Sync`.
unsafe impl<T: Send> Send for IrqMutex<T> {}

/// Holds an [`IrqMutex`]; dropping it unlocks and restores the interrupt mask.
pub struct IrqMutexGuard<'a, T> {
    mutex: &'a IrqMutex<T>,
    daif: u64,
}

/// Masks IRQs on this core; returns the previous mask state for [`irq_restore`].
fn irq_save() -> u64 {
    #[cfg(target_arch = "aarch64")]
    {
        let daif: u64;
        // SAFETY: reads DAIF and sets the I bit; modules run at EL1, where both are allowed.
        unsafe {
            core::arch::asm!("mrs {}, daif", "msr daifset, #2", out(reg) daif, options(nostack))
        };
        daif
    }
    #[cfg(not(target_arch = "aarch64"))]
    0
}

/// Restores the mask state [`irq_save`] returned.
fn irq_restore(daif: u64) {
    #[cfg(target_arch = "aarch64")]
    // SAFETY: writes back the DAIF value read by `irq_save` on this core.
    unsafe {
        core::arch::asm!("msr daif, {}", in(reg) daif, options(nostack))
    };
    #[cfg(not(target_arch = "aarch64"))]
    let _ = daif;
}

impl<T> IrqMutex<T> {
    /// A lock around `value`.
    pub const fn new(value: T) -> Self {
        IrqMutex {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Masks IRQs on this core and spins until the lock is free.
    pub fn lock(&self) -> IrqMutexGuard<'_, T> {
        let daif = irq_save();
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        IrqMutexGuard { mutex: self, daif }
    }
}

impl<T> Deref for IrqMutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T> DerefMut for IrqMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock, and `&mut self` makes this the only reference.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T> Drop for IrqMutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.locked.store(false, Ordering::Release);
        irq_restore(self.daif);
    }
}
