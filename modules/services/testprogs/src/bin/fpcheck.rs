//! `fpcheck [ROUNDS] [SEED]`: proves that FP/SIMD registers survive context switches.
//!
//! It fills all 32 vector registers and FPCR with a pattern derived from SEED, then, ROUNDS
//! times, yields the CPU (and spins a little, so the timer preempts it too) and checks that every
//! register still holds its pattern. Several copies with different seeds running at once on the
//! same cores would see each other's values if the kernel did not switch FP/SIMD state.
#![no_std]
#![no_main]

use keel_user::{println, process};

keel_user::main!(main);

/// Fills v0..v31 with `seed + i` in both halves and sets FPCR's rounding mode from the seed.
fn fill(seed: u64) {
    for i in 0..32u64 {
        let value = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(i);
        set(i as usize, value);
    }
    let fpcr = (seed & 3) << 22;
    // SAFETY: writing FPCR's rounding-mode field only changes how this program rounds.
    unsafe { core::arch::asm!("msr fpcr, {}", in(reg) fpcr) };
}

/// Writes `value` into both 64-bit lanes of vector register `index`.
fn set(index: usize, value: u64) {
    macro_rules! write_v {
        ($($n:literal),*) => {
            match index {
                // SAFETY: writes one vector register, which nothing else in this loop uses.
                $($n => unsafe { core::arch::asm!(concat!("dup v", $n, ".2d, {}"), in(reg) value) },)*
                _ => {}
            }
        };
    }
    write_v!(
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
        25, 26, 27, 28, 29, 30, 31
    );
}

/// Reads both lanes of vector register `index`.
fn get(index: usize) -> (u64, u64) {
    let (mut lo, mut hi) = (0u64, 0u64);
    macro_rules! read_v {
        ($($n:literal),*) => {
            match index {
                // SAFETY: reads one vector register.
                $($n => unsafe {
                    core::arch::asm!(concat!("mov {}, v", $n, ".d[0]"), out(reg) lo);
                    core::arch::asm!(concat!("mov {}, v", $n, ".d[1]"), out(reg) hi);
                },)*
                _ => {}
            }
        };
    }
    read_v!(
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
        25, 26, 27, 28, 29, 30, 31
    );
    (lo, hi)
}

fn main(args: keel_user::Args) -> i32 {
    let rounds: u64 = args.arg(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let seed: u64 = args.arg(2).and_then(|a| a.parse().ok()).unwrap_or(1);
    fill(seed);
    for round in 0..rounds {
        process::yield_now();
        for _ in 0..20_000 {
            core::hint::spin_loop();
        }
        let fpcr: u64;
        // SAFETY: reads FPCR.
        unsafe { core::arch::asm!("mrs {}, fpcr", out(reg) fpcr) };
        for i in 0..32 {
            let want = seed
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .wrapping_add(i as u64);
            let (lo, hi) = get(i);
            if lo != want || hi != want || (fpcr >> 22) & 3 != seed & 3 {
                println!("fpcheck {seed}: v{i} changed in round {round}: {lo:#x} {hi:#x}, want {want:#x}");
                return 1;
            }
        }
    }
    println!("fpcheck {seed}: {rounds} rounds, registers intact");
    0
}
