//! Time: the monotonic clock.

use crate::raw;
use core::time::Duration;
use keel_abi::syscall;
use keel_abi::types::CLOCK_MONOTONIC;

/// Nanoseconds since the kernel started (0 if the clock cannot be read).
pub fn monotonic_ns() -> u64 {
    // SAFETY: CLOCK touches no user memory.
    raw::check(unsafe { raw::syscall1(syscall::CLOCK, CLOCK_MONOTONIC) }).unwrap_or(0)
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
