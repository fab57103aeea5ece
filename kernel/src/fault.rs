//! Fault reports: what the kernel prints when an exception it cannot handle stops it.
//!
//! The report names the exception (class decoded from ESR), the fault address, where it happened
//! with the function's name from the embedded symbol table, every register, and a backtrace that
//! follows the frame-pointer chain. Test builds then leave QEMU with the FAULT status; normal builds
//! stop the core.

use core::fmt::Write;

use keel_boot::layout::Sections;
use keel_core::esr::Esr;
use keel_core::symbols;

use crate::arch::exceptions::{TrapFrame, VectorKind};
use crate::console::Writer;

/// Deepest backtrace printed.
const MAX_FRAMES: usize = 24;

/// The embedded symbol table (`.ksyms`), as xtask patched it into the image.
fn symbol_table() -> &'static [u8] {
    let s = Sections::current();
    // SAFETY: `.ksyms` is part of the image's read-only mapping for the kernel's lifetime.
    unsafe {
        core::slice::from_raw_parts(
            s.ksyms_start as *const u8,
            (s.ksyms_end - s.ksyms_start) as usize,
        )
    }
}

/// Writes `addr` and, when the symbol table knows it, `name+0xoffset`.
pub fn write_symbolized(w: &mut impl Write, addr: u64) -> core::fmt::Result {
    write!(w, "{addr:#018x}")?;
    if let Ok(Some(sym)) = symbols::lookup(symbol_table(), addr) {
        write!(w, " {}+{:#x}", sym.name, sym.offset)?;
    }
    Ok(())
}

/// Whether `va` can be read by the kernel right now (address translation, no access).
pub fn is_readable(va: u64) -> bool {
    let par: u64;
    // SAFETY: AT only asks the MMU for a translation; PAR_EL1 receives the answer.
    unsafe {
        core::arch::asm!("at s1e1r, {va}", "isb", "mrs {par}, par_el1", va = in(reg) va, par = out(reg) par);
    }
    par & 1 == 0
}

/// Prints the frame-pointer backtrace starting at the record `fp`.
pub fn write_backtrace(w: &mut impl Write, first_pc: u64, mut fp: u64) -> core::fmt::Result {
    writeln!(w, "backtrace:")?;
    write!(w, "  #0  ")?;
    write_symbolized(w, first_pc)?;
    writeln!(w)?;
    for depth in 1..MAX_FRAMES {
        if fp == 0 || !fp.is_multiple_of(16) || !is_readable(fp) || !is_readable(fp + 8) {
            break;
        }
        // SAFETY: both words of the frame record were just checked to be mapped and readable.
        let (next, lr) = unsafe { (*(fp as *const u64), *((fp + 8) as *const u64)) };
        if lr == 0 {
            break;
        }
        write!(w, "  #{depth:<2} ")?;
        // The return address points after the call; show the call itself.
        write_symbolized(w, lr.wrapping_sub(4))?;
        writeln!(w)?;
        if next <= fp {
            break;
        }
        fp = next;
    }
    Ok(())
}

fn write_report(
    w: &mut impl Write,
    frame: &TrapFrame,
    kind: VectorKind,
    why: Option<&str>,
) -> core::fmt::Result {
    let esr = Esr(frame.esr);
    writeln!(w, "\n------------[ kernel fault ]------------")?;
    writeln!(w, "{} exception from {}", kind.kind(), kind.origin())?;
    if let Some(why) = why {
        writeln!(w, "cause: {why}")?;
    }
    writeln!(w, "{esr}")?;
    writeln!(
        w,
        "  FAR  {:#018x}{}",
        frame.far,
        if esr.far_valid() { "" } else { " (not valid)" }
    )?;
    write!(w, "  ELR  ")?;
    write_symbolized(w, frame.elr)?;
    writeln!(w)?;
    writeln!(w, "  SPSR {:#018x}  SP   {:#018x}", frame.spsr, frame.sp)?;
    for row in 0..8 {
        for col in 0..4 {
            let i = row * 4 + col;
            if i < 31 {
                write!(w, "  x{i:<2} {:#018x}", frame.x[i])?;
            }
        }
        writeln!(w)?;
    }
    write_backtrace(w, frame.elr, frame.x[29])?;
    writeln!(w, "----------------------------------------")
}

/// Prints the report for an exception the kernel cannot handle, then stops.
pub fn report(frame: &TrapFrame, kind: VectorKind, why: Option<&str>) -> ! {
    let mut w = Writer { emergency: true };
    let _ = write_report(&mut w, frame, kind, why);
    stop(keel_abi::test_exit::FAULT)
}

/// Ends the kernel after a report: test builds leave QEMU with `status`, normal builds halt.
pub fn stop(status: u8) -> ! {
    crate::console::flush();
    #[cfg(feature = "qemu-test")]
    crate::arch::semihosting::exit(status);
    #[cfg(not(feature = "qemu-test"))]
    {
        let _ = status;
        let _ = writeln!(Writer { emergency: true }, "system halted");
        crate::arch::halt()
    }
}
