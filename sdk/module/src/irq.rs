//! [`IrqRegistration`]: an interrupt handler installed for as long as the value lives.

use alloc::boxed::Box;
use core::ffi::c_void;

use keel_abi::module::irq_return;

use crate::{rt, sys, Error};

/// What an interrupt handler says about the interrupt (Linux's `irqreturn_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqReturn {
    /// The interrupt did not come from this handler's device.
    None,
    /// The handler serviced the interrupt.
    Handled,
}

/// An interrupt handler registered with the kernel; dropping it unregisters the handler, and once
/// the drop returns the handler no longer runs on any core.
///
/// The handler runs in IRQ context (the top half): it must be short, must not block, and should
/// only acknowledge the device and move data.
///
/// ```ignore
/// let irq = keel_module::IrqRegistration::new(33, move || {
///     // acknowledge the device ...
///     keel_module::IrqReturn::Handled
/// })?;
/// // keep `irq` in the driver's state; dropping it unregisters the handler
/// ```
pub struct IrqRegistration {
    line: u32,
    context: *mut c_void,
    free: unsafe fn(*mut c_void),
}

/// Calls the handler `F` stored at `context`.
///
/// # Safety
/// `context` must come from `Box::<F>::into_raw` and the box must still be alive.
unsafe extern "C" fn trampoline<F: Fn() -> IrqReturn>(context: *mut c_void) -> u32 {
    // SAFETY: the kernel passes back the context registered with this trampoline, a live `Box<F>`
    // (it is freed only after `keel_irq_unregister` returned).
    let handler = unsafe { &*context.cast::<F>() };
    match handler() {
        IrqReturn::None => irq_return::NONE,
        IrqReturn::Handled => irq_return::HANDLED,
    }
}

/// Frees the handler `F` stored at `context`.
///
/// # Safety
/// `context` must come from `Box::<F>::into_raw` and must not be used afterwards.
unsafe fn free<F>(context: *mut c_void) {
    // SAFETY: guaranteed by the caller.
    drop(unsafe { Box::from_raw(context.cast::<F>()) });
}

impl IrqRegistration {
    /// Registers `handler` for interrupt `line` (the GIC INTID) and enables the line.
    ///
    /// Fails with the kernel's error: [`Error::Busy`] if the line has a handler already,
    /// [`Error::InvalidArgument`] if there is no such line, [`Error::NoMemory`].
    pub fn new<F>(line: u32, handler: F) -> Result<Self, Error>
    where
        F: Fn() -> IrqReturn + Send + Sync + 'static,
    {
        Self::register(line, handler, false)
    }

    /// Registers `handler` for interrupt `line` shared with other devices: the line may carry
    /// other shared handlers already, and each runs on every interrupt, so the handler must
    /// return [`IrqReturn::None`] when its device did not interrupt.
    ///
    /// Fails with [`Error::Busy`] if the line has a handler that is not shared, otherwise as
    /// [`IrqRegistration::new`].
    pub fn shared<F>(line: u32, handler: F) -> Result<Self, Error>
    where
        F: Fn() -> IrqReturn + Send + Sync + 'static,
    {
        Self::register(line, handler, true)
    }

    fn register<F>(line: u32, handler: F, shared: bool) -> Result<Self, Error>
    where
        F: Fn() -> IrqReturn + Send + Sync + 'static,
    {
        let context = Box::into_raw(Box::new(handler)).cast::<c_void>();
        // SAFETY: `trampoline::<F>` matches what `context` points to, and the box lives until
        // after `keel_irq_unregister` (in `drop`) or is freed right here if registering fails.
        let status = unsafe {
            if shared {
                sys::keel_irq_register_shared(rt::handle(), line, trampoline::<F>, context)
            } else {
                sys::keel_irq_register(rt::handle(), line, trampoline::<F>, context)
            }
        };
        if let Err(error) = Error::check(status) {
            // SAFETY: the kernel refused the handler, so nothing else refers to `context`.
            unsafe { free::<F>(context) };
            return Err(error);
        }
        Ok(IrqRegistration {
            line,
            context,
            free: free::<F>,
        })
    }

    /// The interrupt line.
    pub fn line(&self) -> u32 {
        self.line
    }
}

impl Drop for IrqRegistration {
    fn drop(&mut self) {
        // SAFETY: `line` and `context` name the registration made in `new`.
        let status = unsafe { sys::keel_irq_unregister(rt::handle(), self.line, self.context) };
        match Error::check(status) {
            // Unregistered now, or already removed by the kernel: the handler cannot run again.
            Ok(()) | Err(Error::NotFound) => {
                // SAFETY: the kernel no longer refers to `context`, and this is its only owner.
                unsafe { (self.free)(self.context) }
            }
            // Unsure whether the handler may still run: leak it rather than free it under it.
            Err(_) => {}
        }
    }
}

// SAFETY: the handler is `Send + Sync` (required by `new`); the rest are plain values.
unsafe impl Send for IrqRegistration {}
// SAFETY: as for `Send`; no method mutates through `&self`.
unsafe impl Sync for IrqRegistration {}

/// A lock shared by a driver's interrupt handler and its thread-context code: it masks
/// interrupts on the local core while held (so the handler cannot interrupt its holder on the same
/// core and spin forever) and spins against other cores.
///
/// ```ignore
/// static STATE: keel_module::irq::IrqLock<u32> = keel_module::irq::IrqLock::new(0);
/// *STATE.lock() += 1; // in the handler and in `read` alike
/// ```
pub struct IrqLock<T> {
    held: core::sync::atomic::AtomicBool,
    value: core::cell::UnsafeCell<T>,
}

// SAFETY: the value is reached only through a guard, and `held` admits one guard at a time.
unsafe impl<T: Send> Sync for IrqLock<T> {}

/// Access to an [`IrqLock`]'s value; dropping it unlocks and restores the interrupt mask.
pub struct IrqLockGuard<'a, T> {
    lock: &'a IrqLock<T>,
    mask: u64,
}

/// Masks IRQs on this core; returns the previous mask to give [`restore_irqs`].
fn mask_irqs() -> u64 {
    #[cfg(target_arch = "aarch64")]
    {
        let daif: u64;
        // SAFETY: reads DAIF and sets the I bit: only this core's interrupt mask changes.
        unsafe {
            core::arch::asm!("mrs {0}, daif", "msr daifset, #2", out(reg) daif, options(nomem, nostack))
        };
        daif
    }
    #[cfg(not(target_arch = "aarch64"))]
    0
}

/// Restores the interrupt mask [`mask_irqs`] returned.
fn restore_irqs(daif: u64) {
    #[cfg(target_arch = "aarch64")]
    // SAFETY: writes back the DAIF value read before on this core.
    unsafe {
        core::arch::asm!("msr daif, {0}", in(reg) daif, options(nomem, nostack))
    };
    #[cfg(not(target_arch = "aarch64"))]
    let _ = daif;
}

impl<T> IrqLock<T> {
    /// A free lock around `value`.
    pub const fn new(value: T) -> IrqLock<T> {
        IrqLock {
            held: core::sync::atomic::AtomicBool::new(false),
            value: core::cell::UnsafeCell::new(value),
        }
    }

    /// Masks interrupts on this core and takes the lock.
    pub fn lock(&self) -> IrqLockGuard<'_, T> {
        use core::sync::atomic::Ordering;
        let mask = mask_irqs();
        while self
            .held
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        IrqLockGuard { lock: self, mask }
    }
}

impl<T> core::ops::Deref for IrqLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard is the lock's only holder.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> core::ops::DerefMut for IrqLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard is the lock's only holder.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for IrqLockGuard<'_, T> {
    fn drop(&mut self) {
        self.lock
            .held
            .store(false, core::sync::atomic::Ordering::Release);
        restore_irqs(self.mask);
    }
}
