//! [`Work`]: a bottom half, run later in the kernel's work thread.
//!
//! An interrupt handler (the top half) does the least it can: acknowledge the device, move data
//! to or from a buffer, then [`Work::schedule`] the rest. The kernel runs the work function in
//! its work thread, in thread context with interrupts enabled, one item at a time. Scheduling an
//! item that is queued and has not started yet does nothing, so a burst of interrupts runs it
//! once.
//!
//! ```ignore
//! let work = alloc::sync::Arc::new(keel_module::Work::new(|| log::info!("bottom half"))?);
//! let top = work.clone();
//! let irq = keel_module::IrqRegistration::new(line, move || {
//!     // acknowledge the device ...
//!     let _ = top.schedule();
//!     keel_module::IrqReturn::Handled
//! })?;
//! ```

use alloc::boxed::Box;
use core::ffi::c_void;

use crate::{rt, sys, Error, Result};

/// A work function the kernel's work thread runs on request; dropping it cancels a pending run
/// and waits for a running one to finish.
pub struct Work {
    function: unsafe extern "C" fn(*mut c_void),
    context: *mut c_void,
    free: unsafe fn(*mut c_void),
}

/// Calls the work function `F` stored at `context`.
///
/// # Safety
/// `context` must come from `Box::<F>::into_raw` and the box must still be alive.
unsafe extern "C" fn trampoline<F: Fn()>(context: *mut c_void) {
    // SAFETY: the kernel passes back the context scheduled with this trampoline, a live `Box<F>`
    // (freed only after `keel_work_cancel` returned).
    let work = unsafe { &*context.cast::<F>() };
    work();
}

/// Frees the work function `F` stored at `context`.
///
/// # Safety
/// `context` must come from `Box::<F>::into_raw` and must not be used afterwards.
unsafe fn free<F>(context: *mut c_void) {
    // SAFETY: guaranteed by the caller.
    drop(unsafe { Box::from_raw(context.cast::<F>()) });
}

impl Work {
    /// A work item that runs `function` each time it is scheduled. It must not block.
    pub fn new<F>(function: F) -> Result<Work>
    where
        F: Fn() + Send + Sync + 'static,
    {
        Ok(Work {
            function: trampoline::<F>,
            context: Box::into_raw(Box::new(function)).cast::<c_void>(),
            free: free::<F>,
        })
    }

    /// Queues the work to run once in the kernel's work thread. Callable from an interrupt
    /// handler. Errors: [`Error::NoMemory`] when the kernel's queue is full.
    pub fn schedule(&self) -> Result {
        // SAFETY: `function` matches `context`, which lives until `drop` has cancelled the item.
        Error::check(unsafe { sys::keel_work_schedule(rt::handle(), self.function, self.context) })
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        // SAFETY: the pair was scheduled (or not) by `schedule`; cancelling an unknown pair is
        // harmless.
        unsafe { sys::keel_work_cancel(rt::handle(), self.function, self.context) };
        // SAFETY: the kernel no longer queues or runs the item, and this is the only owner.
        unsafe { (self.free)(self.context) }
    }
}

// SAFETY: the function is `Send + Sync` (required by `new`); the rest are plain values.
unsafe impl Send for Work {}
// SAFETY: as for `Send`; `schedule` only passes the pointers to the kernel.
unsafe impl Sync for Work {}
