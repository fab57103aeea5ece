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

/// Whether IRQs are masked on this core.
pub fn irqs_masked() -> bool {
    DAIF.is_set(DAIF::I)
}

/// Restores a DAIF value from [`irq_save`].
pub fn irq_restore(daif: u64) {
    DAIF.set(daif);
}

/// Lets the interrupts pending on this core run, then masks them as they were.
///
/// A system call runs with interrupts masked from its entry to its return (or until it sleeps);
/// long work in one, such as a 64 KiB console write, calls this between bounded steps, so that
/// the timer and the devices wait for one step at most, not for the whole call. Call it only
/// where the caller could as well sleep: with no [`IrqMutex`] held, nor any other lock an
/// interrupt handler takes. The handlers run on this thread's stack and never switch threads.
pub fn interrupt_window() {
    let daif = DAIF.get();
    // SAFETY: unmasking only lets pending interrupts in, whose handlers take no lock the caller
    // holds (the rule above); the ISB makes the unmasked state take effect, so a pending
    // interrupt is taken before the mask is set again. No `nomem`: the handlers write memory.
    unsafe {
        core::arch::asm!(
            "msr daifclr, #3",
            "isb",
            "msr daifset, #3",
            options(nostack)
        )
    };
    irq_restore(daif);
}

/// Runs `f` with interrupts unmasked on this core, then masks them as they were: for long work
/// in a system call that the kernel also runs with interrupts enabled elsewhere (loading a module
/// and running its `init`, which the boot does too). The rule of [`interrupt_window`] holds for
/// the whole of `f`.
pub fn with_interrupts<R>(f: impl FnOnce() -> R) -> R {
    let daif = DAIF.get();
    // SAFETY: as in `interrupt_window`; `f` runs as it would in a kernel thread.
    unsafe { core::arch::asm!("msr daifclr, #3", options(nostack)) };
    let result = f();
    irq_restore(daif);
    result
}

/// Waits, with interrupts masked, until one is pending on this core, then lets it run
/// ([`interrupt_window`]; the same rule applies). A condition checked with interrupts masked, then
/// this, cannot miss the interrupt that changes it: that interrupt stays pending and ends the wait.
pub fn wait_for_interrupt_window() {
    let daif = irq_save();
    crate::arch::wait_for_interrupt();
    irq_restore(daif);
    interrupt_window();
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
