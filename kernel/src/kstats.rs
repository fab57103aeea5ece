//! The kernel's own measurements, for `cargo xtask bench` ([`keel_abi::syscall::KSTATS`]): when
//! the first process started, when the shell first waited at its prompt, and how late the timer
//! interrupt reaches its handler (and when and where the longest wait ended). Each is a few
//! relaxed atomic operations, cheap enough to stay on.

use core::sync::atomic::{AtomicU64, Ordering};

use aarch64_cpu::registers::{Readable, ELR_EL1};

use keel_abi::types::{KernelStats, TIMER_LATENCY_RECENT};

use crate::arch;

static INIT_ENTERED: AtomicU64 = AtomicU64::new(0);
static CONSOLE_WAITED: AtomicU64 = AtomicU64::new(0);
static TIMER_IRQS: AtomicU64 = AtomicU64::new(0);
static TIMER_SUM: AtomicU64 = AtomicU64::new(0);
static TIMER_MIN: AtomicU64 = AtomicU64::new(u64::MAX);
static TIMER_MAX: AtomicU64 = AtomicU64::new(0);
static TIMER_MAX_AT: AtomicU64 = AtomicU64::new(0);
static TIMER_MAX_PC: AtomicU64 = AtomicU64::new(0);
static TIMER_RECENT: [AtomicU64; TIMER_LATENCY_RECENT] =
    [const { AtomicU64::new(0) }; TIMER_LATENCY_RECENT];

/// Records the first call only: the counter now, into `moment`.
fn first(moment: &AtomicU64) {
    if moment.load(Ordering::Relaxed) == 0 {
        let _ = moment.compare_exchange(0, arch::counter(), Ordering::Relaxed, Ordering::Relaxed);
    }
}

/// A user thread is about to drop to EL0 for the first time; `pid` 1 is `init`.
pub fn user_entered(pid: u32) {
    if pid == 1 {
        first(&INIT_ENTERED);
    }
}

/// A reader found the console tty empty (it will wait for input).
pub fn console_waited() {
    first(&CONSOLE_WAITED);
}

/// The timer interrupt's handler runs `latency` counter ticks after its deadline, at counter
/// `now`. A new longest latency also records `now` and where the interrupt was taken (on several
/// cores, two maxima set at once may mix their moment and place).
pub fn timer_latency(latency: u64, now: u64) {
    let n = TIMER_IRQS.fetch_add(1, Ordering::Relaxed);
    TIMER_SUM.fetch_add(latency, Ordering::Relaxed);
    TIMER_MIN.fetch_min(latency, Ordering::Relaxed);
    if TIMER_MAX.fetch_max(latency, Ordering::Relaxed) < latency {
        TIMER_MAX_AT.store(now, Ordering::Relaxed);
        // The interrupt's exception return address: the handler runs in the dispatcher of the
        // IRQ exception, which takes no other exception before this.
        TIMER_MAX_PC.store(ELR_EL1.get(), Ordering::Relaxed);
    }
    TIMER_RECENT[(n % TIMER_LATENCY_RECENT as u64) as usize].store(latency, Ordering::Relaxed);
}

/// Everything measured so far.
pub fn snapshot() -> KernelStats {
    let irqs = TIMER_IRQS.load(Ordering::Relaxed);
    KernelStats {
        counter_hz: arch::counter_frequency(),
        init_entered: INIT_ENTERED.load(Ordering::Relaxed),
        console_waited: CONSOLE_WAITED.load(Ordering::Relaxed),
        timer_irqs: irqs,
        timer_latency_sum: TIMER_SUM.load(Ordering::Relaxed),
        timer_latency_min: if irqs == 0 {
            0
        } else {
            TIMER_MIN.load(Ordering::Relaxed)
        },
        timer_latency_max: TIMER_MAX.load(Ordering::Relaxed),
        timer_latency_max_at: TIMER_MAX_AT.load(Ordering::Relaxed),
        timer_latency_max_pc: TIMER_MAX_PC.load(Ordering::Relaxed),
        timer_latency_recent: core::array::from_fn(|i| TIMER_RECENT[i].load(Ordering::Relaxed)),
    }
}
