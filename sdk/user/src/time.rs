//! Time: the monotonic clock.

use crate::raw;
use core::time::Duration;
use keel_abi::syscall;
use keel_abi::types::{KernelStats, CLOCK_MONOTONIC};

/// Nanoseconds since the kernel started (0 if the clock cannot be read).
pub fn monotonic_ns() -> u64 {
    // SAFETY: CLOCK touches no user memory.
    raw::check(unsafe { raw::syscall1(syscall::CLOCK, CLOCK_MONOTONIC) }).unwrap_or(0)
}

/// The generic counter (CNTVCT_EL0), read without a system call: ticks of
/// [`counter_frequency`] per second. On a host target (unit tests) it is 0.
#[inline]
pub fn counter() -> u64 {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    {
        let ticks: u64;
        // SAFETY: the kernel lets EL0 read the virtual counter (CNTKCTL_EL1.EL0VCTEN); the `isb`
        // keeps the read from moving before earlier instructions.
        unsafe {
            core::arch::asm!("isb", "mrs {}, cntvct_el0", out(reg) ticks,
                             options(nomem, nostack, preserves_flags))
        };
        ticks
    }
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    0
}

/// The generic counter's frequency in Hz (CNTFRQ_EL0). On a host target it is 0.
#[inline]
pub fn counter_frequency() -> u64 {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    {
        let hz: u64;
        // SAFETY: CNTFRQ_EL0 is readable at EL0 whenever a counter is.
        unsafe {
            core::arch::asm!("mrs {}, cntfrq_el0", out(reg) hz,
                             options(nomem, nostack, preserves_flags))
        };
        hz & 0xFFFF_FFFF
    }
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    0
}

/// The kernel's own measurements: boot milestones and timer interrupt latency
/// ([`keel_abi::syscall::KSTATS`]).
pub fn kernel_stats() -> crate::Result<KernelStats> {
    let mut s = KernelStats::default();
    // SAFETY: the kernel writes one `KernelStats` into `s`, a local we own.
    raw::check(unsafe { raw::syscall1(syscall::KSTATS, &mut s as *mut KernelStats as u64) })?;
    Ok(s)
}

/// Time since the kernel started.
pub fn uptime() -> Duration {
    Duration::from_nanos(monotonic_ns())
}

/// A point on the monotonic clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// Now.
    pub fn now() -> Instant {
        Instant(monotonic_ns())
    }

    /// Nanoseconds since the kernel started.
    pub fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time from `earlier` to `self` (zero if `earlier` is later).
    pub fn duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// Time since `self`.
    pub fn elapsed(self) -> Duration {
        Instant::now().duration_since(self)
    }
}

impl core::ops::Add<Duration> for Instant {
    type Output = Instant;

    fn add(self, d: Duration) -> Instant {
        Instant(
            self.0
                .saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        )
    }
}

pub use crate::process::sleep;
