//! Fault containment: the one entry path into module code.
//!
//! Every call into a module (its `init` and `exit`, its IRQ handlers, its work functions and
//! its device operations) goes through [`call`]. It records a *recovery point* — the callee-saved registers,
//! the stack pointer and the return address, like `setjmp` — in a [`Recovery`] on the caller's
//! stack and links it into this core's chain, then calls the module. If the module faults (the
//! exception entry asks [`on_kernel_fault`]) or panics ([`abort_current`], reached from
//! `keel_module_panic`), the kernel prints an oops naming the module and the function, marks the
//! recovery point and resumes at it, so [`call`] returns `Err` to its caller instead of the
//! kernel stopping. The stack between the recovery point and the fault is abandoned.
//!
//! The chain is per core: the kernel is not preempted and module code never blocks, so a call
//! starts and ends on the same core; an IRQ handler's call nests inside the interrupted one.

use core::sync::atomic::{AtomicPtr, Ordering};

use keel_core::esr::Esr;

use crate::arch::exceptions::TrapFrame;
use crate::sched::MAX_CPUS;

use super::ModuleId;

core::arch::global_asm!(
    r#"
// keel_contained_call(rec: *mut Recovery, f: usize, args: *const [u64; 4]) -> u64
// Saves x19-x30 and sp into rec (offsets 0..104), calls f(args[0], .., args[3]) and returns its x0.
.section .text.keel_contained_call, "ax"
.balign 4
.global keel_contained_call
keel_contained_call:
    stp     x19, x20, [x0, #0]
    stp     x21, x22, [x0, #16]
    stp     x23, x24, [x0, #32]
    stp     x25, x26, [x0, #48]
    stp     x27, x28, [x0, #64]
    stp     x29, x30, [x0, #80]
    mov     x9, sp
    str     x9, [x0, #96]
    mov     x19, x0
    mov     x9, x1
    mov     x10, x2
    ldp     x0, x1, [x10]
    ldp     x2, x3, [x10, #16]
    blr     x9
    // x19 survived the call (callee-saved); restore it and the return address.
    mov     x1, x19
    ldr     x19, [x1, #0]
    ldr     x30, [x1, #88]
    ret

// keel_contained_resume(rec: *mut Recovery, value: u64) -> !
// Returns from the keel_contained_call that saved rec, with value, on the stack it ran on.
.global keel_contained_resume
keel_contained_resume:
    ldp     x19, x20, [x0, #0]
    ldp     x21, x22, [x0, #16]
    ldp     x23, x24, [x0, #32]
    ldp     x25, x26, [x0, #48]
    ldp     x27, x28, [x0, #64]
    ldp     x29, x30, [x0, #80]
    ldr     x9, [x0, #96]
    mov     sp, x9
    mov     x0, x1
    ret
"#
);

extern "C" {
    fn keel_contained_call(rec: *mut Recovery, f: usize, args: *const [u64; 4]) -> u64;
    fn keel_contained_resume(rec: *mut Recovery, value: u64) -> !;
}

/// How a contained call ended, when it did not return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// A synchronous exception (data abort, undefined instruction, ...) in the module.
    Fault,
    /// The module called `keel_module_panic`.
    Panic,
}

/// A recovery point: the registers `keel_contained_call` saves, and the chain link.
#[repr(C)]
pub struct Recovery {
    /// x19..x30 and sp, in that order (the assembly's offsets).
    regs: [u64; 13],
    /// The recovery point this one nests in, on the same core.
    prev: *mut Recovery,
    /// The module being called.
    module: ModuleId,
    /// 0 while running; 1 + [`Failure`] once the kernel resumed here.
    failed: u64,
}

/// The innermost recovery point of each core.
static CURRENT: [AtomicPtr<Recovery>; MAX_CPUS] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_CPUS];

fn slot() -> &'static AtomicPtr<Recovery> {
    &CURRENT[crate::sched::this_cpu().index % MAX_CPUS]
}

/// Calls the module function at `f` with one argument (`extern "C" fn(usize) -> u64`-shaped:
/// `init(handle)`, `exit()`, `handler(context)`) for `module`, contained: `Ok` with the raw `x0`
/// it returned, or `Err` if it faulted or panicked (the oops is already printed; the caller marks
/// the module failed).
pub fn call(module: ModuleId, f: usize, arg: usize) -> Result<u64, Failure> {
    call4(module, f, [arg as u64, 0, 0, 0])
}

/// Like [`call`], for a module function of up to four integer or pointer arguments (device
/// operations: `op(context, a, b, c)`); unused arguments are passed as 0.
pub fn call4(module: ModuleId, f: usize, args: [u64; 4]) -> Result<u64, Failure> {
    let mut rec = Recovery {
        regs: [0; 13],
        prev: core::ptr::null_mut(),
        module,
        failed: 0,
    };
    let slot = slot();
    rec.prev = slot.load(Ordering::Acquire);
    let rec_ptr: *mut Recovery = &mut rec;
    slot.store(rec_ptr, Ordering::Release);
    // SAFETY: `f` is a function in a loaded module's text, taking at most four integer arguments
    // and following AAPCS64 (the loader checked it lies in the module's text); the assembly
    // saves every callee-saved register and the stack pointer in `rec`, which lives until the
    // call returns, either normally or through `keel_contained_resume`, which restores them.
    let value = unsafe { keel_contained_call(rec_ptr, f, &args) };
    // SAFETY: `rec_ptr` points at `rec`, still alive; the fault path may have written `failed`
    // behind the compiler's back, so read it from memory.
    let (failed, prev) = unsafe {
        (
            core::ptr::read_volatile(&(*rec_ptr).failed),
            (*rec_ptr).prev,
        )
    };
    slot.store(prev, Ordering::Release);
    match failed {
        0 => Ok(value),
        1 => Err(Failure::Fault),
        _ => Err(Failure::Panic),
    }
}

/// The module whose code this core is running (the innermost contained call), if any.
pub fn current_module() -> Option<ModuleId> {
    let rec = slot().load(Ordering::Acquire);
    // SAFETY: a non-null slot points at a live `Recovery` on this core's stack: `call` removes it
    // before its frame goes away.
    unsafe { rec.as_ref() }.map(|r| r.module)
}

/// Ends the innermost contained call on this core as failed by a panic: when one is running this
/// does not return. It returns (so the caller can stop the kernel) only if none is.
pub fn abort_current() {
    let rec = slot().load(Ordering::Acquire);
    if rec.is_null() {
        return;
    }
    // SAFETY: `rec` is the live innermost recovery point of this core (see `current_module`);
    // resuming there discards the module's frames, which are below it on this stack.
    unsafe {
        core::ptr::write_volatile(&mut (*rec).failed, 2);
        keel_contained_resume(rec, 0)
    }
}

/// Called by the exception entry for a synchronous exception taken at EL1. If a contained call
/// is running on this core, prints the oops, redirects `frame` to resume at its recovery point
/// and returns true; otherwise (a kernel fault) returns false and the caller reports and stops.
///
/// Runs in exception context: it allocates nothing and takes only the module table's lock.
pub fn on_kernel_fault(frame: &mut TrapFrame) -> bool {
    let rec = slot().load(Ordering::Acquire);
    // SAFETY: see `current_module`.
    let Some(rec_ref) = (unsafe { rec.as_mut() }) else {
        super::with_module_at(frame.elr, |name, place| {
            log::error!(target: "module", "oops: module {name} faulted in {place} outside a contained call: cannot recover");
        });
        return false;
    };
    let esr = Esr(frame.esr);
    let class = esr.class().name();
    let access = match (esr.class().is_data_abort(), esr.is_write()) {
        (true, true) => ", write",
        (true, false) => ", read",
        _ => "",
    };
    let cause = Cause { esr, access };
    let named = super::with_module_at(frame.elr, |name, place| {
        log::error!(target: "module", "oops: module {name} faulted in {place}: {class} ({cause}) at {:#x}", frame.far);
    });
    if named.is_none() {
        super::with_name(rec_ref.module, |name| {
            log::error!(target: "module",
                "oops: module {name} made the kernel fault at {:#x}: {class} ({cause}) at {:#x}, in a kernel function it called",
                frame.elr, frame.far);
        });
    }
    log::error!(target: "module", "  ELR {:#018x}  FAR {:#018x}  SP {:#018x}  LR {:#018x}",
        frame.elr, frame.far, frame.sp, frame.x[30]);
    super::with_module_at(frame.x[30].wrapping_sub(4), |_, place| {
        log::error!(target: "module", "  called from {place}");
    });
    rec_ref.failed = 1;
    frame.elr = keel_contained_resume as *const () as u64;
    frame.x[0] = rec as u64;
    frame.x[1] = 0;
    true
}

/// The fault status of an exception, as the oops prints it: `translation fault, level 0, read`.
struct Cause {
    esr: Esr,
    access: &'static str,
}

impl core::fmt::Display for Cause {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.esr.fault_status() {
            Some(status) => write!(f, "{status}{}", self.access),
            None => write!(f, "ESR {:#010x}", self.esr.0),
        }
    }
}
