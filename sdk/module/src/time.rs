//! Time: the kernel's monotonic clock and busy-wait delays.

use core::time::Duration;

use crate::sys;

/// Time since boot, from the kernel's monotonic clock.
///
/// ```ignore
/// let start = keel_module::time::now();
/// // ... wait for the device ...
/// if keel_module::time::now() - start > core::time::Duration::from_millis(10) {
///     return Err(keel_module::Error::TimedOut);
/// }
/// ```
pub fn now() -> Duration {
    // SAFETY: `keel_time_ns` has no preconditions.
    Duration::from_nanos(unsafe { sys::keel_time_ns() })
}

/// Busy-waits at least `duration` (saturating at about 584 years); usable in IRQ handlers.
///
/// ```ignore
/// keel_module::time::delay(core::time::Duration::from_micros(150)); // GPIO pull-up settle time
/// ```
pub fn delay(duration: Duration) {
    let ns = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    // SAFETY: `keel_delay_ns` has no preconditions.
    unsafe { sys::keel_delay_ns(ns) }
}
