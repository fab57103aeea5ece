//! Exception entry: the 16 EL1 vectors (`vectors.s`) and their dispatch.
//!
//! IRQs go to the interrupt dispatcher; every other exception the kernel does not expect is a
//! fault: it gets a report (see [`crate::fault`]) and the system stops.

use core::sync::atomic::{AtomicU64, Ordering};

use keel_core::esr::{Esr, ExceptionClass};

core::arch::global_asm!(
    include_str!("vectors.s"),
    SYS_CALL = const keel_abi::syscall::CALL,
    SYS_REPLY_RECV = const keel_abi::syscall::REPLY_RECV,
);

/// The registers of the interrupted context, as `vectors.s` saves them.
#[repr(C)]
#[derive(Clone, Debug)]
pub struct TrapFrame {
    /// x0 to x30.
    pub x: [u64; 31],
    /// The interrupted stack pointer.
    pub sp: u64,
    /// Where the exception was taken (ELR_EL1).
    pub elr: u64,
    /// The interrupted PSTATE (SPSR_EL1).
    pub spsr: u64,
    /// Syndrome (ESR_EL1).
    pub esr: u64,
    /// Fault address (FAR_EL1).
    pub far: u64,
}

const _: () = assert!(core::mem::size_of::<TrapFrame>() == 36 * 8);

/// Which of the 16 vectors was taken, plus the overflow flag set by the stack check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VectorKind(pub u64);

impl VectorKind {
    /// The exception type within its group.
    pub fn kind(self) -> &'static str {
        ["Synchronous", "IRQ", "FIQ", "SError"][(self.0 & 3) as usize]
    }

    /// Where the exception came from.
    pub fn origin(self) -> &'static str {
        [
            "EL1 using SP_EL0",
            "EL1 using SP_EL1",
            "EL0 (AArch64)",
            "EL0 (AArch32)",
        ][((self.0 >> 2) & 3) as usize]
    }

    /// The entry found the kernel stack pointer in a guard page.
    pub fn stack_overflow(self) -> bool {
        self.0 & 0x100 != 0
    }

    fn index(self) -> u64 {
        self.0 & 0xf
    }
}

/// Breakpoints that in-kernel tests raised and the kernel stepped over.
static BREAKPOINTS_STEPPED: AtomicU64 = AtomicU64::new(0);
/// The `BRK` immediate kernel tests use to check an exception round trip.
pub const TEST_BRK_IMM: u64 = 0x4b45;

/// Number of test breakpoints taken and resumed so far.
#[cfg(feature = "qemu-test")]
pub fn breakpoints_stepped() -> u64 {
    BREAKPOINTS_STEPPED.load(Ordering::Relaxed)
}

/// Called by `vectors.s` for every exception taken to EL1.
#[no_mangle]
extern "C" fn trap_entry(frame: &mut TrapFrame, kind: u64) {
    let kind = VectorKind(kind);
    if kind.stack_overflow() {
        crate::fault::report(
            frame,
            kind,
            Some("kernel stack overflow (stack pointer in the guard page)"),
        );
    }
    match kind.index() {
        1 | 5 => crate::irq::dispatch(),
        9 | 13 => {
            crate::irq::dispatch();
            crate::proc::return_to_user();
        }
        8 => {
            let esr = Esr(frame.esr);
            // The exception class compared as a number: `class()` is a full table lookup.
            if esr.ec() == ExceptionClass::Svc64.code() {
                crate::syscall::dispatch(frame);
            } else if esr.ec() == ExceptionClass::FpAsimdAccess.code() {
                crate::sched::fp_trap();
            } else {
                let what = alloc::format!("{esr}");
                crate::proc::fault_current(frame, &what);
            }
            crate::proc::return_to_user();
        }
        12 | 14 | 15 => {
            crate::proc::fault_current(frame, "AArch32 execution is not supported");
        }
        4 => {
            let esr = Esr(frame.esr);
            if esr.class() == ExceptionClass::Brk64 && (esr.iss() as u64 & 0xffff) == TEST_BRK_IMM {
                BREAKPOINTS_STEPPED.fetch_add(1, Ordering::Relaxed);
                frame.elr += 4;
                return;
            }
            // A fault in module code (or in a call it made) fails the module, not the kernel.
            if crate::module::contain::on_kernel_fault(frame) {
                return;
            }
            crate::fault::report(frame, kind, None)
        }
        _ => crate::fault::report(frame, kind, None),
    }
}
