//! A bitmap allocator of small integer ids: address space ids (ASIDs), process ids.
//!
//! [`IdAllocator`] hands out ids `0..WORDS * 64` (or fewer, see [`IdAllocator::limit`]) round
//! robin: each search starts just after the id handed out last, so a freed id is reused only
//! after every other free id has had its turn. For ASIDs this postpones TLB invalidation, for
//! pids it keeps a stale pid from naming a new process soon after. Ids can be reserved so they
//! are never handed out (ASID 0 for the kernel, pid 0).

/// Bits per bitmap word.
const BITS: usize = u64::BITS as usize;

/// A set of used ids in `0..WORDS * 64`, allocating round robin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdAllocator<const WORDS: usize> {
    /// Bit `id % 64` of word `id / 64` is set when `id` is in use.
    bits: [u64; WORDS],
    /// Ids from here on are never handed out (at most the capacity).
    limit: usize,
    /// Where the next search starts: one past the id handed out last.
    next: usize,
    /// Number of ids in use.
    used: usize,
}

impl<const WORDS: usize> Default for IdAllocator<WORDS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const WORDS: usize> IdAllocator<WORDS> {
    /// Returns an allocator with every id free.
    pub const fn new() -> Self {
        Self {
            bits: [0; WORDS],
            limit: Self::capacity(),
            next: 0,
            used: 0,
        }
    }

    /// Returns the number of ids the bitmap covers, `WORDS * 64`.
    pub const fn capacity() -> usize {
        WORDS.saturating_mul(BITS)
    }

    /// Returns the word index and bit mask of `id`, or `None` if it is past the bitmap.
    fn locate(id: usize) -> Option<(usize, u64)> {
        (id < Self::capacity()).then(|| (id / BITS, 1 << (id % BITS)))
    }

    /// Returns whether `id` is in use (ids past the bitmap are not).
    pub fn is_used(&self, id: usize) -> bool {
        Self::locate(id).is_some_and(|(w, mask)| self.bits[w] & mask != 0)
    }

    /// Marks `id` used without handing it out; ids past the bitmap are ignored.
    pub fn reserve(&mut self, id: usize) {
        if let Some((w, mask)) = Self::locate(id) {
            if self.bits[w] & mask == 0 {
                self.bits[w] |= mask;
                self.used += 1;
            }
        }
    }

    /// Never hands out ids at or above `max_id_exclusive` from now on (for a CPU with 8-bit
    /// ASIDs, `limit(256)`). Ids in use above the limit stay in use until freed.
    pub fn limit(&mut self, max_id_exclusive: usize) {
        self.limit = max_id_exclusive.min(Self::capacity());
    }

    /// Returns the lowest free id in `[from, to)`.
    fn find_free(&self, from: usize, to: usize) -> Option<usize> {
        let mut id = from;
        while id < to {
            let w = id / BITS;
            let free = !*self.bits.get(w)? & (!0u64 << (id % BITS));
            if free != 0 {
                let found = w * BITS + free.trailing_zeros() as usize;
                return (found < to).then_some(found);
            }
            id = (w + 1) * BITS;
        }
        None
    }

    /// Hands out the first free id after the one handed out last (wrapping to 0 at the
    /// limit), or `None` if every id below the limit is in use.
    pub fn alloc(&mut self) -> Option<usize> {
        let start = if self.next < self.limit { self.next } else { 0 };
        let id = self
            .find_free(start, self.limit)
            .or_else(|| self.find_free(0, start))?;
        self.reserve(id);
        self.next = id + 1;
        Some(id)
    }

    /// Frees `id`; returns `false` (and changes nothing) if it was not in use.
    pub fn free(&mut self, id: usize) -> bool {
        match Self::locate(id) {
            Some((w, mask)) if self.bits[w] & mask != 0 => {
                self.bits[w] &= !mask;
                self.used -= 1;
                true
            }
            _ => false,
        }
    }

    /// Returns the number of ids in use, reserved ones included.
    pub fn in_use(&self) -> usize {
        self.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin() {
        let mut ids = IdAllocator::<1>::new();
        assert_eq!(IdAllocator::<1>::capacity(), 64);
        assert_eq!(ids.alloc(), Some(0));
        assert_eq!(ids.alloc(), Some(1));
        assert_eq!(ids.alloc(), Some(2));
        assert!(ids.free(1));
        // 1 is free again, but is not reused at once.
        assert_eq!(ids.alloc(), Some(3));
        assert!(ids.free(0));
        assert_eq!(ids.in_use(), 2);
        let rest: Vec<_> = (0..60).map(|_| ids.alloc().unwrap()).collect();
        assert_eq!(rest, (4..64).collect::<Vec<_>>());
        // Wrapped: the freed ids, lowest first.
        assert_eq!(ids.alloc(), Some(0));
        assert_eq!(ids.alloc(), Some(1));
        assert_eq!(ids.alloc(), None);
        assert_eq!(ids.in_use(), 64);
        // Freeing in the middle of a full set: the search goes on from the last one handed out.
        ids.free(40);
        ids.free(10);
        assert_eq!(ids.alloc(), Some(10));
        assert_eq!(ids.alloc(), Some(40));
        assert_eq!(ids.alloc(), None);
    }

    #[test]
    fn reserve_and_free() {
        let mut ids = IdAllocator::<2>::new();
        ids.reserve(0);
        ids.reserve(0);
        ids.reserve(1000); // past the bitmap: ignored
        assert_eq!(ids.in_use(), 1);
        assert!(ids.is_used(0));
        assert!(!ids.is_used(1000));
        assert_eq!(ids.alloc(), Some(1));
        assert!(!ids.free(5));
        assert!(!ids.free(usize::MAX));
        assert!(ids.free(1));
        assert!(!ids.free(1));
        assert_eq!(ids.in_use(), 1);
        // Reserving does not move the round-robin position.
        ids.reserve(2);
        assert_eq!(ids.alloc(), Some(3));
    }

    #[test]
    fn crosses_words() {
        let mut ids = IdAllocator::<3>::new();
        for id in 0..64 {
            ids.reserve(id);
        }
        ids.reserve(65);
        assert_eq!(ids.alloc(), Some(64));
        assert_eq!(ids.alloc(), Some(66));
        for id in 67..192 {
            ids.reserve(id);
        }
        assert_eq!(ids.alloc(), None);
        ids.free(63);
        assert_eq!(ids.alloc(), Some(63));
        ids.free(191);
        assert_eq!(ids.alloc(), Some(191));
        assert_eq!(ids.in_use(), 192);
    }

    #[test]
    fn limit() {
        // 8-bit ASIDs with ASID 0 reserved for the kernel.
        let mut ids = IdAllocator::<4>::new();
        ids.reserve(0);
        ids.limit(8);
        let got: Vec<_> = (0..7).map(|_| ids.alloc().unwrap()).collect();
        assert_eq!(got, [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(ids.alloc(), None);
        ids.free(4);
        assert_eq!(ids.alloc(), Some(4));
        assert_eq!(ids.alloc(), None);
        // Raising the limit continues after the last id handed out.
        ids.limit(10);
        assert_eq!(ids.alloc(), Some(8));
        assert_eq!(ids.alloc(), Some(9));
        assert_eq!(ids.alloc(), None);
        // Lowering it below ids in use: they stay in use and can be freed, never handed out.
        ids.limit(5);
        assert!(ids.is_used(9));
        ids.free(2);
        ids.free(9);
        assert_eq!(ids.alloc(), Some(2));
        assert_eq!(ids.alloc(), None);
        // A limit past the bitmap is the bitmap's size; 0 hands out nothing.
        ids.limit(usize::MAX);
        assert_eq!(ids.alloc(), Some(9));
        ids.limit(0);
        assert_eq!(ids.alloc(), None);
    }

    #[test]
    fn empty_bitmap() {
        static IDS: IdAllocator<0> = IdAllocator::new();
        let mut ids = IDS.clone();
        assert_eq!(ids.alloc(), None);
        ids.reserve(0);
        assert!(!ids.free(0));
        assert_eq!(ids.in_use(), 0);
    }

    #[test]
    fn matches_a_simple_model() {
        // The model: a Vec<bool> and a linear search from the last id handed out.
        let mut x: u64 = 0x853c_49e6_748f_ea9b;
        let mut rng = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut ids = IdAllocator::<3>::new();
        let mut used = [false; 192];
        let mut next = 0;
        let mut limit = 192;
        for step in 0..20_000 {
            match rng() % 10 {
                0..=4 => {
                    let start = if next < limit { next } else { 0 };
                    let want = (start..limit).chain(0..start).find(|&i| !used[i]);
                    assert_eq!(ids.alloc(), want, "step {step}");
                    if let Some(i) = want {
                        used[i] = true;
                        next = i + 1;
                    }
                }
                5..=8 => {
                    let id = (rng() % 200) as usize;
                    let was = id < 192 && used[id];
                    assert_eq!(ids.free(id), was, "step {step}");
                    if was {
                        used[id] = false;
                    }
                }
                _ => {
                    if rng() % 4 == 0 {
                        limit = (rng() % 200) as usize;
                        ids.limit(limit);
                        limit = limit.min(192);
                    } else {
                        let id = (rng() % 200) as usize;
                        ids.reserve(id);
                        if id < 192 {
                            used[id] = true;
                        }
                    }
                }
            }
            assert_eq!(ids.in_use(), used.iter().filter(|&&u| u).count());
        }
    }
}
