//! Locks that are safe against interrupts on this core as well as against other cores.
//!
//! [`IrqMutex`] masks IRQs on the local core while held, so an interrupt handler that takes the same
//! lock can never deadlock against the code it interrupted; the spin lock inside handles other cores.

use core::ops::{Deref, DerefMut};

use aarch64_cpu::registers::{Readable, Writeable, DAIF};

/// A spin lock that also masks IRQs on the local core while held.
pub struct IrqMutex<T> {
    inner: spin::Mutex<T>,
}

/// Proof that an [`IrqMutex`] is held; unmasks IRQs again (if they were unmasked) when dropped.
pub struct IrqMutexGuard<'a, T> {
    guard: Option<spin::MutexGuard<'a, T>>,
    daif: u64,
}

/// Masks IRQs and FIQs on this core, returning the previous DAIF value.
pub fn irq_save() -> u64 {
    let daif = DAIF.get();
    // SAFETY: setting the I and F mask bits only delays interrupts.
    unsafe { core::arch::asm!("msr daifset, #3", options(nomem, nostack)) };
    daif
}

/// Restores a DAIF value from [`irq_save`].
pub fn irq_restore(daif: u64) {
    DAIF.set(daif);
}

impl<T> IrqMutex<T> {
    /// A new unlocked mutex.
    pub const fn new(value: T) -> Self {
        IrqMutex {
            inner: spin::Mutex::new(value),
        }
    }

    /// Masks IRQs and takes the lock.
    pub fn lock(&self) -> IrqMutexGuard<'_, T> {
        let daif = irq_save();
        IrqMutexGuard {
            guard: Some(self.inner.lock()),
            daif,
        }
    }

    /// Takes the lock on a core whose interrupts are masked already (a system call or an
    /// interrupt handler): the same lock without saving and restoring the mask.
    pub fn lock_masked(&self) -> spin::MutexGuard<'_, T> {
        debug_assert!(
            DAIF.get() & (1 << 7) != 0,
            "lock_masked with interrupts unmasked"
        );
        self.inner.lock()
    }

    /// Takes the lock even if it is held: only for fault and panic reports, which must print even
    /// when they interrupted the holder on this core.
    ///
    /// # Safety
    /// The caller must be on the way to stopping the system (or the interrupted holder must never
    /// touch the data again).
    pub unsafe fn force_lock(&self) -> IrqMutexGuard<'_, T> {
        let daif = irq_save();
        if self.inner.is_locked() {
            // SAFETY: forwarded from the caller.
            unsafe { self.inner.force_unlock() };
        }
        IrqMutexGuard {
            guard: Some(self.inner.lock()),
            daif,
        }
    }
}

impl<T> Deref for IrqMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard.as_ref().expect("guard present until drop")
    }
}

impl<T> DerefMut for IrqMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_mut().expect("guard present until drop")
    }
}

impl<T> Drop for IrqMutexGuard<'_, T> {
    fn drop(&mut self) {
        self.guard = None;
        irq_restore(self.daif);
    }
}
