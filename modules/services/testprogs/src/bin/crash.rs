//! `crash KIND`: faults on purpose, so the kernel's tests can check that it kills the process
//! (status 139) and keeps running. If the fault does not happen, it says so and exits 1.
//!
//! `unaligned-sp` loads through a misaligned stack pointer (a fault only when the kernel enables
//! SP alignment checks, SCTLR_EL1.SA0); if that survives it falls through to `misaligned-pc`.
#![no_std]
#![no_main]

use core::arch::asm;
use keel_user::eprintln;

keel_user::main!(main);

const KINDS: &[&str] = &[
    "kernel-read",
    "kernel-write",
    "null",
    "exec-data",
    "undef",
    "unaligned-sp",
    "misaligned-pc",
    "wild-jump",
    "stack-overflow",
];

const KERNEL_ADDR: u64 = 0xffff_0000_0000_0000;

/// `nop; ret` in writable data: executing it must fault (the page is not executable).
static mut DATA_CODE: [u32; 2] = [0xd503_201f, 0xd65f_03c0];

#[allow(unconditional_recursion)]
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let frame = [depth; 64];
    core::hint::black_box(&frame);
    recurse(depth + 1).wrapping_add(frame[(depth % 64) as usize])
}

fn misaligned_pc() {
    let target = (misaligned_pc as *const () as usize as u64) + 2;
    // SAFETY: deliberately branches to a misaligned address: the CPU raises a PC alignment fault
    // before executing anything there, and the kernel ends the process.
    unsafe { asm!("blr {0}", in(reg) target, clobber_abi("C")) };
}

fn crash(kind: &str) {
    match kind {
        // SAFETY (all arms): each asm block faults on purpose; the kernel must end the process.
        // Should it not, the asm has no other effect on Rust-visible state.
        "kernel-read" => unsafe {
            asm!("ldr {0}, [{1}]", out(reg) _, in(reg) KERNEL_ADDR, options(nostack))
        },
        "kernel-write" => unsafe { asm!("str xzr, [{0}]", in(reg) KERNEL_ADDR, options(nostack)) },
        "null" => unsafe { asm!("ldr {0}, [{1}]", out(reg) _, in(reg) 0u64, options(nostack)) },
        "exec-data" => {
            let target = core::ptr::addr_of!(DATA_CODE) as u64;
            // SAFETY: as above; if the page were executable, `nop; ret` returns harmlessly.
            unsafe { asm!("blr {0}", in(reg) target, clobber_abi("C")) };
        }
        "undef" => unsafe { asm!("udf #0", options(nostack)) },
        "unaligned-sp" => {
            // SAFETY: moves sp 12 bytes down (misaligned), loads through it, and restores it.
            unsafe {
                asm!(
                    "mov {save}, sp",
                    "sub {tmp}, {save}, #16",
                    "orr {tmp}, {tmp}, #4",
                    "mov sp, {tmp}",
                    "ldr {tmp}, [sp]",
                    "mov sp, {save}",
                    save = out(reg) _,
                    tmp = out(reg) _,
                )
            };
            eprintln!("crash: unaligned-sp: no SP alignment fault; trying misaligned-pc");
            misaligned_pc();
        }
        "misaligned-pc" => misaligned_pc(),
        "wild-jump" => unsafe { asm!("blr {0}", in(reg) 0xdead_0000u64, clobber_abi("C")) },
        "stack-overflow" => {
            core::hint::black_box(recurse(0));
        }
        _ => {}
    }
}

fn main(args: keel_user::Args) -> i32 {
    let kind = args.arg(1).unwrap_or("");
    if !KINDS.contains(&kind) {
        eprintln!("usage: crash KIND, with KIND one of: {}", KINDS.join(" "));
        return 2;
    }
    eprintln!("crash: {kind}");
    crash(kind);
    eprintln!("crash: {kind}: survived (the kernel did not stop the process)");
    1
}
