//! The periodic tick from the ARM generic timer (EL1 physical timer, CNTP).
//!
//! The frequency is always read from CNTFRQ_EL0 (62.5 MHz under QEMU, 54 MHz on a Pi 4); the
//! interrupt ID comes from the device tree's `arm,armv8-timer` node (non-secure physical timer).

use core::sync::atomic::{AtomicU64, Ordering};

use aarch64_cpu::registers::{
    ReadWriteable, Readable, Writeable, CNTKCTL_EL1, CNTP_CTL_EL0, CNTP_CVAL_EL0,
};
use alloc::boxed::Box;

use crate::arch;
use crate::irq::{self, IrqReturn};

/// Ticks per second.
pub const HZ: u64 = 100;

static TICKS: AtomicU64 = AtomicU64::new(0);
static PERIOD: AtomicU64 = AtomicU64::new(0);

/// Why the tick could not start.
#[derive(Debug)]
pub enum TimerError {
    /// CNTFRQ_EL0 reads 0: the firmware did not program the counter frequency.
    NoFrequency,
    /// The interrupt line could not be registered.
    Irq(irq::IrqError),
}

impl core::fmt::Display for TimerError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TimerError::NoFrequency => write!(
                f,
                "CNTFRQ_EL0 is 0: the firmware did not set the counter frequency"
            ),
            TimerError::Irq(e) => write!(f, "cannot take the timer interrupt: {e}"),
        }
    }
}

/// The physical timer's interrupt ID: the second entry of `arm,armv8-timer` (PPI 14 -> 30).
fn timer_intid() -> u32 {
    crate::dt::find_compatible(&["arm,armv8-timer", "arm,armv7-timer"])
        .and_then(|d| d.irqs().get(1).copied())
        .unwrap_or(30)
}

/// Lets EL0 read the virtual counter (CNTVCT_EL0) and its frequency, as Linux does, so user
/// programs can time themselves without a system call.
fn allow_user_counter() {
    CNTKCTL_EL1.modify(CNTKCTL_EL1::EL0VCTEN::SET);
}

fn arm(deadline: u64) {
    CNTP_CVAL_EL0.set(deadline);
    CNTP_CTL_EL0.write(CNTP_CTL_EL0::ENABLE::SET + CNTP_CTL_EL0::IMASK::CLEAR);
}

/// The timer interrupt: the periodic tick, or earlier when a sleeper's deadline comes first.
fn on_tick(_intid: u32) -> IrqReturn {
    let now = arch::counter();
    crate::kstats::timer_latency(now.saturating_sub(CNTP_CVAL_EL0.get()), now);
    let cpu = crate::sched::this_cpu();
    let due = cpu.next_tick.load(Ordering::Relaxed);
    if now < due {
        // Early: a sleeper's deadline, not a tick.
        crate::sched::wake_sleepers();
        arm_next(due);
        return IrqReturn::Handled;
    }
    if cpu.index == 0 {
        TICKS.fetch_add(1, Ordering::Relaxed);
    }
    crate::sched::wake_sleepers();
    let period = PERIOD.load(Ordering::Relaxed);
    let mut next = due + period;
    if next <= now {
        // Fell behind (a long section with interrupts masked): skip the lost ticks.
        next = now + period;
    }
    cpu.next_tick.store(next, Ordering::Relaxed);
    arm_next(next);
    crate::sched::tick();
    IrqReturn::Handled
}

/// Arms this core's timer for the next tick or the earliest sleeper, whichever comes first.
fn arm_next(tick: u64) {
    let at = crate::sched::earliest_sleeper().map_or(tick, |d| d.min(tick));
    arm(at);
}

/// Makes this core's timer fire no later than `deadline` (a counter value), for a sleeper.
pub fn wake_no_later_than(deadline: u64) {
    let daif = crate::sync::irq_save();
    if deadline < CNTP_CVAL_EL0.get() {
        arm(deadline);
    }
    crate::sync::irq_restore(daif);
}

/// Starts the tick on a secondary core (its timer interrupt is already enabled in the GIC).
pub fn init_secondary() {
    allow_user_counter();
    let first = arch::counter() + PERIOD.load(Ordering::Relaxed);
    crate::sched::this_cpu()
        .next_tick
        .store(first, Ordering::Relaxed);
    arm(first);
}

/// Starts the periodic tick; returns (counter frequency, interrupt ID).
pub fn init() -> Result<(u64, u32), TimerError> {
    let freq = arch::counter_frequency();
    if freq == 0 {
        return Err(TimerError::NoFrequency);
    }
    let period = freq / HZ;
    allow_user_counter();
    PERIOD.store(period, Ordering::Relaxed);
    let intid = timer_intid();
    irq::register(intid, "timer", None, Box::new(on_tick)).map_err(TimerError::Irq)?;
    let first = arch::counter() + period;
    crate::sched::this_cpu()
        .next_tick
        .store(first, Ordering::Relaxed);
    arm(first);
    Ok((freq, intid))
}

/// Ticks since the timer started.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// Nanoseconds since reset, from the generic counter.
pub fn uptime_nanos() -> u64 {
    keel_core::time::ticks_to_nanos(arch::counter(), arch::counter_frequency())
}

/// Busy-waits (interrupts may run) until `ticks()` has advanced by `n` or `timeout_ns` passed;
/// returns the ticks seen.
pub fn wait_ticks(n: u64, timeout_ns: u64) -> u64 {
    let start = ticks();
    let deadline = uptime_nanos() + timeout_ns;
    while ticks() - start < n && uptime_nanos() < deadline {
        core::hint::spin_loop();
    }
    ticks() - start
}
