//! A fixed-capacity set of physical address ranges, usable before any heap exists.
//!
//! Boot code starts from the RAM banks in the device tree and subtracts the kernel image, the
//! device tree blob, the initrd and the reserved-memory entries; what is left seeds the frame
//! allocator. [`RangeSet`] keeps its half-open `[start, end)` ranges sorted, non-overlapping and
//! merged (adjacent ranges are joined), in an inline array of `N` slots.

use core::fmt;

/// Why a [`RangeSet`] operation was refused. A refused operation leaves the set unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeError {
    /// The result would need more ranges than the set can hold.
    Full {
        /// The set's capacity in ranges.
        capacity: usize,
    },
    /// A range ended before it started.
    Inverted {
        /// The given start.
        start: u64,
        /// The given end.
        end: u64,
    },
}

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Full { capacity } => write!(
                f,
                "range set update refused: the result would need more than its {capacity} slots"
            ),
            Self::Inverted { start, end } => write!(
                f,
                "range set update refused: range [{start:#x}, {end:#x}) ends before it starts"
            ),
        }
    }
}

/// A sorted set of disjoint, non-adjacent `[start, end)` ranges with room for `N` of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeSet<const N: usize> {
    /// The ranges; only the first `len` are meaningful.
    ranges: [(u64, u64); N],
    /// Number of ranges in use.
    len: usize,
}

impl<const N: usize> Default for RangeSet<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> RangeSet<N> {
    /// Returns an empty set.
    pub const fn new() -> Self {
        Self {
            ranges: [(0, 0); N],
            len: 0,
        }
    }

    /// Returns the ranges in use, in ascending order.
    fn as_slice(&self) -> &[(u64, u64)] {
        &self.ranges[..self.len]
    }

    /// Returns the number of ranges.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Returns whether the set holds no ranges.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Returns the maximum number of ranges the set can hold.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Returns the ranges in ascending order as `(start, end)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.as_slice().iter().copied()
    }

    /// Returns the number of bytes covered by all ranges.
    pub fn total(&self) -> u64 {
        self.iter().fold(0, |sum, (s, e)| sum.saturating_add(e - s))
    }

    /// Returns whether `addr` lies inside one of the ranges.
    pub fn contains(&self, addr: u64) -> bool {
        let ranges = self.as_slice();
        let idx = ranges.partition_point(|&(_, end)| end <= addr);
        ranges.get(idx).is_some_and(|&(start, _)| start <= addr)
    }

    /// Returns a builder that fills a fresh array, refusing to grow past `N`.
    const fn builder() -> Builder<N> {
        Builder {
            set: Self::new(),
            overflow: false,
        }
    }

    /// Adds `[start, end)`, merging it with every range it overlaps or touches.
    ///
    /// An empty range (`start == end`) is accepted and changes nothing.
    pub fn add(&mut self, start: u64, end: u64) -> Result<(), RangeError> {
        check(start, end)?;
        if start == end {
            return Ok(());
        }
        let mut out = Self::builder();
        let mut pending = Some((start, end));
        for &(s, e) in self.as_slice() {
            match pending {
                Some((ps, _)) if e < ps => out.push(s, e),
                Some((ps, pe)) if s > pe => {
                    out.push(ps, pe);
                    out.push(s, e);
                    pending = None;
                }
                Some((ps, pe)) => pending = Some((ps.min(s), pe.max(e))),
                None => out.push(s, e),
            }
        }
        if let Some((ps, pe)) = pending {
            out.push(ps, pe);
        }
        self.commit(out)
    }

    /// Removes `[start, end)` from the set; a range straddling it is split in two.
    ///
    /// An empty range is accepted and changes nothing.
    pub fn remove(&mut self, start: u64, end: u64) -> Result<(), RangeError> {
        check(start, end)?;
        if start == end {
            return Ok(());
        }
        let mut out = Self::builder();
        for &(s, e) in self.as_slice() {
            if e <= start || s >= end {
                out.push(s, e);
                continue;
            }
            if s < start {
                out.push(s, start);
            }
            if e > end {
                out.push(end, e);
            }
        }
        self.commit(out)
    }

    /// Shrinks every range to multiples of `align` (start rounded up, end rounded down) and
    /// drops the ranges that become empty. Any non-zero alignment works; 0 is treated as 1.
    pub fn align_inward(&mut self, align: u64) {
        let align = align.max(1);
        let mut kept = 0;
        for i in 0..self.len {
            let (s, e) = self.ranges[i];
            let Some(up) = s.div_ceil(align).checked_mul(align) else {
                continue;
            };
            let down = e - e % align;
            if up < down {
                self.ranges[kept] = (up, down);
                kept += 1;
            }
        }
        self.len = kept;
    }

    /// Replaces the set with a builder's result unless the builder overflowed.
    fn commit(&mut self, out: Builder<N>) -> Result<(), RangeError> {
        if out.overflow {
            return Err(RangeError::Full { capacity: N });
        }
        *self = out.set;
        Ok(())
    }
}

/// Checks that `[start, end)` is not inverted.
fn check(start: u64, end: u64) -> Result<(), RangeError> {
    if end < start {
        Err(RangeError::Inverted { start, end })
    } else {
        Ok(())
    }
}

/// Accumulates ranges, in ascending order, into a new set.
struct Builder<const N: usize> {
    /// The set being built.
    set: RangeSet<N>,
    /// Set when a push did not fit.
    overflow: bool,
}

impl<const N: usize> Builder<N> {
    /// Appends `[start, end)`, which must not start before the previous range ends.
    fn push(&mut self, start: u64, end: u64) {
        match self.set.ranges.get_mut(self.set.len) {
            Some(slot) => {
                *slot = (start, end);
                self.set.len += 1;
            }
            None => self.overflow = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect<const N: usize>(set: &RangeSet<N>) -> Vec<(u64, u64)> {
        set.iter().collect()
    }

    #[test]
    fn new_set_is_empty() {
        const SET: RangeSet<4> = RangeSet::new();
        assert!(SET.is_empty());
        assert_eq!(SET.len(), 0);
        assert_eq!(SET.total(), 0);
        assert_eq!(SET.capacity(), 4);
        assert!(!SET.contains(0));
        assert_eq!(RangeSet::<4>::default(), SET);
    }

    #[test]
    fn add_keeps_ranges_sorted() {
        let mut set = RangeSet::<8>::new();
        set.add(0x5000, 0x6000).unwrap();
        set.add(0x1000, 0x2000).unwrap();
        set.add(0x3000, 0x4000).unwrap();
        assert_eq!(
            collect(&set),
            [(0x1000, 0x2000), (0x3000, 0x4000), (0x5000, 0x6000)]
        );
        assert_eq!(set.total(), 0x3000);
    }

    #[test]
    fn add_merges_overlapping_and_adjacent() {
        let mut set = RangeSet::<8>::new();
        set.add(0x1000, 0x2000).unwrap();
        set.add(0x2000, 0x3000).unwrap();
        assert_eq!(collect(&set), [(0x1000, 0x3000)]);
        set.add(0x5000, 0x6000).unwrap();
        set.add(0x8000, 0x9000).unwrap();
        // Bridges three ranges into one.
        set.add(0x2800, 0x8000).unwrap();
        assert_eq!(collect(&set), [(0x1000, 0x9000)]);
        // Fully contained: no change.
        set.add(0x4000, 0x4001).unwrap();
        assert_eq!(collect(&set), [(0x1000, 0x9000)]);
        // Extends at the front.
        set.add(0x0, 0x1000).unwrap();
        assert_eq!(collect(&set), [(0x0, 0x9000)]);
    }

    #[test]
    fn add_empty_and_inverted() {
        let mut set = RangeSet::<2>::new();
        set.add(0x1000, 0x1000).unwrap();
        assert!(set.is_empty());
        assert_eq!(
            set.add(0x2000, 0x1000),
            Err(RangeError::Inverted {
                start: 0x2000,
                end: 0x1000
            })
        );
        assert_eq!(
            set.remove(0x2000, 0x1000),
            Err(RangeError::Inverted {
                start: 0x2000,
                end: 0x1000
            })
        );
    }

    #[test]
    fn add_full_leaves_set_unchanged() {
        let mut set = RangeSet::<2>::new();
        set.add(0x1000, 0x2000).unwrap();
        set.add(0x3000, 0x4000).unwrap();
        let before = set;
        assert_eq!(
            set.add(0x5000, 0x6000),
            Err(RangeError::Full { capacity: 2 })
        );
        assert_eq!(set, before);
        // A merge needs no new slot, so it still works when full.
        set.add(0x2000, 0x3000).unwrap();
        assert_eq!(collect(&set), [(0x1000, 0x4000)]);
    }

    #[test]
    fn zero_capacity_set() {
        let mut set = RangeSet::<0>::new();
        assert_eq!(set.add(0, 1), Err(RangeError::Full { capacity: 0 }));
        set.remove(0, 1).unwrap();
        set.align_inward(4096);
        assert!(set.is_empty());
    }

    #[test]
    fn realistic_ram_carving() {
        let mut ram = RangeSet::<8>::new();
        ram.add(0x4000_0000, 0x8000_0000).unwrap();
        // Kernel image.
        ram.remove(0x4008_0000, 0x4052_3000).unwrap();
        // Device tree blob.
        ram.remove(0x4800_0000, 0x4801_0000).unwrap();
        // Initrd.
        ram.remove(0x4900_0000, 0x4A80_0000).unwrap();
        // Reserved-memory entries: one at the very start, one at the very end.
        ram.remove(0x4000_0000, 0x4000_1000).unwrap();
        ram.remove(0x7F00_0000, 0x8000_0000).unwrap();
        assert_eq!(
            collect(&ram),
            [
                (0x4000_1000, 0x4008_0000),
                (0x4052_3000, 0x4800_0000),
                (0x4801_0000, 0x4900_0000),
                (0x4A80_0000, 0x7F00_0000),
            ]
        );
        let removed = 0x4A_3000 + 0x1_0000 + 0x180_0000 + 0x1000 + 0x100_0000;
        assert_eq!(ram.total(), 0x4000_0000 - removed);
        assert!(ram.contains(0x4000_1000));
        assert!(!ram.contains(0x4000_0FFF));
        assert!(!ram.contains(0x4008_0000));
        assert!(ram.contains(0x4052_3000));
        assert!(!ram.contains(0x7F00_0000));
        assert!(ram.contains(0x7EFF_FFFF));
    }

    #[test]
    fn overlapping_removals() {
        let mut set = RangeSet::<4>::new();
        set.add(0x1000, 0x2000).unwrap();
        set.add(0x3000, 0x4000).unwrap();
        set.add(0x5000, 0x6000).unwrap();
        // Spans the end of the first, all of the second and the start of the third.
        set.remove(0x1800, 0x5800).unwrap();
        assert_eq!(collect(&set), [(0x1000, 0x1800), (0x5800, 0x6000)]);
        // Removing the same thing again is a no-op.
        set.remove(0x1800, 0x5800).unwrap();
        assert_eq!(collect(&set), [(0x1000, 0x1800), (0x5800, 0x6000)]);
        // Covering everything empties the set.
        set.remove(0, u64::MAX).unwrap();
        assert!(set.is_empty());
    }

    #[test]
    fn removal_at_edges() {
        let mut set = RangeSet::<4>::new();
        set.add(0x1000, 0x5000).unwrap();
        set.remove(0x0, 0x1000).unwrap();
        set.remove(0x5000, 0x6000).unwrap();
        assert_eq!(collect(&set), [(0x1000, 0x5000)]);
        set.remove(0x1000, 0x2000).unwrap();
        set.remove(0x4000, 0x5000).unwrap();
        assert_eq!(collect(&set), [(0x2000, 0x4000)]);
        set.remove(0x2000, 0x4000).unwrap();
        assert!(set.is_empty());
        set.remove(0x2000, 0x4000).unwrap();
    }

    #[test]
    fn split_needs_a_free_slot() {
        let mut set = RangeSet::<2>::new();
        set.add(0x1000, 0x9000).unwrap();
        set.add(0xA000, 0xB000).unwrap();
        let before = set;
        assert_eq!(
            set.remove(0x2000, 0x3000),
            Err(RangeError::Full { capacity: 2 })
        );
        assert_eq!(set, before);
        // Trimming an edge never needs a new slot.
        set.remove(0x8000, 0xA800).unwrap();
        assert_eq!(collect(&set), [(0x1000, 0x8000), (0xA800, 0xB000)]);
    }

    #[test]
    fn align_inward_shrinks_and_drops() {
        let mut set = RangeSet::<4>::new();
        set.add(0x1001, 0x3FFF).unwrap();
        set.add(0x5000, 0x5800).unwrap();
        set.add(0x7000, 0x9000).unwrap();
        set.align_inward(0x1000);
        assert_eq!(collect(&set), [(0x2000, 0x3000), (0x7000, 0x9000)]);
        set.add(0x1_0000, 0x1_5000).unwrap();
        set.align_inward(0x2000);
        assert_eq!(collect(&set), [(0x1_0000, 0x1_4000)]);
        // Alignments 0 and 1 change nothing.
        set.align_inward(0);
        set.align_inward(1);
        assert_eq!(collect(&set), [(0x1_0000, 0x1_4000)]);
        // Alignments need not be powers of two.
        let mut odd = RangeSet::<2>::new();
        odd.add(0x1_0000, 0x1_8001).unwrap();
        odd.add(0x2_0000, 0x2_1000).unwrap();
        odd.align_inward(0x3000);
        assert_eq!(collect(&odd), [(0x1_2000, 0x1_8000)]);
    }

    #[test]
    fn align_inward_near_the_top_of_the_address_space() {
        let mut set = RangeSet::<2>::new();
        set.add(u64::MAX - 0x10, u64::MAX).unwrap();
        set.align_inward(0x1000);
        assert!(set.is_empty());
        set.add(0xFFFF_FFFF_FFFF_E000, u64::MAX).unwrap();
        set.align_inward(0x1000);
        assert_eq!(
            collect(&set),
            [(0xFFFF_FFFF_FFFF_E000, 0xFFFF_FFFF_FFFF_F000)]
        );
    }

    #[test]
    fn contains_boundaries() {
        let mut set = RangeSet::<4>::new();
        set.add(10, 20).unwrap();
        set.add(30, 40).unwrap();
        for (addr, inside) in [(9, false), (10, true), (19, true), (20, false), (29, false)] {
            assert_eq!(set.contains(addr), inside, "{addr}");
        }
        assert!(set.contains(39));
        assert!(!set.contains(40));
        assert!(!set.contains(u64::MAX));
    }

    #[test]
    fn total_saturates() {
        let mut set = RangeSet::<2>::new();
        set.add(0, u64::MAX).unwrap();
        assert_eq!(set.total(), u64::MAX);
    }

    #[test]
    fn errors_display_as_sentences() {
        assert_eq!(
            RangeError::Full { capacity: 8 }.to_string(),
            "range set update refused: the result would need more than its 8 slots"
        );
        assert!(RangeError::Inverted { start: 2, end: 1 }
            .to_string()
            .contains("[0x2, 0x1)"));
    }
}
