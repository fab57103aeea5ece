//! The pure logic of `bench`, testable on the host: counter ticks to nanoseconds, the summary of
//! a series of timed batches, the samples of the kernel's latency ring, and the `BENCH` line
//! that `cargo xtask bench` reads from the console.
//!
//! A line is `BENCH NAME VALUE UNIT ITERATIONS MIN MEDIAN`: `VALUE` is the mean over all
//! `ITERATIONS` operations, `MIN` and `MEDIAN` are taken over the per-operation figures of the
//! batches (a batch is timed as a whole, because the counter ticks only every few nanoseconds).
#![cfg_attr(not(test), no_std)]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

/// What starts every line `cargo xtask bench` reads.
pub const TAG: &str = "BENCH";
/// The line printed after the last figure.
pub const END: &str = "BENCH-END";

/// `ticks` of a counter running at `hz`, divided by `ops`, in nanoseconds, rounded to nearest.
pub fn ns_per_op(ticks: u64, hz: u64, ops: u64) -> u64 {
    let den = u128::from(hz) * u128::from(ops.max(1));
    if den == 0 {
        return 0;
    }
    let num = u128::from(ticks) * 1_000_000_000;
    u64::try_from((num + den / 2) / den).unwrap_or(u64::MAX)
}

/// One figure: the mean, how many operations it covers, and the fastest and median batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The mean per operation.
    pub value: u64,
    /// Operations measured (warm-up not included).
    pub iterations: u64,
    /// The fastest batch, per operation.
    pub min: u64,
    /// The median batch, per operation (the lower middle one of an even count).
    pub median: u64,
}

impl Summary {
    /// A figure measured once (a size, a moment of the boot).
    pub fn single(value: u64) -> Summary {
        Summary {
            value,
            iterations: 1,
            min: value,
            median: value,
        }
    }

    /// Summarises batches of `ops_per_batch` operations each, `batch_ticks` counter ticks each
    /// at `hz`. `None` without batches.
    pub fn of_batches(batch_ticks: &[u64], ops_per_batch: u64, hz: u64) -> Option<Summary> {
        if batch_ticks.is_empty() {
            return None;
        }
        let total: u64 = batch_ticks.iter().sum();
        let batches = batch_ticks.len() as u64;
        let mut sorted: Vec<u64> = batch_ticks.to_vec();
        sorted.sort_unstable();
        Some(Summary {
            value: ns_per_op(total, hz, batches * ops_per_batch),
            iterations: batches * ops_per_batch,
            min: ns_per_op(sorted[0], hz, ops_per_batch),
            median: ns_per_op(sorted[(sorted.len() - 1) / 2], hz, ops_per_batch),
        })
    }
}

/// The samples numbered `from..to` of a ring that holds sample `n` at `n % ring.len()`: only
/// the latest `ring.len()` of them are still there.
pub fn ring_samples(ring: &[u64], from: u64, to: u64) -> Vec<u64> {
    let len = ring.len() as u64;
    if len == 0 {
        return Vec::new();
    }
    let start = from.max(to.saturating_sub(len));
    (start..to).map(|n| ring[(n % len) as usize]).collect()
}

/// The console line for one figure.
pub fn line(name: &str, unit: &str, s: &Summary) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "{TAG} {name} {} {unit} {} {} {}",
        s.value, s.iterations, s.min, s.median
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_become_rounded_nanoseconds() {
        // 62.5 MHz: 16 ns per tick.
        assert_eq!(ns_per_op(1, 62_500_000, 1), 16);
        assert_eq!(ns_per_op(1000, 62_500_000, 1000), 16);
        assert_eq!(ns_per_op(1000, 62_500_000, 3), 5333);
        // 54 MHz: 18.518... ns per tick.
        assert_eq!(ns_per_op(54, 54_000_000, 1), 1000);
        assert_eq!(ns_per_op(1, 54_000_000, 1), 19);
        assert_eq!(ns_per_op(5, 0, 1), 0);
        assert_eq!(ns_per_op(5, 1_000_000_000, 0), 5);
    }

    #[test]
    fn batches_give_mean_min_and_median() {
        let s = Summary::of_batches(&[40, 10, 30, 20], 10, 1_000_000_000).unwrap();
        assert_eq!(
            s,
            Summary {
                value: 3, // 100 ns over 40 operations, rounded
                iterations: 40,
                min: 1,
                median: 2,
            }
        );
        assert_eq!(Summary::of_batches(&[], 10, 1), None);
        assert_eq!(
            Summary::of_batches(&[7], 1, 1_000_000_000),
            Some(Summary::single(7))
        );
    }

    #[test]
    fn the_ring_gives_what_it_still_holds() {
        let ring = [8, 9, 2, 3, 4, 5, 6, 7]; // samples 0..10: 8 and 9 overwrote 0 and 1
        assert_eq!(ring_samples(&ring, 3, 6), [3, 4, 5]);
        assert_eq!(ring_samples(&ring, 0, 10), [2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(ring_samples(&ring, 9, 9), [] as [u64; 0]);
        assert_eq!(ring_samples(&[], 0, 5), [] as [u64; 0]);
    }

    #[test]
    fn the_line_has_seven_fields() {
        let s = Summary {
            value: 120,
            iterations: 20000,
            min: 118,
            median: 119,
        };
        assert_eq!(
            line("null_syscall", "ns", &s),
            "BENCH null_syscall 120 ns 20000 118 119"
        );
    }
}
